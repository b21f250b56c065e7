package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/auth"
)

// The sessions of the lookup tests: the seed's, web_user's active one with
// a secret of the length a cookie carries, so that its cookie can be
// written here, and a client recorded, as an HTTP login records it.
var (
	lookupID       int64 = 790000000000000001
	lookupSecret         = "0123456789abcdef0123456789abcdef"
	lookupSessions       = withSecret(seedSessions, lookupID, lookupSecret)
	lookupCookie         = auth.EncodeValue(lookupID, []byte(lookupSecret))
)

func withSecret(sessions []fixtureSession, id int64, secret string) []fixtureSession {
	out := append([]fixtureSession(nil), sessions...)
	for i := range out {
		if out[i].id == id {
			out[i].secret = secret
		}
	}
	return out
}

// newLookupDB is a database with lookupSessions.
func newLookupDB(t testing.TB) string {
	t.Helper()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, lookupSessions)
	pgtest.MustExec(t, dbURL, `UPDATE system.web_sessions
SET audit_info = '{"client_addr": "203.0.113.7", "user_agent": "curl/8.5.0", "via": "http", "actor": "web_user"}',
    last_ip = '198.51.100.4', last_user_agent = 'Wget/1.21.3'
WHERE id = $1`, lookupID)
	return dbURL
}

// checkNoCookie fails the test when out holds a secret of the fixture
// sessions, their hashes, or the cookie's value.
func checkNoCookie(t testing.TB, out string) {
	t.Helper()
	checkNoSecrets(t, out, lookupSessions)
	if strings.Contains(out, lookupCookie) {
		t.Errorf("output holds the cookie's value:\n%s", out)
	}
}

// shownRow is the one row of show or lookup --format json.
type shownRow struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Status    string `json:"status"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
}

func parseShown(t testing.TB, out string) shownRow {
	t.Helper()
	var rows []shownRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("want one row of JSON, got %v:\n%s", err, out)
	}
	return rows[0]
}

// TestLookup: the cookie, in each form it is found in, read from standard
// input, shows its session and no other.
func TestLookup(t *testing.T) {
	t.Parallel()
	dbURL := newLookupDB(t)
	jarLine := "localhost\tFALSE\t/\tFALSE\t4815454056\tsession\t" + lookupCookie
	for name, input := range map[string]string{
		"login's line":  auth.SetCookieString(lookupCookie, true) + "\n",
		"Cookie header": "Cookie: theme=dark; session=" + lookupCookie + "\n",
		"jar":           "# Netscape HTTP Cookie File\n" + jarLine + "\n" + strings.Replace(jarLine, "localhost", "127.0.0.1", 1) + "\n",
		"bare value":    lookupCookie,
	} {
		t.Run(name, func(t *testing.T) {
			before := snapshot(t, dbURL)
			r := runCLIWithInput(t, false, input, "lookup", "--format", "json", "--url", dbURL)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			got := parseShown(t, r.stdout)
			want := shownRow{ID: "790000000000000001", Username: "web_user", Status: "active", IP: "203.0.113.7", UserAgent: "curl/8.5.0"}
			if got != want {
				t.Errorf("lookup showed %+v, want %+v", got, want)
			}
			checkNoCookie(t, r.stdout+r.stderr)
			checkUnchanged(t, dbURL, before)
		})
	}
	// On a terminal the cookie is asked for, and the prompt is on stderr.
	r := runCLIWithInput(t, true, lookupCookie+"\n", "lookup", "--format", "tsv", "--url", dbURL)
	if r.code != 0 || !strings.Contains(r.stdout, "790000000000000001") || !strings.Contains(r.stderr, "Session cookie") {
		t.Errorf("on a terminal: exit %d, stdout %q, stderr %q; want the prompt and the session", r.code, r.stdout, r.stderr)
	}
	checkNoCookie(t, r.stdout+r.stderr)
}

// TestLookupNotFound: a cookie whose secret is not its session's is not
// found, in the words and with the exit code of an unknown session; an
// argument, or no cookie, is refused before anything connects, without
// repeating what was given.
func TestLookupNotFound(t *testing.T) {
	t.Parallel()
	dbURL := newLookupDB(t)
	before := snapshot(t, dbURL)
	wrongSecret := auth.EncodeValue(lookupID, []byte(strings.Repeat("x", auth.SecretLen)))
	const unknownID = 790000000000000003
	unknown := auth.EncodeValue(unknownID, []byte(lookupSecret))

	wrong := runCLIWithInput(t, false, wrongSecret, "lookup", "--url", dbURL)
	missing := runCLIWithInput(t, false, unknown, "lookup", "--url", dbURL)
	if wrong.code != 1 || missing.code != 1 || wrong.stdout != "" || missing.stdout != "" {
		t.Errorf("wrong secret: exit %d, stdout %q; unknown id: exit %d, stdout %q; want exit 1 and nothing on stdout",
			wrong.code, wrong.stdout, missing.code, missing.stdout)
	}
	if !strings.Contains(wrong.stderr, "session 790000000000000001 not found") {
		t.Errorf("wrong secret: stderr %q, want not found", wrong.stderr)
	}
	// The same words but for the id, which the cookie holds anyway.
	if got := strings.ReplaceAll(missing.stderr, "790000000000000003", "790000000000000001"); got != wrong.stderr {
		t.Errorf("unknown id and wrong secret differ:\n%q\n%q", missing.stderr, wrong.stderr)
	}
	for _, r := range []cliResult{wrong, missing} {
		checkNoCookie(t, r.stderr)
		for _, c := range []string{wrongSecret, unknown} {
			if strings.Contains(r.stderr, c) {
				t.Errorf("stderr holds the cookie given: %q", r.stderr)
			}
		}
	}

	for _, tt := range []struct {
		name, input string
		args        []string
		wantStderr  string
	}{
		{"cookie as an argument", "", []string{"lookup", lookupCookie}, "never from an argument, which would stay in the shell history and show in ps"},
		{"revoke --cookie VALUE", "", []string{"revoke", "--cookie", lookupCookie, "--yes"}, "--cookie takes - only: the cookie is read from standard input"},
		{"revoke --cookie=VALUE", "", []string{"revoke", "--cookie=" + lookupCookie, "--yes"}, "--cookie takes - only"},
		{"revoke --cookie - with an id", lookupCookie, []string{"revoke", "--cookie", "-", "--yes", "790000000000000001"}, "one of them"},
		{"revoke --cookie - with a selection", lookupCookie, []string{"revoke", "--cookie", "-", "--yes", "--user", "web_user"}, "one of them"},
		{"revoke --cookie - without a terminal or --yes", lookupCookie, []string{"revoke", "--cookie", "-"}, "pass --yes"},
		{"nothing on stdin", "", []string{"lookup"}, "no session cookie on standard input"},
		{"another cookie only", "theme=dark", []string{"lookup"}, "no session cookie on standard input"},
		{"two cookies", lookupCookie + "\n" + unknown, []string{"lookup"}, "more than one session cookie"},
		{"not a cookie of ours", "session=" + strings.Repeat("A", 56), []string{"lookup"}, "not one auth-session makes"},
		{"revoke, not a cookie of ours", "hello", []string{"revoke", "--cookie", "-", "--yes"}, "not one auth-session makes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLIWithInput(t, false, tt.input, append(tt.args, "--url", dbURL)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.wantStderr) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", r.code, r.stdout, r.stderr, tt.wantStderr)
			}
			checkNoCookie(t, r.stderr)
			if strings.Contains(r.stderr, unknown) || strings.Contains(r.stderr, strings.Repeat("A", 56)) {
				t.Errorf("stderr repeats what was given: %q", r.stderr)
			}
		})
	}
	checkUnchanged(t, dbURL, before)
	if n := mustCount(t, dbURL, "system.session_events"); n != 0 {
		t.Errorf("failed lookups and revokes wrote %d events", n)
	}
}

// TestRevokeByCookie: revoke --cookie - revokes the cookie's session, after
// the secret check, as revoke SESSION_ID does: confirmed on a terminal,
// audited, printed as list prints it.
func TestRevokeByCookie(t *testing.T) {
	t.Parallel()
	dbURL := newLookupDB(t)

	// A wrong secret revokes nothing, with --yes too.
	wrongSecret := auth.EncodeValue(lookupID, []byte(strings.Repeat("x", auth.SecretLen)))
	r := runCLIWithInput(t, false, wrongSecret, "revoke", "--cookie", "-", "--yes", "--url", dbURL)
	if r.code != 1 || !strings.Contains(r.stderr, "session 790000000000000001 not found") || revokedAt(t, dbURL, lookupID) != nil {
		t.Fatalf("wrong secret: exit %d, stderr %q; want not found and nothing revoked", r.code, r.stderr)
	}
	// On a terminal: the cookie, then the question; no keeps it.
	r = runCLIWithInput(t, true, lookupCookie+"\nn\n", "revoke", "--cookie", "-", "--url", dbURL)
	if r.code != 1 || !strings.Contains(r.stderr, `Revoke session 790000000000000001 of user "web_user"`) || revokedAt(t, dbURL, lookupID) != nil {
		t.Fatalf("answer no: exit %d, stderr %q; want the question, and nothing revoked", r.code, r.stderr)
	}
	checkNoCookie(t, r.stdout+r.stderr)

	r = runCLIWithInput(t, false, auth.SetCookieString(lookupCookie, true)+"\n", "revoke", "--cookie", "-", "--yes",
		"--reason", "leaked in a ticket", "--format", "json", "--url", dbURL)
	if r.code != 0 {
		t.Fatalf("revoke --cookie - --yes: exit %d, stderr %q", r.code, r.stderr)
	}
	checkNoCookie(t, r.stdout+r.stderr)
	rows := parseListJSON(t, r.stdout)
	if len(rows) != 1 || rows[0].SessionID != "790000000000000001" || rows[0].RevokedAt == nil {
		t.Fatalf("revoke printed %q, want the one revoked row", r.stdout)
	}
	if revokedAt(t, dbURL, lookupID) == nil {
		t.Fatal("the session is not revoked")
	}
	if n := mustCount(t, dbURL, "system.session_events WHERE event = 'session.revoked' AND session_id = $1 AND via = 'cli' AND detail->>'reason' = 'leaked in a ticket'", lookupID); n != 1 {
		t.Errorf("session.revoked events with the reason = %d, want 1", n)
	}
	if n := mustCount(t, dbURL, "system.web_sessions WHERE revoked_at IS NOT NULL"); n != 3 {
		t.Errorf("revoked sessions = %d, want the 2 of the fixture + 1", n)
	}
	// lookup now shows it revoked.
	r = runCLIWithInput(t, false, lookupCookie, "lookup", "--format", "json", "--url", dbURL)
	if got := parseShown(t, r.stdout); got.Status != "revoked" {
		t.Errorf("lookup after the revocation: status %q, want revoked", got.Status)
	}
}

// TestShow: show SESSION_ID is list --wide for one id, in every format; an
// unknown id is not found.
func TestShow(t *testing.T) {
	t.Parallel()
	dbURL := newLookupDB(t)
	before := snapshot(t, dbURL)
	for _, f := range outputFormats {
		t.Run(f, func(t *testing.T) {
			out := mustRun(t, "show", "790000000000000001", "--format", f, "--url", dbURL).stdout
			checkNoCookie(t, out)
			checkGolden(t, "show-"+f+"."+goldenExt(f), out)
		})
	}
	for _, tt := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"unknown id", []string{"show", "123"}, 1, "ERROR: session 123 not found\n"},
		{"not a number", []string{"show", "abc"}, 2, `invalid SESSION_ID "abc"`},
		{"missing id", []string{"show"}, 2, "missing SESSION_ID"},
		{"two ids", []string{"show", "1", "2"}, 2, `unexpected argument "2"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, append(tt.args, "--url", dbURL)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantStderr) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", r.code, r.stdout, r.stderr, tt.wantCode, tt.wantStderr)
			}
		})
	}
	checkUnchanged(t, dbURL, before)
}
