package cli

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/format"
)

// listRow is one row of list --format json.
type listRow struct {
	Username   string     `json:"username"`
	SessionID  string     `json:"id"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt time.Time  `json:"last_used_at"`
	Stale      *bool      `json:"stale"`
}

func parseListJSON(t testing.TB, out string) []listRow {
	t.Helper()
	var rows []listRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("list json output: %v\n%s", err, out)
	}
	return rows
}

func ids(rows []listRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.SessionID)
	}
	return out
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	all := []string{"784428093743988737", "784428586862215169", "784447132063662081", "784449147579924481", "790000000000000001", "790000000000000002"}
	tests := []struct {
		name    string
		args    []string
		wantIDs []string
	}{
		{"everything in creation order", nil, all},
		{"active", []string{"--active"}, []string{"784428093743988737", "790000000000000001"}},
		{"one user", []string{"--user", "web_user"}, all[2:]},
		// A name is read as list prints it: WEB_USER is not web_user
		// (issue 20 §3); in double quotes it is read as SQL reads a name.
		{"user as list prints it", []string{"--user=WEB_USER"}, []string{}},
		{"user in double quotes", []string{`--user="web_user"`}, all[2:]},
		{"active of one user", []string{"--active", "--user", "web_user"}, []string{"790000000000000001"}},
		{"unknown user", []string{"--user", "nobody"}, []string{}},
		{"explicit --active=false", []string{"--active=false"}, all},
		// A time as list prints it is read back, in UTC.
		{"created after a printed time", []string{"--created-after", "2022-08-02 18:30:00.000000"}, all[3:]},
		{"created before a printed time", []string{"--created-before", "2022-09-14 12:00:00.5"}, all[:5]},
		{"created before a time without a zone", []string{"--created-before", "2022-08-02T16:50:00"}, all[:1]},
		{"created after an RFC 3339 time", []string{"--created-after", "2022-09-14T14:30:00+02:00"}, all[5:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, append([]string{"list", "--format", "json", "--url", dbURL}, tt.args...)...)
			rows := parseListJSON(t, r.stdout)
			if got := strings.Join(ids(rows), " "); got != strings.Join(tt.wantIDs, " ") {
				t.Errorf("ids = %s\nwant   %s", got, strings.Join(tt.wantIDs, " "))
			}
		})
	}

	// Every column comes from the row as stored; revoked is null while a
	// session is not revoked.
	rows := parseListJSON(t, mustRun(t, "list", "--format", "json", "--url", dbURL).stdout)
	for i, s := range seedSessions {
		got := rows[i]
		ok := got.Username == s.username && got.CreatedAt.Equal(s.created) && got.ExpiresAt.Equal(s.expires) &&
			got.LastUsedAt.Equal(s.lastUsed) && (got.RevokedAt == nil) == (s.revoked == nil) &&
			(s.revoked == nil || got.RevokedAt.Equal(*s.revoked))
		if !ok {
			t.Errorf("row %d = %+v, want %+v", i, got, s)
		}
	}
}

// TestListLiveSessions lists sessions made by the commands themselves:
// active, revoked by logout, and expired by moving expires_at back.
func TestListLiveSessions(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	alice := mustCreateRole(t, dbURL, "alice", "LOGIN")
	bob := mustCreateRole(t, dbURL, "bob", "LOGIN")
	var made []string
	for _, u := range []string{alice, bob, alice} {
		made = append(made, parseLogin(t, "json", mustRun(t, "login", u, "--format=json", "--url", dbURL).stdout).SessionID)
	}
	mustRun(t, "logout", bob, "--url", dbURL)
	pgtest.MustExec(t, dbURL, "UPDATE system.web_sessions SET expires_at = now() - INTERVAL '1 minute' WHERE id = $1", made[2])

	r := mustRun(t, "list", "--url", dbURL, "--format=tsv", "--warn-stale-days=0")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if lines[0] != "username\tsession ID\tcreated\texpires\trevoked\tlast used\tstatus\treason" || len(lines) != 4 {
		t.Fatalf("list output:\n%s\nwant the header and 3 rows", r.stdout)
	}
	wantRows := []*regexp.Regexp{
		regexp.MustCompile(`^` + alice + `\t` + made[0] + `\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\t[0-9-: .]{26}\tNULL\t[0-9-: .]{26}\tactive\tNULL$`),
		regexp.MustCompile(`^` + bob + `\t` + made[1] + `\t[0-9-: .]{26}\t[0-9-: .]{26}\t[0-9-: .]{26}\t[0-9-: .]{26}\trevoked\tNULL$`),
		regexp.MustCompile(`^` + alice + `\t` + made[2] + `\t[0-9-: .]{26}\t[0-9-: .]{26}\tNULL\t[0-9-: .]{26}\texpired\tNULL$`),
	}
	for i, re := range wantRows {
		if !re.MatchString(lines[i+1]) {
			t.Errorf("row %d = %q, want it to match %s", i+1, lines[i+1], re)
		}
	}
	active := parseListJSON(t, mustRun(t, "list", "--active", "--format=json", "--url", dbURL).stdout)
	if got := strings.Join(ids(active), " "); got != made[0] {
		t.Errorf("--active lists %s, want only %s", got, made[0])
	}
}

// TestListExpireAfter shows login --expire-after=4h30m through list.
func TestListExpireAfter(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	mustRun(t, "login", user, "--expire-after=4h30m", "--url", dbURL)
	rows := parseListJSON(t, mustRun(t, "list", "--format=json", "--url", dbURL).stdout)
	if len(rows) != 1 || rows[0].ExpiresAt.Sub(rows[0].CreatedAt) != 4*time.Hour+30*time.Minute {
		t.Errorf("list = %+v, want one session that expires 4h30m after its creation", rows)
	}
}

func TestListStale(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	const warning = "warning: 1 active session not used for 30 days or more; revoke with 'auth-session revoke SESSION_ID'\n"
	tests := []struct {
		name       string
		args       []string
		tty        terminals
		wantStale  []bool // per fixture row; nil: no stale column
		wantStderr string
	}{
		// testNow is 2022-09-15: root's active session was last used on
		// 2022-08-02, 44 days before; the expired and revoked ones are never
		// stale, however old.
		{name: "default 30 days", wantStale: []bool{true, false, false, false, false, false}},
		{name: "warning on a terminal", tty: terminals{err: true}, wantStale: []bool{true, false, false, false, false, false}, wantStderr: warning},
		{name: "45 days", args: []string{"--warn-stale-days=45"}, wantStale: []bool{false, false, false, false, false, false}},
		// web_user's active session was used 11.5 hours before testNow.
		{name: "1 day", args: []string{"--warn-stale-days", "1"}, wantStale: []bool{true, false, false, false, false, false}},
		{name: "0 disables", args: []string{"--warn-stale-days=0"}, tty: terminals{err: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLITerm(t, tt.tty, append([]string{"list", "--format", "json", "--url", dbURL}, tt.args...)...)
			if r.code != 0 || r.stderr != tt.wantStderr {
				t.Errorf("exit %d, stderr %q; want 0 and %q", r.code, r.stderr, tt.wantStderr)
			}
			rows := parseListJSON(t, r.stdout)
			for i, row := range rows {
				switch {
				case tt.wantStale == nil && row.Stale != nil:
					t.Errorf("row %d has a stale column with --warn-stale-days=0", i)
				case tt.wantStale != nil && (row.Stale == nil || *row.Stale != tt.wantStale[i]):
					t.Errorf("row %d (%s) stale = %v, want %v", i, row.SessionID, row.Stale, tt.wantStale[i])
				}
			}
		})
	}
}

// TestListStaleLive ages a real session's last_used_at with SQL and lists
// with the real clock.
func TestListStaleLive(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	old := parseLogin(t, "json", mustRun(t, "login", user, "--format=json", "--url", dbURL).stdout).SessionID
	fresh := parseLogin(t, "json", mustRun(t, "login", user, "--format=json", "--url", dbURL).stdout).SessionID
	pgtest.MustExec(t, dbURL, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '40 days', expires_at = now() + INTERVAL '1 day' WHERE id = $1", old)

	env, stdout, _ := newEnv(terminals{})
	env.Now = time.Now
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if code := Main(ctx, []string{"auth-session", "list", "--format=json", "--url", dbURL}, env); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, row := range parseListJSON(t, stdout.String()) {
		want := row.SessionID == old
		if row.Stale == nil || *row.Stale != want {
			t.Errorf("session %s (fresh %s, old %s) stale = %v, want %v", row.SessionID, fresh, old, row.Stale, want)
		}
	}
}

func TestListBadInput(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"negative stale days", []string{"--warn-stale-days=-1"}, `invalid --warn-stale-days -1: want a number of days from 0 \(off\) to 36500`},
		{"too many stale days", []string{"--warn-stale-days=36501"}, `invalid --warn-stale-days 36501`},
		{"stale days not a number", []string{"--warn-stale-days=soon"}, `invalid --warn-stale-days "soon"`},
		{"empty user", []string{"--user="}, `invalid --user "": must not be empty`},
		{"extra argument", []string{"web_user"}, `unexpected argument "web_user": usage: auth-session list\n`},
		{"bad format", []string{"--format", "xml"}, `invalid format "xml": accepted formats are table, tsv, csv, json, ndjson, yaml, records, sql, html, raw`},
		{"format in capitals", []string{"--format", "JSON"}, `invalid format "JSON"`},
		{"unknown flag", []string{"--all"}, `unknown flag "--all"`},
		{"bad port", []string{"--port", "65536"}, `invalid --port "65536"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"list", "--url", dbURL}, tt.args...)...)
			if r.code != 2 || r.stdout != "" || !regexp.MustCompile(tt.wantStderr).MatchString(r.stderr) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 2, nothing on stdout, stderr matching %s", r.code, r.stdout, r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestListGolden(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	cases := map[string][]string{
		"table-active":   {"--format=table", "--active"},
		"table-no-stale": {"--format=table", "--warn-stale-days=0"},
		"tsv-user":       {"--format=tsv", "--user=web_user"},
		"table-empty":    {"--format=table", "--user=nobody"},
		"json-empty":     {"--format=json", "--user=nobody"},
	}
	for _, f := range outputFormats {
		cases[f] = []string{"--format", f}
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			before := snapshot(t, dbURL)
			out := mustRun(t, append([]string{"list", "--url", dbURL}, args...)...).stdout
			checkNoSecrets(t, out, seedSessions)
			format, _, _ := strings.Cut(name, "-")
			checkGolden(t, "list-"+name+"."+goldenExt(format), out)
			checkUnchanged(t, dbURL, before)
		})
	}
}

// brokenPipe fails every write, as stdout does once its reader has gone.
type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) { return 0, errors.New("write |1: broken pipe") }

// TestRunOutputErrors calls the run functions with their option structs and
// an output that fails: the error is reported, and logout says that the
// sessions were revoked all the same.
func TestRunOutputErrors(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	env, _, _ := newEnv(terminals{})
	env.IO.Out = brokenPipe{}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	err := runList(ctx, listOptions{env: env, conn: ConnOptions{URL: dbURL}, format: format.TSV})
	if err == nil || !strings.Contains(err.Error(), "broken pipe") || ExitCode(err) != ExitRuntime {
		t.Errorf("runList to a broken pipe: %v, want a runtime error naming the broken pipe", err)
	}

	err = runLogout(ctx, logoutOptions{env: env, conn: ConnOptions{URL: dbURL}, usernames: []string{"web_user"}, format: format.JSON})
	want := `sessions of "web_user" were revoked, but printing them failed: `
	if err == nil || !strings.HasPrefix(err.Error(), want) || ExitCode(err) != ExitRuntime {
		t.Errorf("runLogout to a broken pipe: %v, want an error starting %q", err, want)
	}
	if n := mustCount(t, dbURL, "system.web_sessions WHERE username = 'web_user' AND revoked_at IS NULL"); n != 0 {
		t.Errorf("%d of web_user's sessions not revoked", n)
	}
}

func TestListSummary(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	r := mustRun(t, "list", "--summary", "--format", "tsv", "--url", dbURL)
	// Both users have one active session; web_user was used last.
	want := "username\tactive\texpired\trevoked\tlast used\n" +
		"web_user\t1\t1\t2\t2022-09-14 13:00:00.000000\n" +
		"root\t1\t1\t0\t2022-08-02 16:50:06.830294\n"
	if r.stdout != want {
		t.Errorf("list --summary:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = mustRun(t, "list", "--summary", "--user", "root", "--format", "tsv", "--url", dbURL)
	if !strings.HasPrefix(r.stdout, "username") || strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, "root\t1\t1\t0") {
		t.Errorf("list --summary --user root:\n%s", r.stdout)
	}
	if r := runCLI(t, "list", "--summary", "--wide", "--url", dbURL); r.code != 2 {
		t.Errorf("--summary --wide: exit %d, want 2", r.code)
	}
}

func TestListWide(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	pgtest.MustExec(t, dbURL, `INSERT INTO system.web_sessions (hashed_secret, username, user_id, expires_at, audit_info, last_ip, last_user_agent)
VALUES ('\x00', 'web_user', 10, now() + INTERVAL '1 hour',
    '{"via": "http", "actor": "web_user", "client_addr": "203.0.113.7", "user_agent": "curl/8.5.0"}', '2001:db8::9', 'Wget/1.21.3')`)
	r := mustRun(t, "list", "--wide", "--format", "tsv", "--warn-stale-days", "0", "--url", dbURL)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "\tstatus\treason\tip\tuser agent\tlast ip\tlast user agent\tvia\tactor") ||
		!strings.HasSuffix(lines[1], "\tactive\tNULL\t203.0.113.7\tcurl/8.5.0\t2001:db8::9\tWget/1.21.3\thttp\tweb_user") {
		t.Errorf("list --wide:\n%s", r.stdout)
	}
	// Without --wide the table leaves them out, JSON keeps them.
	if r := mustRun(t, "list", "--format", "tsv", "--url", dbURL); strings.Contains(r.stdout, "203.0.113.7") || strings.Contains(r.stdout, "2001:db8::9") {
		t.Errorf("list without --wide shows the client:\n%s", r.stdout)
	}
	if r := mustRun(t, "list", "--format", "json", "--url", dbURL); !strings.Contains(r.stdout,
		`"ip":"203.0.113.7","user_agent":"curl/8.5.0","last_ip":"2001:db8::9","last_user_agent":"Wget/1.21.3","via":"http","actor":"web_user"`) {
		t.Errorf("list --format json lacks the client:\n%s", r.stdout)
	}
}
