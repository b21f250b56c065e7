package cli

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// adminCommands are the commands that need a superuser or admin member,
// with arguments that would change the table if they ran.
func adminCommands(user string) map[string][]string {
	return map[string][]string{
		"login":  {"login", user},
		"logout": {"logout", "web_user"},
		"list":   {"list"},
	}
}

func TestNonAdminIsRefused(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	target := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	bob, bobURL := mustLoginRole(t, dbURL, "bob")
	// CREATEROLE and CREATEDB are not admin either.
	carol, carolURL := mustLoginRole(t, dbURL, "carol")
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+carol+" CREATEROLE CREATEDB")
	// A NOINHERIT member does not hold admin's privileges without SET ROLE.
	dave, daveURL := mustLoginRole(t, dbURL, "dave")
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+dave+" NOINHERIT; GRANT admin TO "+dave)
	before := snapshot(t, dbURL)
	grantHint := func(name string) string {
		return "connect as a superuser or a member of admin, or have one run: GRANT admin TO " + name
	}
	for _, who := range []struct{ label, name, url, hint string }{
		{"plain", bob, bobURL, grantHint(bob)}, {"createrole", carol, carolURL, grantHint(carol)},
		{"noinherit member", dave, daveURL, dave + " is a member of admin but does not inherit its privileges (NOINHERIT); have a superuser run: ALTER ROLE " + dave + " INHERIT"},
	} {
		for cmd, args := range adminCommands(target) {
			t.Run(who.label+"/"+cmd, func(t *testing.T) {
				r := runCLI(t, append(args, "--url", who.url)...)
				want := `ERROR: user "` + who.name + `" is not a member of the admin role` + "\n" +
					"SQLSTATE: 42501\n" +
					"HINT: " + who.hint + "\n"
				if r.code != 1 || r.stderr != want || r.stdout != "" {
					t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 1, nothing on stdout and stderr:\n%s", r.code, r.stdout, r.stderr, want)
				}
				checkUnchanged(t, dbURL, before)
			})
		}
	}
}

func TestAdminMemberIsAccepted(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	target := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	direct, directURL := mustLoginRole(t, dbURL, "direct_admin")
	pgtest.MustExec(t, dbURL, "GRANT admin TO "+direct)
	// Membership through a group role counts too.
	group := mustCreateRole(t, dbURL, "ops", "NOLOGIN")
	indirect, indirectURL := mustLoginRole(t, dbURL, "indirect_admin")
	pgtest.MustExec(t, dbURL, "GRANT admin TO "+group+"; GRANT "+group+" TO "+indirect)
	for _, who := range []struct{ label, name, url string }{{"direct", direct, directURL}, {"through a group", indirect, indirectURL}} {
		t.Run(who.label, func(t *testing.T) {
			row := parseLogin(t, "tsv", mustRun(t, "login", target, "--url", who.url).stdout)
			checkLoginRow(t, dbURL, row, target, true)
			var actor string
			mustQueryRow(t, dbURL, "SELECT audit_info->>'actor' FROM system.web_sessions WHERE id = $1", []any{row.SessionID}, &actor)
			if actor != who.name {
				t.Errorf("audit actor = %q, want %q", actor, who.name)
			}
			if out := mustRun(t, "list", "--format=json", "--url", who.url).stdout; !strings.Contains(out, row.SessionID) {
				t.Errorf("list as %s does not show session %s:\n%s", who.name, row.SessionID, out)
			}
			mustRun(t, "logout", target, "--url", who.url)
		})
	}
}

func TestSchemaMissing(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t) // no init
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	for cmd, args := range adminCommands(user) {
		t.Run(cmd, func(t *testing.T) {
			r := runCLI(t, append(args, "--url", dbURL)...)
			want := "ERROR: the auth-session schema is not installed in this database\n" +
				"HINT: run 'auth-session init' with the same connection flags as a superuser\n"
			if r.code != 1 || r.stderr != want || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 1 and:\n%s", r.code, r.stdout, r.stderr, want)
			}
		})
	}
	if n := mustCount(t, dbURL, "pg_namespace WHERE nspname = 'system'"); n != 0 {
		t.Errorf("a command other than init created the system schema")
	}
}

func TestSchemaVersionMismatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, sql, want string
	}{
		{"older", "DELETE FROM system.schema_migrations WHERE version > 1",
			`(?s)^ERROR: the auth-session schema is older than this binary \(database has version 1, binary needs \d+\)\nHINT: run 'auth-session init'`},
		{"newer", "INSERT INTO system.schema_migrations (version, name) VALUES (9999, '9999_future.sql')",
			`(?s)^ERROR: the auth-session schema is newer than this binary \(database has version 9999, binary knows \d+\)\nHINT: use a newer auth-session binary`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbURL := newSessionDB(t)
			pgtest.MustExec(t, dbURL, tt.sql)
			r := runCLI(t, "list", "--url", dbURL)
			if r.code != 1 || !regexp.MustCompile(tt.want).MatchString(r.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and stderr matching %s", r.code, r.stderr, tt.want)
			}
		})
	}
}

// closedPort returns a local TCP port nothing listens on.
func closedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	port := strconv.Itoa(closedPort(t))
	const password = "hunter2-not-shown"
	refusedURL := "postgres://admin_user:" + password + "@127.0.0.1:" + port + "/sessions?sslmode=disable"
	// A reachable URL whose port is overridden by --port.
	u, _ := url.Parse(pgtest.AdminURL())
	tests := []struct {
		name   string
		args   []string
		target string
	}{
		{"init", []string{"init", "--url", refusedURL}, `127.0.0.1:` + port + ` as user "admin_user", database "sessions"`},
		{"login", []string{"login", "web_user", "--url", refusedURL}, `127.0.0.1:` + port},
		{"logout", []string{"logout", "web_user", "--url", refusedURL}, `127.0.0.1:` + port},
		{"list", []string{"list", "--url", refusedURL}, `127.0.0.1:` + port},
		{"--port overrides the URL", []string{"list", "--url", pgtest.AdminURL(), "--port", port}, regexp.QuoteMeta(u.Hostname()) + `:` + port},
		{"--host and --port", []string{"list", "--url", refusedURL, "--host", "localhost", "--port", port}, `localhost:` + port},
		{"missing socket directory", []string{"list", "--url", refusedURL, "--host", "/nonexistent"}, `socket /nonexistent/\.s\.PGSQL\.` + port},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tt.args...)
			re := regexp.MustCompile(`^ERROR: cannot connect to PostgreSQL at ` + tt.target + `.*: (connection refused|no such file or directory); ` +
				`check --url \(or AUTH_SESSION_URL, PGHOST, PGPORT\) and that PostgreSQL is running and accepting connections there\n$`)
			if r.code != 1 || r.stdout != "" || !re.MatchString(r.stderr) {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 1 and one line matching %s", r.code, r.stdout, r.stderr, re)
			}
			if strings.Contains(r.stderr, password) {
				t.Errorf("the password is shown: %s", r.stderr)
			}
		})
	}
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "list", "--url", "postgres://user:s3cret@[::1")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "ERROR: invalid connection settings (--url, AUTH_SESSION_URL or PG* environment)") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and an invalid connection settings error", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "s3cret") {
		t.Errorf("the password is shown: %s", r.stderr)
	}
}

func TestAppUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // regexp
		wantStderr string // regexp; empty means nothing
	}{
		{"unknown command", []string{"frobnicate"}, 2, `^$`,
			`^ERROR: unknown command "frobnicate": accepted commands are init, login, logout, list[a-z, ]*\nHINT: see 'auth-session --help'\n$`},
		{"unknown command with flags", []string{"revoke-all", "--url", "postgres://x"}, 2, `^$`, `unknown command "revoke-all"`},
		{"unknown global flag", []string{"--bogus", "list"}, 2, `^$`, `^ERROR: unknown flag "--bogus"\nHINT: see 'auth-session --help'\n$`},
		{"a usage error names its command in the hint", []string{"list", "--format", "bogus"}, 2, `^$`, `^ERROR: [^\n]*"bogus"[^\n]*\nHINT: see 'auth-session list --help'\n$`},
		{"a bad argument names its command in the hint", []string{"revoke", "-1"}, 2, `^$`, `^ERROR: invalid SESSION_ID "-1"[^\n]*\nHINT: see 'auth-session revoke --help'\n$`},
		{"no arguments shows help", nil, 0, `(?s)USAGE:.*COMMANDS:.*login.*logout.*list`, ``},
		{"--help", []string{"--help"}, 0, `(?s)auth-session - .*init.*login.*logout.*list`, ``},
		{"help after an argument and a flag", []string{"login", "web_user", "--url", "postgres://x@h/db", "--help"}, 0, `^NAME:\n   auth-session login - `, ``},
		{"login --help", []string{"login", "--help"}, 0, `(?s)OPTIONS:\n.*--cookie-jar.*--domain.*--expire-after.*--help, -h.*--insecure.*--only-cookie.*--only-value.*Connection\n.*--url.*Output\n.*--format`, ``},
		{"list --help", []string{"list", "--help"}, 0, `(?s)OPTIONS:\n.*--limit.*--warn-stale-days.*Connection\n.*--url.*Output\n.*--format.*Selection\n.*--active.*--user `, ``},
		// A test binary has build information but no VCS stamp.
		{"--version", []string{"--version"}, 0, `^auth-session version \(devel\) \(no VCS revision: built by go run or outside a git checkout; go1\.[0-9.]+\)\n$`, ``},
		{"version", []string{"version"}, 0, `^auth-session version \(devel\) \(no VCS revision: built by go run or outside a git checkout; go1\.[0-9.]+\)\n$`, ``},
		{"version with an argument", []string{"version", "extra"}, 2, `^$`, `^ERROR: unexpected argument "extra": usage: auth-session version\n`},
		{"a mistyped command", []string{"lgin"}, 2, `^$`,
			`^ERROR: unknown command "lgin": did you mean "login"\? accepted commands are init, login, logout, list[a-z, ]*\n`},
		{"help", []string{"help"}, 0, `(?s)auth-session - .*COMMANDS:.*login`, ``},
		{"help login", []string{"help", "login"}, 0, `(?s)auth-session login - .*--expire-after`, ``},
		{"help of an unknown command", []string{"help", "frobnicate"}, 2, `^$`, `^ERROR: unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if !regexp.MustCompile(tt.wantStdout).MatchString(r.stdout) {
				t.Errorf("stdout:\n%s\nwant it to match %s", r.stdout, tt.wantStdout)
			}
			if (tt.wantStderr == "" && r.stderr != "") || !regexp.MustCompile(tt.wantStderr).MatchString(r.stderr) {
				t.Errorf("stderr:\n%s\nwant it to match %q", r.stderr, tt.wantStderr)
			}
		})
	}
}
