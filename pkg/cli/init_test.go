package cli

import (
	"context"
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/sql"
)

func TestInitIdempotent(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	latest := sql.LatestVersion()
	first := runCLI(t, "init", "--url", dbURL)
	if first.code != 0 || first.stdout != "" ||
		!regexp.MustCompile(`^applied schema versions \[1( \d+)*\]; schema is at version `+strconv.Itoa(latest)+`\n$`).MatchString(first.stderr) {
		t.Fatalf("first init: exit %d, stdout %q, stderr %q", first.code, first.stdout, first.stderr)
	}
	mustInsertSessions(t, dbURL, seedSessions)
	before := snapshot(t, dbURL)
	for range 2 {
		again := runCLI(t, "init", "--url", dbURL)
		want := "schema is up to date (version " + strconv.Itoa(latest) + ")\n"
		if again.code != 0 || again.stdout != "" || again.stderr != want {
			t.Errorf("init again: exit %d, stdout %q, stderr %q; want 0, nothing, %q", again.code, again.stdout, again.stderr, want)
		}
	}
	checkUnchanged(t, dbURL, before)
	if n, want := mustCount(t, dbURL, "system.schema_migrations"), len(embeddedVersions(t)); n != want {
		t.Errorf("%d rows in schema_migrations, want %d", n, want)
	}
}

// embeddedVersions are the versions of the migrations the binary embeds.
// Their numbers are not assumed to be contiguous: branches that each add
// one number theirs ahead of the merge.
func embeddedVersions(t *testing.T) []string {
	t.Helper()
	ms, err := sql.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, m := range ms {
		versions = append(versions, strconv.Itoa(m.Version))
	}
	return versions
}

func TestInitConcurrent(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	const runs = 4
	results := make([]cliResult, runs)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range runs {
		wg.Go(func() {
			<-start
			results[i] = runCLI(t, "init", "--url", dbURL)
		})
	}
	close(start)
	wg.Wait()
	var applied []string
	applyLine := regexp.MustCompile(`^applied schema versions \[([0-9 ]+)\]`)
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("init %d: exit %d, stderr:\n%s", i, r.code, r.stderr)
		}
		if m := applyLine.FindStringSubmatch(r.stderr); m != nil {
			applied = append(applied, strings.Fields(m[1])...)
		}
	}
	// Each migration was applied by exactly one of the runs.
	sort.Strings(applied)
	want := embeddedVersions(t)
	sort.Strings(want)
	if strings.Join(applied, " ") != strings.Join(want, " ") {
		t.Errorf("versions applied across the runs: %v, want each of %v once", applied, want)
	}
	if n := mustCount(t, dbURL, "system.schema_migrations"); n != len(want) {
		t.Errorf("%d rows in schema_migrations, want %d", n, len(want))
	}
	// The schema works.
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	mustRun(t, "login", user, "--url", dbURL)
}

// TestInitPrivileges checks that the database itself, not only the CLI,
// keeps the table from users outside admin.
func TestInitPrivileges(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	var canLogin bool
	mustQueryRow(t, dbURL, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'admin'", nil, &canLogin)
	if canLogin {
		t.Errorf("role admin can log in, want NOLOGIN")
	}
	outsider, outsiderURL := mustLoginRole(t, dbURL, "outsider")
	member, memberURL := mustLoginRole(t, dbURL, "member")
	pgtest.MustExec(t, dbURL, "GRANT admin TO "+member)
	_ = outsider
	for _, stmt := range []string{
		"SELECT count(*) FROM system.web_sessions",
		"UPDATE system.web_sessions SET revoked_at = now()",
		"DELETE FROM system.web_sessions",
		"SELECT count(*) FROM system.session_events",
	} {
		t.Run(stmt, func(t *testing.T) {
			conn := mustConnect(t, outsiderURL)
			_, err := conn.Exec(context.Background(), stmt)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Errorf("%s as a user outside admin: err %v, want permission denied (42501)", stmt, err)
			}
			if strings.HasPrefix(stmt, "SELECT") {
				if _, err := mustConnect(t, memberURL).Exec(context.Background(), stmt); err != nil {
					t.Errorf("%s as %s, a member of admin: %v", stmt, member, err)
				}
			}
		})
	}
	if n := mustCount(t, dbURL, "system.web_sessions WHERE revoked_at IS NULL"); n != 4 {
		t.Errorf("%d unrevoked sessions, want the fixture's 4", n)
	}
}

func TestInitNeedsPrivileges(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	_, userURL := mustLoginRole(t, dbURL, "plain")
	r := runCLI(t, "init", "--url", userURL)
	re := regexp.MustCompile(`(?s)^ERROR: initialize schema: .*permission denied.*\nSQLSTATE: 42501\n`)
	if r.code != 1 || !re.MatchString(r.stderr) {
		t.Errorf("init as a plain user: exit %d, stderr:\n%s\nwant exit 1 and stderr matching %s", r.code, r.stderr, re)
	}
	if n := mustCount(t, dbURL, "pg_namespace WHERE nspname = 'system'"); n != 0 {
		t.Errorf("a failed init left the system schema behind")
	}
}

// TestInitRefusesNewerSchema: a schema at a newer version than the binary
// knows is not "up to date": init says so and exits non-zero.
func TestInitRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	mustRun(t, "init", "--url", dbURL)
	newer := sql.LatestVersion() + 1
	pgtest.MustExec(t, dbURL, "INSERT INTO system.schema_migrations (version, name) VALUES ($1, 'future.sql')", newer)
	r := runCLI(t, "init", "--url", dbURL)
	want := "ERROR: the auth-session schema is newer than this binary (database has version " + strconv.Itoa(newer) +
		", binary knows " + strconv.Itoa(sql.LatestVersion()) + ")\n"
	if r.code != 1 || !strings.HasPrefix(r.stderr, want) || !strings.Contains(r.stderr, "HINT: use a newer auth-session binary") {
		t.Errorf("init on a newer schema: exit %d, stderr:\n%s\nwant exit 1 and %q with a hint", r.code, r.stderr, want)
	}
}

// TestSearchPathCannotBeChosen: every connection resolves functions in
// pg_catalog alone, whatever the URL asks for.
func TestSearchPathCannotBeChosen(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	for _, u := range []string{dbURL, dbURL + "&search_path=public"} {
		conn, err := ConnOptions{URL: u}.Connect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var path string
		if err := conn.QueryRow(context.Background(), "SHOW search_path").Scan(&path); err != nil {
			t.Fatal(err)
		}
		conn.Close(context.Background())
		if path != sql.SafeSearchPath {
			t.Errorf("search_path of a connection to %s is %q; want %q", u, path, sql.SafeSearchPath)
		}
	}
}
