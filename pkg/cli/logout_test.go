package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// logoutRow is one row of logout --format json.
type logoutRow struct {
	Username  string    `json:"username"`
	SessionID string    `json:"id"`
	RevokedAt time.Time `json:"revoked_at"`
}

func parseLogoutJSON(t testing.TB, out string) []logoutRow {
	t.Helper()
	var rows []logoutRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("logout json output: %v\n%s", err, out)
	}
	return rows
}

// sessionRows returns a user's rows as text, to compare before and after.
func sessionRows(t testing.TB, dbURL, username string) string {
	t.Helper()
	var s string
	mustQueryRow(t, dbURL, `SELECT COALESCE(string_agg(s::text, E'\n' ORDER BY id), '') FROM system.web_sessions s WHERE username = $1`,
		[]any{username}, &s)
	return s
}

func TestLogout(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	rootBefore := sessionRows(t, dbURL, "root")

	// web_user has two revoked sessions, one active and one expired.
	r := mustRun(t, "logout", "web_user", "--format", "json", "--url", dbURL)
	if want := "revoked 2 sessions of 1 user (2 were already revoked)\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	rows := parseLogoutJSON(t, r.stdout)
	wantIDs := []string{"784447132063662081", "784449147579924481", "790000000000000001", "790000000000000002"}
	if len(rows) != len(wantIDs) {
		t.Fatalf("logout printed %d rows, want %d:\n%s", len(rows), len(wantIDs), r.stdout)
	}
	for i, row := range rows {
		if row.SessionID != wantIDs[i] || row.Username != "web_user" {
			t.Errorf("row %d = %+v, want web_user's session %s (creation order)", i, row, wantIDs[i])
		}
	}
	// Already revoked rows keep their first revoked_at; the rest share the
	// one statement's now().
	if !rows[0].RevokedAt.Equal(*seedSessions[2].revoked) || !rows[1].RevokedAt.Equal(*seedSessions[3].revoked) {
		t.Errorf("revoked_at of sessions revoked before = %v, %v; want %v, %v kept",
			rows[0].RevokedAt, rows[1].RevokedAt, *seedSessions[2].revoked, *seedSessions[3].revoked)
	}
	if !rows[2].RevokedAt.Equal(rows[3].RevokedAt) || time.Since(rows[2].RevokedAt) > time.Hour {
		t.Errorf("newly revoked_at = %v, %v; want the same recent time", rows[2].RevokedAt, rows[3].RevokedAt)
	}
	if n := mustCount(t, dbURL, "system.web_sessions WHERE username = 'web_user' AND revoked_at IS NULL"); n != 0 {
		t.Errorf("%d of web_user's sessions still not revoked", n)
	}
	var stored time.Time
	mustQueryRow(t, dbURL, "SELECT revoked_at FROM system.web_sessions WHERE id = 790000000000000001", nil, &stored)
	if !stored.Equal(rows[2].RevokedAt) {
		t.Errorf("stored revoked_at %v, printed %v", stored, rows[2].RevokedAt)
	}
	if got := sessionRows(t, dbURL, "root"); got != rootBefore {
		t.Errorf("root's sessions changed:\nbefore:\n%s\nafter:\n%s", rootBefore, got)
	}
	var detail string
	mustQueryRow(t, dbURL, "SELECT detail::text FROM system.session_events WHERE event = 'user.logged_out' AND username = 'web_user'", nil, &detail)
	if detail != `{"revoked": 2, "keep_current": false}` {
		t.Errorf("logged_out event detail = %s, want {\"revoked\": 2, \"keep_current\": false}", detail)
	}

	// Again: nothing left to revoke, the same rows with the same times.
	before := snapshot(t, dbURL)
	again := parseLogoutJSON(t, mustRun(t, "logout", "WEB_USER", "--format", "json", "--url", dbURL).stdout)
	if len(again) != len(rows) {
		t.Fatalf("second logout printed %d rows, want %d", len(again), len(rows))
	}
	for i := range rows {
		if again[i] != rows[i] && !(again[i].SessionID == rows[i].SessionID && again[i].RevokedAt.Equal(rows[i].RevokedAt)) {
			t.Errorf("second logout row %d = %+v, want %+v", i, again[i], rows[i])
		}
	}
	checkUnchanged(t, dbURL, before)
}

func TestLogoutNoSessions(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	before := snapshot(t, dbURL)
	tests := []struct {
		format, want string
	}{
		{"tsv", "username\tsession ID\trevoked\trevoked now\n"},
		{"json", "[]\n"},
		{"table", "  username | session ID | revoked | revoked now\n-----------+------------+---------+-------------\n(0 rows)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			r := runCLI(t, "logout", "nobody", "--ignore-missing", "--format", tt.format, "--url", dbURL)
			// With --ignore-missing, a name that matches no role and no
			// session is not an error, but it does not pass in silence
			// (TestLogoutUnknownNameIsAnError: without it, it is one).
			const note = "warning: no role named \"nobody\" and no sessions of it; nothing was revoked\n" +
				"revoked 0 sessions of 0 users (0 were already revoked)\n"
			if r.code != 0 || r.stdout != tt.want || r.stderr != note {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q and %q", r.code, r.stdout, r.stderr, tt.want, note)
			}
		})
	}
	checkUnchanged(t, dbURL, before)
}

func TestLogoutDroppedRole(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	other := mustCreateRole(t, dbURL, "other_user", "LOGIN")
	for _, u := range []string{user, user, other} {
		mustRun(t, "login", u, "--only-cookie", "--url", dbURL)
	}
	otherBefore := sessionRows(t, dbURL, other)
	pgtest.MustExec(t, dbURL, "DROP ROLE "+user)

	rows := parseLogoutJSON(t, mustRun(t, "logout", user, "--format=json", "--url", dbURL).stdout)
	if len(rows) != 2 {
		t.Fatalf("logout of a dropped role printed %d rows, want 2", len(rows))
	}
	if n := mustCount(t, dbURL, "system.web_sessions WHERE username = $1 AND revoked_at IS NULL", user); n != 0 {
		t.Errorf("%d sessions of the dropped role still active", n)
	}
	if got := sessionRows(t, dbURL, other); got != otherBefore {
		t.Errorf("another user's sessions changed:\nbefore:\n%s\nafter:\n%s", otherBefore, got)
	}
}

func TestLogoutBadInput(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"missing username", nil, `missing USERNAME: usage: auth-session logout USERNAME... or --users-from FILE\n`},
		{"empty username", []string{""}, `invalid USERNAME "": must not be empty`},
		{"one bad name among good ones", []string{"web_user", " root"}, `invalid USERNAME " root": whitespace at either end`},
		{"missing file", []string{"--users-from", "/nonexistent/users.txt"}, `--users-from "/nonexistent/users.txt": no such file or directory`},
		{"bad line in the file", []string{"--users-from", usersFile(t, "web_user\n# a comment\n\nro\x01ot\n")}, `invalid user name on line 4 of --users-from ".*": control characters`},
		{"a file of comments only", []string{"--users-from", usersFile(t, "# nobody\n\n")}, `--users-from ".*" names no user`},
		{"unknown flag", []string{"web_user", "--everyone"}, `unknown flag "--everyone"`},
		{"bad format", []string{"web_user", "--format=xml"}, `invalid format "xml"`},
		{"bad port", []string{"web_user", "--port=0"}, `invalid --port "0"`},
		{"missing format", []string{"web_user", "--format"}, `flag --format needs a value`},
	}
	before := snapshot(t, dbURL)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"logout", "--url", dbURL}, tt.args...)...)
			if r.code != 2 || r.stdout != "" || !regexp.MustCompile(tt.wantStderr).MatchString(r.stderr) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2, nothing on stdout, stderr matching %s", r.code, r.stdout, r.stderr, tt.wantStderr)
			}
			checkUnchanged(t, dbURL, before)
		})
	}
}

// Placeholders for the times the golden logout sets, of the same width as
// the times, so that table columns line up as they did.
const (
	nowText = "YYYY-MM-DD hh:mm:ss.ffffff"
	nowJSON = "YYYY-MM-DDThh:mm:ss.ffffffZ"
)

func TestLogoutGolden(t *testing.T) {
	t.Parallel()
	for _, f := range outputFormats {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			dbURL := newSessionDB(t)
			mustInsertSessions(t, dbURL, seedSessions)
			out := mustRun(t, "logout", "web_user", "--format", f, "--url", dbURL).stdout
			checkNoSecrets(t, out, seedSessions)
			// The sessions this logout revoked carry the database's now().
			var revoked time.Time
			mustQueryRow(t, dbURL, "SELECT revoked_at FROM system.web_sessions WHERE id = 790000000000000001", nil, &revoked)
			revoked = revoked.UTC()
			out = strings.ReplaceAll(out, revoked.Format("2006-01-02 15:04:05.000000"), nowText)
			out = strings.ReplaceAll(out, revoked.Format("2006-01-02T15:04:05.000000Z"), nowJSON)
			checkGolden(t, "logout-"+f+"."+goldenExt(f), out)
		})
	}
}

// usersFile writes content to a file of the test's own and returns its path.
func usersFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLogoutAll(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	live := func() int { return mustCount(t, dbURL, "system.web_sessions WHERE revoked_at IS NULL") }
	before := snapshot(t, dbURL)
	liveBefore := live()

	// Without a terminal it needs --yes; on one it asks, and no changes
	// nothing. Names and --all exclude each other.
	for _, tt := range []struct {
		name     string
		terminal bool
		answer   string
		args     []string
		wantCode int
		want     string
	}{
		{"no terminal", false, "", nil, 2, `logout --all: no terminal to confirm on; pass --yes`},
		{"answered no", true, "n\n", nil, 1, `(?s)Log out every user, revoking the 4 sessions not revoked yet\? \[y/N\] .*logout cancelled: nothing revoked`},
		{"no answer", true, "", nil, 1, `logout cancelled: nothing revoked`},
		{"with a name", false, "", []string{"web_user", "--yes"}, 2, `--all logs out every user: give it without USERNAME or --users-from`},
	} {
		args := append([]string{"logout", "--all", "--url", dbURL}, tt.args...)
		r := runCLIWithInput(t, tt.terminal, tt.answer, args...)
		if r.code != tt.wantCode || r.stdout != "" || !regexp.MustCompile(tt.want).MatchString(r.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %s", tt.name, r.code, r.stdout, r.stderr, tt.wantCode, tt.want)
		}
		checkUnchanged(t, dbURL, before)
	}
	if liveBefore != 4 {
		t.Fatalf("%d live sessions in the fixture, want 4", liveBefore)
	}

	r := runCLIWithInput(t, true, "y\n", "logout", "--all", "--url", dbURL, "--reason", "key rotated", "--format", "tsv")
	if r.code != 0 || live() != 0 || !strings.Contains(r.stderr, "revoked 4 sessions of 2 users") {
		t.Errorf("logout --all answered yes: exit %d, %d live left, stderr %q", r.code, live(), r.stderr)
	}
	var events, withReason int
	mustQueryRow(t, dbURL, `SELECT count(*), count(*) FILTER (WHERE detail->>'reason' = 'key rotated')
FROM system.session_events WHERE event = 'user.logged_out'`, nil, &events, &withReason)
	if events != 2 || withReason != 2 {
		t.Errorf("%d user.logged_out events, %d with the reason; want one per user, 2", events, withReason)
	}
	// Again with --yes: nothing left to revoke, and it says so.
	if r := mustRun(t, "logout", "--all", "--yes", "--url", dbURL, "--format", "tsv"); !strings.Contains(r.stderr, "revoked 0 sessions of 0 users") {
		t.Errorf("second logout --all --yes: stderr %q", r.stderr)
	}
}
