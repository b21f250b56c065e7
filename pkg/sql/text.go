package sql

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxClientText is the most bytes of one piece of client-supplied text
// (a User-Agent, an address, a name that is no role's) the store keeps.
const MaxClientText = 256

// storable returns s as text that a TEXT column and JSONB always accept,
// so that no client input can make a write fail: invalid UTF-8, NUL (which
// PostgreSQL refuses in text) and other control characters (which would
// reach terminals reading the audit trail) each become U+FFFD, and the
// result is cut to MaxClientText bytes on a character boundary.
func storable(s string) string {
	if printable(s) && len(s) <= MaxClientText {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		// Invalid bytes arrive as utf8.RuneError, which is U+FFFD.
		if unicode.IsControl(r) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > MaxClientText {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// printable reports whether s is valid UTF-8 without control characters
// (NUL, tab, newline, ESC, DEL and the C1 codes), the text storable keeps
// as it is.
func printable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// CheckText checks text a caller gives to be recorded or looked for, such
// as a revocation's reason: printable, so that nothing reaches the audit
// trail that storable would have to change, and no longer than it keeps.
// The error says what is accepted.
func CheckText(v string) error {
	switch {
	case !printable(v):
		return errors.New("want printable text, without control characters such as tab, newline or ESC")
	case len(v) > MaxClientText:
		return fmt.Errorf("%d bytes long; want at most %d", len(v), MaxClientText)
	}
	return nil
}

// storableAudit is a with every client-supplied field made storable.
func storableAudit(a AuditInfo) AuditInfo {
	a.Actor, a.ClientHost = storable(a.Actor), storable(a.ClientHost)
	a.ClientAddr, a.UserAgent = storable(a.ClientAddr), storable(a.UserAgent)
	return a
}

// clientIP is addr as the client_ip column holds it: the address in
// canonical form, or nil (NULL) when addr is not an IP address, such as
// the empty address of a CLI login.
func clientIP(addr string) *string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil
	}
	text := ip.Unmap().WithZone("").String()
	return &text
}
