package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/internal/pgtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { pgtest.Main(m) }

// testNow is the client clock of every test: 2022-09-15, six weeks after the
// fixture sessions were last used, so the stale column is deterministic.
var testNow = time.Date(2022, 9, 15, 0, 0, 0, 0, time.UTC)

// testTimeout bounds each command a test runs; a hung database must fail
// the test rather than the whole binary's timeout.
const testTimeout = time.Minute

// cliResult is what one run of the app printed and returned.
type cliResult struct {
	stdout, stderr string
	code           int
}

// term says which streams a test run pretends are terminals.
type terminals struct{ out, err bool }

// newEnv returns an Env over fresh buffers, a fixed clock and host name.
func newEnv(tty terminals) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &Env{
		IO:       &IOStreams{In: strings.NewReader(""), Out: &stdout, Err: &stderr, OutIsTerminal: tty.out, ErrIsTerminal: tty.err},
		Now:      func() time.Time { return testNow },
		Hostname: func() (string, error) { return "test-host", nil },
	}, &stdout, &stderr
}

// runCLI runs the whole app, as main does, with args after the program name,
// on streams that are not terminals.
func runCLI(t testing.TB, args ...string) cliResult {
	t.Helper()
	return runCLITerm(t, terminals{}, args...)
}

// runCLITerm is runCLI with a choice of terminal streams.
func runCLITerm(t testing.TB, tty terminals, args ...string) cliResult {
	t.Helper()
	env, stdout, stderr := newEnv(tty)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	code := Main(ctx, append([]string{"auth-session"}, args...), env)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// mustRun runs the app and fails the test unless it exits 0.
func mustRun(t testing.TB, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, args...)
	if r.code != 0 {
		t.Fatalf("auth-session %s: exit %d\nstderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// initialized is a database that auth-session init set up, which
// newSessionDB copies for each test; the tests of init itself start from
// pgtest.NewDB and run it.
var initialized = pgtest.NewTemplate("initialized", func(ctx context.Context, conn *pgx.Conn) error {
	env, _, stderr := newEnv(terminals{})
	if code := Main(ctx, []string{"auth-session", "init", "--url", conn.Config().ConnString()}, env); code != 0 {
		return fmt.Errorf("auth-session init: exit %d\nstderr:\n%s", code, stderr)
	}
	return nil
})

// newSessionDB returns a superuser URL of a fresh database of this test's
// own, with the schema installed by auth-session init.
func newSessionDB(t testing.TB) string {
	t.Helper()
	dbURL := initialized.NewDB(t)
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// No statement cache: a test may change the schema under the pool.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	pools.Store(dbURL, pool)
	// Registered after NewDB's, so it runs before the database is dropped.
	t.Cleanup(func() {
		pools.Delete(dbURL)
		pool.Close()
	})
	return dbURL
}

// pools holds a connection pool for each database newSessionDB made, so
// that the helpers' queries do not each pay for a new connection.
var pools sync.Map // superuser URL -> *pgxpool.Pool

// mustCreateRole creates a cluster-wide role named after prefix with the
// given attributes (such as "LOGIN" or "NOLOGIN"), dropped when the test
// ends, and returns its name.
func mustCreateRole(t testing.TB, dbURL, prefix, attrs string) string {
	t.Helper()
	name := pgtest.UniqueName(prefix)
	pgtest.MustExec(t, dbURL, fmt.Sprintf("CREATE ROLE %s %s", name, attrs))
	t.Cleanup(func() {
		// Roles outlive databases: drop it, or a shared server collects them.
		pgtest.MustExec(t, pgtest.AdminURL(), "DROP ROLE IF EXISTS "+name)
	})
	return name
}

// mustLoginRole creates a role that can log in with a password and returns
// its name and a URL that connects as it to dbURL's database.
func mustLoginRole(t testing.TB, dbURL, prefix string) (name, roleURL string) {
	t.Helper()
	const password = "test-password"
	name = mustCreateRole(t, dbURL, prefix, "LOGIN PASSWORD '"+password+"'")
	return name, pgtest.WithUser(dbURL, name, password)
}

// mustConnect opens a connection closed at the end of the test.
func mustConnect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// mustQueryRow runs a one-row query and scans it into dest.
func mustQueryRow(t testing.TB, dbURL, query string, args []any, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var row pgx.Row
	if pool, ok := pools.Load(dbURL); ok {
		row = pool.(*pgxpool.Pool).QueryRow(ctx, query, args...)
	} else {
		row = mustConnect(t, dbURL).QueryRow(ctx, query, args...)
	}
	if err := row.Scan(dest...); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
}

// mustCount returns the count(*) of a query's FROM/WHERE clause.
func mustCount(t testing.TB, dbURL, fromWhere string, args ...any) int {
	t.Helper()
	var n int
	mustQueryRow(t, dbURL, "SELECT count(*) FROM "+fromWhere, args, &n)
	return n
}

// snapshot returns every row of the session and event tables as text, so
// that a test can prove a command changed nothing. A database without the
// schema has an empty snapshot.
func snapshot(t testing.TB, dbURL string) string {
	t.Helper()
	var s string
	mustQueryRow(t, dbURL, `SELECT CASE WHEN to_regclass('system.web_sessions') IS NULL THEN '' ELSE
    (SELECT count(*) || E' sessions\n' || COALESCE(string_agg(s::text, E'\n' ORDER BY id), '') FROM system.web_sessions s)
    || (SELECT E'\n' || count(*) || E' events\n' || COALESCE(string_agg(e::text, E'\n' ORDER BY id), '') FROM system.session_events e)
END`, nil, &s)
	return s
}

// checkUnchanged fails the test when the tables differ from before.
func checkUnchanged(t testing.TB, dbURL, before string) {
	t.Helper()
	if after := snapshot(t, dbURL); after != before {
		t.Errorf("the tables changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// checkGolden compares got with testdata/name, or rewrites the file with -update.
func checkGolden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./pkg/cli -run %s -update): %v", t.Name(), err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// outputFormats are the names --format accepts.
var outputFormats = []string{"table", "tsv", "csv", "json", "ndjson", "yaml", "records", "sql", "html", "raw"}

// goldenExt names a golden file's extension after its format, so that an
// editor shows it sensibly.
func goldenExt(format string) string {
	switch format {
	case "table", "records", "raw":
		return "txt"
	case "ndjson":
		return "ndjson"
	}
	return format
}
