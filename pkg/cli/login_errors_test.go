package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// TestLoginBadInput runs login with each bad input: the exit code, a
// message quoting the bad value, and a table left as it was.
func TestLoginBadInput(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	noLogin := mustCreateRole(t, dbURL, "no_login", "NOLOGIN")
	expired := mustCreateRole(t, dbURL, "expired", "LOGIN VALID UNTIL '2000-01-01'")
	missing := pgtest.UniqueName("missing")
	unwritable := filepath.Join(t.TempDir(), "no", "such", "dir", "jar.txt")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string // a regexp
	}{
		{"zero duration", []string{user, "--expire-after=0"}, 2, `invalid --expire-after "0": must be positive.*units: ns, us, ms, s, m, h, d \(days\), w \(weeks\)`},
		{"zero with unit", []string{user, "--expire-after", "0s"}, 2, `invalid --expire-after "0s": must be positive`},
		{"negative", []string{user, "--expire-after=-5m"}, 2, `invalid --expire-after "-5m": must be positive.*units: `},
		{"unknown unit", []string{user, "--expire-after=3x"}, 2, `invalid --expire-after "3x": want a duration such as 90m.*units: `},
		{"no number", []string{user, "--expire-after=h"}, 2, `invalid --expire-after "h"`},
		{"empty duration", []string{user, "--expire-after="}, 2, `invalid --expire-after ""`},
		{"overflow", []string{user, "--expire-after=9999999999w"}, 2, `invalid --expire-after "9999999999w": too large`},
		{"below a second", []string{user, "--expire-after=500ms"}, 2, `invalid --expire-after "500ms": must be at least 1s`},
		{"missing duration", []string{user, "--expire-after"}, 2, `^ERROR: flag --expire-after needs a value\n`},
		{"empty username", []string{""}, 2, `invalid USERNAME "": must not be empty`},
		{"blank username", []string{"   "}, 2, `invalid USERNAME "   ": whitespace at either end`},
		{"padded username", []string{" " + user}, 2, `invalid USERNAME " ` + user + `": whitespace at either end or control characters; to name a role that has them, put the name in double quotes`},
		{"missing username", nil, 2, `missing USERNAME: usage: auth-session login USERNAME`},
		{"extra argument", []string{user, "extra"}, 2, `unexpected argument "extra"`},
		{"unknown flag", []string{user, "--bogus"}, 2, `^ERROR: unknown flag "--bogus"\n`},
		{"bad format", []string{user, "--format", "xml"}, 2, `invalid format "xml": accepted formats are table, tsv, csv, json`},
		{"bad port", []string{user, "--port", "99999"}, 2, `invalid --port "99999": want a TCP port number`},
		{"port not a number", []string{user, "--port", "http"}, 2, `invalid --port "http"`},
		{"unknown role", []string{missing}, 1, `(?s)ERROR: create session for "` + missing + `": user "` + missing + `" does not exist\nSQLSTATE: 42704\nHINT: .*CREATE ROLE ` + missing + ` LOGIN`},
		{"unknown quoted role", []string{"no such user"}, 1, `user "no such user" does not exist.*\n.*\nHINT: .*CREATE ROLE "no such user" LOGIN`},
		{"NOLOGIN role", []string{noLogin}, 1, `(?s)ERROR: create session for "` + noLogin + `": role "` + noLogin + `" is not permitted to log in \(NOLOGIN\).*HINT: allow it with: ALTER ROLE ` + noLogin + ` LOGIN`},
		{"role past VALID UNTIL", []string{expired}, 1, `(?s)role "` + expired + `" is past its VALID UNTIL time.*HINT: extend it with: ALTER ROLE ` + expired},
		{"built-in NOLOGIN role", []string{"pg_monitor"}, 1, `role "pg_monitor" is not permitted to log in`},
		{"unwritable cookie jar", []string{user, "--cookie-jar", unwritable}, 1, `write cookie jar "` + regexp.QuoteMeta(unwritable) + `"`},
	}
	before := snapshot(t, dbURL)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"login", "--url", dbURL}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if !regexp.MustCompile(tt.wantStderr).MatchString(r.stderr) {
				t.Errorf("stderr:\n%s\nwant it to match %s", r.stderr, tt.wantStderr)
			}
			if !strings.HasPrefix(r.stderr, "ERROR: ") || strings.Contains(r.stderr, "goroutine") {
				t.Errorf("stderr should start with ERROR: and hold no trace:\n%s", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			checkUnchanged(t, dbURL, before)
		})
	}
}
