package cli

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Every parser of a command-line value either accepts it as typed or
// refuses it with a usage error that quotes it.
func wantUsageErrorQuoting(t *testing.T, err error, value string) {
	t.Helper()
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), strconv.Quote(value)) {
		t.Fatalf("refusing %q: %v (exit %d); want a usage error quoting the value", value, err, ExitCode(err))
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"1h", "4h30m", "7d", " 1h", "+1h", "1.5h", "0", "-5m", "9999999999w", "1w2d3h4m5s", "µs", "1e3s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		d, err := parseDuration("expire-after", value, time.Second)
		if err != nil {
			wantUsageErrorQuoting(t, err, value)
			return
		}
		if d < time.Second || value != strings.TrimSpace(value) || strings.HasPrefix(value, "+") {
			t.Fatalf("accepted %q as %v", value, d)
		}
	})
}

func FuzzParseSessionID(f *testing.F) {
	for _, s := range []string{"915681813374959618", "-1", "+5", " 5", "0", "9223372036854775808", "0x10", "007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		id, err := parseSessionID(arg)
		if err != nil {
			wantUsageErrorQuoting(t, err, arg)
			return
		}
		if id <= 0 || strings.Trim(arg, "0123456789") != "" {
			t.Fatalf("accepted %q as %d", arg, id)
		}
	})
}

func FuzzParseRoleName(f *testing.F) {
	for _, s := range []string{"web_user", "Web_User", `"MixedCase"`, `" web_user"`, `"a""b"`, " x", "x\t", `"`, `""`, `"a"b"`, "a\x00b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		name, err := parseRoleName("USERNAME", arg)
		if err != nil {
			if !utf8.ValidString(arg) {
				// %q of invalid UTF-8 escapes it, as strconv.Quote does.
				if ExitCode(err) != ExitUsage {
					t.Fatalf("refusing %q: %v; want a usage error", arg, err)
				}
				return
			}
			wantUsageErrorQuoting(t, err, arg)
			return
		}
		if name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
			t.Fatalf("accepted %q as %q", arg, name)
		}
		if !strings.HasPrefix(arg, `"`) && name != foldIdentifier(arg) {
			t.Fatalf("unquoted %q gave %q, want it folded", arg, name)
		}
		// The name written as SQL writes it reads back as itself, and so
		// does the spelling hints print.
		for _, spelled := range []string{pgx.Identifier{name}.Sanitize(), quoteIdent(name)} {
			if again, err := parseRoleName("USERNAME", spelled); err != nil || again != name {
				t.Fatalf("%q gave %q, but its spelling %s reads back as %q, %v", arg, name, spelled, again, err)
			}
		}
	})
}
