package clie2e

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

func TestNonAdminRefusal(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	webUser := newRole(t, dbURL, "web_user", "LOGIN")
	mustRun(t, dbURL, "login", webUser, "--only-cookie")
	bob := newRole(t, dbURL, "bob", "LOGIN PASSWORD 'bob-pw'")
	bobURL := pgtest.WithUser(dbURL, bob, "bob-pw")
	before := tableSnapshot(t, dbURL)
	for _, args := range [][]string{{"login", webUser}, {"logout", webUser}, {"list"}} {
		t.Run(args[0], func(t *testing.T) {
			r := run(t, bobURL, args...)
			want := `ERROR: user "` + bob + `" is not a member of the admin role` + "\nSQLSTATE: 42501\n" +
				"HINT: connect as a superuser or a member of admin, or have one run: GRANT admin TO " + bob + "\n"
			if r.code != 1 || r.stdout != "" || r.stderr != want {
				t.Errorf("as %s: %s\nwant exit 1 and stderr:\n%s", bob, r, want)
			}
			if after := tableSnapshot(t, dbURL); after != before {
				t.Errorf("the table changed:\n%s\n---\n%s", before, after)
			}
		})
	}
	// Granted admin, the same user may.
	pgtest.MustExec(t, dbURL, "GRANT admin TO "+bob)
	mustRun(t, bobURL, "login", webUser, "--only-cookie")
	mustRun(t, bobURL, "list")
	mustRun(t, bobURL, "logout", webUser)
}

// TestBadInputLeavesTableUnchanged runs each bad input and checks the exit
// code, that the message quotes the bad value, and that nothing was written.
func TestBadInputLeavesTableUnchanged(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	webUser := newRole(t, dbURL, "web_user", "LOGIN")
	noLogin := newRole(t, dbURL, "no_login", "NOLOGIN")
	expired := newRole(t, dbURL, "expired", "LOGIN VALID UNTIL '2001-01-01'")
	missing := pgtest.UniqueName("missing")
	mustRun(t, dbURL, "login", webUser, "--only-cookie")
	tests := []struct {
		args     []string
		wantCode int
		want     string // a regexp on stderr
	}{
		{[]string{"login", webUser, "--expire-after=0"}, 2, `invalid --expire-after "0": must be positive.*\(units: ns, us, ms, s, m, h, d \(days\), w \(weeks\)\)`},
		{[]string{"login", webUser, "--expire-after=-5m"}, 2, `invalid --expire-after "-5m": must be positive`},
		{[]string{"login", webUser, "--expire-after=3x"}, 2, `invalid --expire-after "3x": want a duration.*units:`},
		{[]string{"login", webUser, "--expire-after=9999999999w"}, 2, `invalid --expire-after "9999999999w": too large`},
		{[]string{"login", webUser, "--expire-after"}, 2, `flag --expire-after needs a value`},
		{[]string{"login", ""}, 2, `invalid USERNAME "": must not be empty`},
		{[]string{"login"}, 2, `missing USERNAME: usage: auth-session login USERNAME`},
		{[]string{"login", webUser, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"login", webUser, "--bogus"}, 2, `unknown flag "--bogus"`},
		{[]string{"login", webUser, "--format", "xml"}, 2, `invalid format "xml": accepted formats are table, tsv`},
		{[]string{"list", "--format=yml"}, 2, `invalid format "yml"`},
		{[]string{"logout", webUser, "--format", "pdf"}, 2, `invalid format "pdf"`},
		{[]string{"login", webUser, "--port", "99999"}, 2, `invalid --port "99999"`},
		{[]string{"list", "--port=abc"}, 2, `invalid --port "abc"`},
		{[]string{"list", "--warn-stale-days=-3"}, 2, `invalid --warn-stale-days -3`},
		{[]string{"logout"}, 2, `missing USERNAME`},
		{[]string{"logout", webUser, "some one "}, 2, `invalid USERNAME "some one ": whitespace at either end`},
		{[]string{"revoke-everything"}, 2, `unknown command "revoke-everything"`},
		{[]string{"login", missing}, 1, `user "` + missing + `" does not exist\nSQLSTATE: 42704\nHINT: `},
		{[]string{"login", noLogin}, 1, `role "` + noLogin + `" is not permitted to log in \(NOLOGIN\)\nSQLSTATE: 28000\nHINT: allow it with: ALTER ROLE ` + noLogin + ` LOGIN`},
		{[]string{"login", expired}, 1, `role "` + expired + `" is past its VALID UNTIL time\nSQLSTATE: 28000\nHINT: `},
	}
	before := tableSnapshot(t, dbURL)
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := run(t, dbURL, tt.args...)
			if r.code != tt.wantCode || r.stdout != "" || !strings.HasPrefix(r.stderr, "ERROR: ") ||
				!regexp.MustCompile(tt.want).MatchString(r.stderr) {
				t.Errorf("%s\nwant exit %d, nothing on stdout, and stderr matching %s", r, tt.wantCode, tt.want)
			}
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
				t.Errorf("stack trace on stderr:\n%s", r.stderr)
			}
			if after := tableSnapshot(t, dbURL); after != before {
				t.Errorf("the table changed:\n%s\n---\n%s", before, after)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	u, _ := url.Parse(dbURL)
	u.Host = "127.0.0.1:" + port
	refused := u.String()
	tests := []struct {
		name     string
		url      string
		args     []string
		wantCode int
		want     string
	}{
		{"ok", dbURL, []string{"list"}, 0, `^$`},
		{"help", dbURL, []string{"--help"}, 0, `^$`},
		{"usage", dbURL, []string{"list", "--bogus"}, 2, `^ERROR: unknown flag "--bogus"\nHINT: see 'auth-session list --help'\n$`},
		{"refused", refused, []string{"list"}, 1, `^ERROR: cannot connect to PostgreSQL at 127\.0\.0\.1:` + port +
			` as user "[^"]+", database "[^"]+": connection refused; check --url \(or AUTH_SESSION_URL, PGHOST, PGPORT\) and that PostgreSQL is running and accepting connections there\n$`},
		{"schema missing", pgtest.NewDB(t), []string{"login", "web_user"}, 1,
			`^ERROR: the auth-session schema is not installed in this database\nHINT: run 'auth-session init'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.url, tt.args...)
			if r.code != tt.wantCode || !regexp.MustCompile(tt.want).MatchString(r.stderr) {
				t.Errorf("%s\nwant exit %d and stderr matching %s", r, tt.wantCode, tt.want)
			}
		})
	}
}

// TestInitTwoProcessesAtOnce starts init twice at the same moment on a
// fresh database: both succeed and each migration is recorded once.
func TestInitTwoProcessesAtOnce(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = run(t, dbURL, "init") })
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("init %d: %s", i, r)
		}
	}
	var versions, distinct int
	queryRow(t, dbURL, "SELECT count(*), count(DISTINCT version) FROM system.schema_migrations", nil, &versions, &distinct)
	if versions == 0 || versions != distinct {
		t.Errorf("schema_migrations: %d rows, %d versions; want each version once", versions, distinct)
	}
	again := run(t, dbURL, "init")
	if again.code != 0 || !strings.HasPrefix(again.stderr, "schema is up to date") {
		t.Errorf("third init: %s", again)
	}
}

// TestConnectionSettings points the binary at the database the ways the
// README lists: --url, AUTH_SESSION_URL, libpq's PG* variables, and
// --host/--port/--database overriding them.
func TestConnectionSettings(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	user := newRole(t, dbURL, "web_user", "LOGIN")
	mustRun(t, dbURL, "login", user, "--only-cookie")
	u, _ := url.Parse(dbURL)
	password, _ := u.User.Password()
	pgEnv := []string{"PGHOST=" + u.Hostname(), "PGPORT=" + u.Port(), "PGUSER=" + u.User.Username(),
		"PGPASSWORD=" + password, "PGDATABASE=" + strings.TrimPrefix(u.Path, "/"), "PGSSLMODE=disable"}
	elsewhere := *u
	elsewhere.Path = "/postgres"
	tests := []struct {
		name string
		env  []string
		args []string
	}{
		{"--url", nil, []string{"--url", dbURL}},
		{"AUTH_SESSION_URL", []string{"AUTH_SESSION_URL=" + dbURL}, nil},
		{"--url wins over AUTH_SESSION_URL", []string{"AUTH_SESSION_URL=postgres://nobody@127.0.0.1:1/x"}, []string{"--url", dbURL}},
		{"PG variables", pgEnv, nil},
		{"--database overrides", []string{"AUTH_SESSION_URL=" + elsewhere.String()}, []string{"--database", strings.TrimPrefix(u.Path, "/")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runEnv(t, tt.env, append([]string{"list", "--format=json"}, tt.args...)...)
			if r.code != 0 || len(parseJSON(t, r.stdout)) != 1 {
				t.Errorf("%s\nwant exit 0 and the one session", r)
			}
		})
	}
}
