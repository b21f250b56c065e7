package auth

import (
	"errors"
	"net/http"
	"strings"
)

// A session value found where someone kept it: a leaked cookie is rarely
// the bare value. It is what login printed, a header copied from a
// browser's developer tools or a proxy's log, or a line of a cookie jar.

// ErrNoSessionValue means a text presents no session value.
var ErrNoSessionValue = errors.New("no session cookie found")

// ErrSeveralSessionValues means a text presents more than one session
// value, and so does not say which one is meant.
var ErrSeveralSessionValues = errors.New("more than one session cookie found")

// ValueFromText returns the one session value text presents, in any of the
// forms a cookie is kept or passed around in: the bare value; the line
// login --only-cookie prints (session=VALUE; Path=/; HttpOnly), or any
// Cookie header's value; a header line (Cookie:, Set-Cookie:,
// X-Auth-Session: or Authorization: Bearer), read as the middleware reads
// a request's; a line of a Netscape cookie file, as curl and wget keep
// them, or the whole file. Blank lines, comments and the other cookies or
// headers are skipped. Every line that presents a session must present the
// same value (a jar written by login names it once per host), or it is
// ErrSeveralSessionValues; none is ErrNoSessionValue. The value is not
// decoded (DecodeValue does that), and the errors never hold the text.
func ValueFromText(text string) (string, error) {
	found := ""
	for _, line := range strings.Split(text, "\n") {
		values := valuesOfLine(strings.TrimSpace(line))
		for _, v := range values {
			if v == "" {
				continue
			}
			if found != "" && v != found {
				return "", ErrSeveralSessionValues
			}
			found = v
		}
	}
	if found == "" {
		return "", ErrNoSessionValue
	}
	return found, nil
}

// valuesOfLine returns the session values one line presents.
func valuesOfLine(line string) []string {
	// curl writes an HttpOnly cookie with this prefix, on a line that
	// would otherwise be a comment.
	line = strings.TrimPrefix(line, "#HttpOnly_")
	switch {
	case line == "" || strings.HasPrefix(line, "#"):
		return nil
	case strings.Count(line, "\t") == 6:
		// A cookie file's line: domain, subdomains, path, secure,
		// expiry, name, value.
		fields := strings.Split(line, "\t")
		if fields[5] == CookieName {
			return []string{strings.TrimSpace(fields[6])}
		}
		return nil
	}
	if name, value, ok := headerLine(line); ok {
		if http.CanonicalHeaderKey(name) == "Set-Cookie" {
			if c, err := http.ParseSetCookie(value); err == nil && c.Name == CookieName {
				return []string{c.Value}
			}
			return nil
		}
		r := &http.Request{Header: http.Header{}}
		r.Header.Set(name, value)
		values, _ := presented(r)
		return values
	}
	// The value of a Cookie header, such as the line login prints.
	r := &http.Request{Header: http.Header{"Cookie": {line}}}
	if values, source := presented(r); source == SourceCookie {
		return values
	}
	// The bare value: base64 holds no space, ';' or ':', and '=' only
	// as its final padding.
	if !strings.ContainsAny(strings.TrimRight(line, "="), " \t;:=") {
		return []string{line}
	}
	return nil
}

// headerLine splits "Name: value" when Name is a header's name: letters,
// digits and hyphens. A bare value (base64) holds no colon, and the value
// of a Cookie header has none before its first '='.
func headerLine(line string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(line, ":")
	if !ok || name == "" {
		return "", "", false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return "", "", false
		}
	}
	return name, strings.TrimSpace(value), true
}

// PresentedSecretMatches reports whether secret is that of a session found
// with the stored hash hashed. A session not found (found false) takes the
// same path, its presented secret hashed and compared in constant time with
// a stand-in hash of the stored size, and does not match: an unknown id
// and a wrong secret cost the same, so neither the answer nor its timing
// tells a caller which ids exist.
func PresentedSecretMatches(secret, hashed []byte, found bool) bool {
	return SecretMatches(secret, storedHash(hashed, found)) && found
}

// storedHash is the hash a presented secret is compared with: the
// session's, or unknownSessionHash when its id is unknown.
func storedHash(hashed []byte, found bool) []byte {
	if !found {
		return unknownSessionHash[:]
	}
	return hashed
}
