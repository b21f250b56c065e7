package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// runCLIWithInput runs the app with stdin holding input and every stream
// a terminal or none, as interactive says.
func runCLIWithInput(t testing.TB, interactive bool, input string, args ...string) cliResult {
	t.Helper()
	env, stdout, stderr := newEnv(terminals{out: interactive, err: interactive})
	env.IO.In = strings.NewReader(input)
	env.IO.InIsTerminal = interactive
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	code := Main(ctx, append([]string{"auth-session"}, args...), env)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// revokedAt returns a session's revoked_at, nil while not revoked.
func revokedAt(t testing.TB, dbURL string, id int64) *time.Time {
	t.Helper()
	var at *time.Time
	mustQueryRow(t, dbURL, "SELECT revoked_at FROM system.web_sessions WHERE id = $1", []any{id}, &at)
	return at
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	const id = 790000000000000001 // web_user, active

	r := mustRun(t, "revoke", "790000000000000001", "--yes", "--format", "json", "--url", dbURL)
	rows := parseListJSON(t, r.stdout)
	if len(rows) != 1 || rows[0].SessionID != "790000000000000001" || rows[0].RevokedAt == nil {
		t.Fatalf("revoke printed %q, want the one revoked row", r.stdout)
	}
	first := revokedAt(t, dbURL, id)
	if first == nil || !first.Equal(*rows[0].RevokedAt) {
		t.Fatalf("stored revoked_at %v, printed %v", first, rows[0].RevokedAt)
	}
	if n := mustCount(t, dbURL, "system.session_events WHERE event = 'session.revoked' AND session_id = $1 AND username = 'web_user' AND via = 'cli'", int64(id)); n != 1 {
		t.Errorf("session.revoked events = %d, want 1", n)
	}
	// Other sessions are untouched.
	if n := mustCount(t, dbURL, "system.web_sessions WHERE revoked_at IS NOT NULL"); n != 3 {
		t.Errorf("revoked sessions = %d, want the 2 of the fixture + 1", n)
	}

	// Twice: the first revoked_at stays and no second event is written.
	mustRun(t, "revoke", "790000000000000001", "-y", "--url", dbURL)
	if again := revokedAt(t, dbURL, id); again == nil || !again.Equal(*first) {
		t.Errorf("revoked_at after a second revoke = %v, want the first %v", again, first)
	}
	if n := mustCount(t, dbURL, "system.session_events WHERE event = 'session.revoked'"); n != 1 {
		t.Errorf("session.revoked events after revoking twice = %d, want 1", n)
	}
}

func TestRevokeErrors(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	before := sessionRows(t, dbURL, "web_user")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"unknown id", []string{"revoke", "123", "--yes"}, 1, "ERROR: session 123 not found\n"},
		{"not a number", []string{"revoke", "abc", "--yes"}, 2, `invalid SESSION_ID "abc"`},
		{"zero", []string{"revoke", "0", "--yes"}, 2, `invalid SESSION_ID "0"`},
		{"negative", []string{"revoke", "--yes", "--", "-5"}, 2, `invalid SESSION_ID "-5"`},
		{"negative without --", []string{"revoke", "-5", "--yes"}, 2, `invalid SESSION_ID "-5": want a positive integer`},
		{"too large", []string{"revoke", "99999999999999999999", "--yes"}, 2, `invalid SESSION_ID "99999999999999999999"`},
		{"missing id", []string{"revoke", "--yes"}, 2, "missing SESSION_ID"},
		{"no terminal, no --yes", []string{"revoke", "790000000000000001"}, 2, "pass --yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, append([]string{tt.args[0], "--url", dbURL}, tt.args[1:]...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.wantCode, tt.wantStderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
	if after := sessionRows(t, dbURL, "web_user"); after != before {
		t.Errorf("failed revokes changed the table:\nbefore %s\nafter  %s", before, after)
	}
	if n := mustCount(t, dbURL, "system.session_events"); n != 0 {
		t.Errorf("failed revokes wrote %d events", n)
	}
}

func TestRevokePrompt(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)

	// Answering no (or nothing) on a terminal changes nothing.
	for _, answer := range []string{"n\n", "\n", ""} {
		r := runCLIWithInput(t, true, answer, "revoke", "790000000000000001", "--url", dbURL)
		if r.code != 1 || !strings.Contains(r.stderr, "Revoke session 790000000000000001 of user \"web_user\"") ||
			!strings.Contains(r.stderr, "cancelled") {
			t.Errorf("answer %q: exit %d, stderr %q; want the question, then cancelled, exit 1", answer, r.code, r.stderr)
		}
		if at := revokedAt(t, dbURL, 790000000000000001); at != nil {
			t.Fatalf("answer %q revoked the session", answer)
		}
	}
	// Yes revokes it.
	r := runCLIWithInput(t, true, "yes\n", "revoke", "790000000000000001", "--url", dbURL)
	if r.code != 0 || revokedAt(t, dbURL, 790000000000000001) == nil {
		t.Fatalf("answer yes: exit %d, stderr %q; want the session revoked", r.code, r.stderr)
	}
	if !bytes.Contains([]byte(r.stdout), []byte("790000000000000001")) {
		t.Errorf("stdout %q does not show the revoked row", r.stdout)
	}
	// The prompt of an unknown id is not asked: the error comes first.
	r = runCLIWithInput(t, true, "y\n", "revoke", "42", "--url", dbURL)
	if r.code != 1 || strings.Contains(r.stderr, "Revoke session") || !strings.Contains(r.stderr, "session 42 not found") {
		t.Errorf("unknown id on a terminal: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestRevokeSeveral(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	before := snapshot(t, dbURL)

	// An unknown id among known ones revokes none of them.
	r := runCLI(t, "revoke", "--yes", "790000000000000001", "42", "790000000000000002", "--url", dbURL)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "session 42 not found") {
		t.Errorf("with an unknown id: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	checkUnchanged(t, dbURL, before)

	// On a terminal several ids get one question.
	r = runCLIWithInput(t, true, "n\n", "revoke", "790000000000000001", "790000000000000002", "--url", dbURL)
	if r.code != 1 || !strings.Contains(r.stderr, "Revoke 2 sessions of 1 user? [y/N] ") {
		t.Errorf("answered no: exit %d, stderr %q", r.code, r.stderr)
	}
	checkUnchanged(t, dbURL, before)

	// --yes revokes them all in one transaction, an id given twice once.
	r = runCLI(t, "revoke", "--yes", "790000000000000001", "790000000000000002", "790000000000000001", "--format", "tsv", "--url", dbURL)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("revoke --yes of two ids: exit %d, stdout %q, stderr %q; want a header and 2 rows", r.code, r.stdout, r.stderr)
	}
	first, second := revokedAt(t, dbURL, 790000000000000001), revokedAt(t, dbURL, 790000000000000002)
	if first == nil || second == nil || !first.Equal(*second) {
		t.Errorf("revoked at %v and %v, want both, at the one transaction's time", first, second)
	}
	if n := mustCount(t, dbURL, "system.session_events WHERE event = 'session.revoked'"); n != 2 {
		t.Errorf("%d session.revoked events, want 2", n)
	}
}

// TestInterruptedPromptRevokesNothing: Ctrl-C at a prompt, then yes, ends
// the command as interrupted (exit 130, one plain line) and revokes
// nothing, also when the yes is read before the signal is handled.
func TestInterruptedPromptRevokesNothing(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	for _, tt := range []struct {
		args     []string
		wantLine string
	}{
		{[]string{"revoke", "790000000000000001"}, "revoke interrupted: nothing revoked"},
		{[]string{"revoke", "--user", "web_user"}, "revoke interrupted: nothing revoked"},
		{[]string{"logout", "--all"}, "logout interrupted: nothing revoked"},
	} {
		before := mustCount(t, dbURL, "system.web_sessions WHERE revoked_at IS NOT NULL")
		env, stdout, stderr := newEnv(terminals{out: true, err: true})
		env.IO.InIsTerminal = true
		env.IO.In = strings.NewReader("y\n")
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		// The signal is handled once the answer is in: the command looks
		// up the host name it records right after the prompt.
		env.Hostname = func() (string, error) { cancel(); return "test-host", nil }
		code := Main(ctx, append(append([]string{"auth-session"}, tt.args...), "--url", dbURL), env)
		cancel()
		// The answer's echo ends the prompt's line on a terminal; here the
		// message follows the prompt.
		if code != ExitInterrupted || !strings.HasSuffix(stderr.String(), "] "+tt.wantLine+"\n") || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit %d and the line %q",
				tt.args, code, stderr, stdout, ExitInterrupted, tt.wantLine)
		}
		if after := mustCount(t, dbURL, "system.web_sessions WHERE revoked_at IS NOT NULL"); after != before {
			t.Errorf("%v: %d sessions revoked before, %d after", tt.args, before, after)
		}
	}
}

// TestRevokePrintsAsList: revoke SESSION_ID prints the sessions it revoked
// as list prints them, but for list's stale column: in every format, the
// same columns and the same values, the row read back in the revocation's
// transaction and list's after it. Before, revoke took list's columns and
// filled its rows by position with a row type of its own, so that a column
// added to list made revoke fail, after its commit.
func TestRevokePrintsAsList(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	pgtest.MustExec(t, dbURL, `INSERT INTO system.web_sessions (hashed_secret, username, user_id, expires_at, audit_info)
VALUES ('\x00', 'web_user', 10, now() + INTERVAL '1 hour',
    '{"via": "http", "actor": "web_user", "client_addr": "203.0.113.7", "user_agent": "curl/8.5.0"}')`)
	var id string
	mustQueryRow(t, dbURL, "SELECT id::TEXT FROM system.web_sessions", nil, &id)
	for _, f := range outputFormats {
		t.Run(f, func(t *testing.T) {
			revoked := mustRun(t, "revoke", id, "--yes", "--format", f, "--url", dbURL).stdout
			listed := mustRun(t, "list", "--format", f, "--warn-stale-days", "0", "--url", dbURL).stdout
			if revoked != listed {
				t.Errorf("revoke %s --format %s printed:\n%s\nlist then printed:\n%s", id, f, revoked, listed)
			}
			if !strings.Contains(revoked, "revoked") {
				t.Errorf("revoke --format %s printed no revoked status:\n%s", f, revoked)
			}
		})
	}
}
