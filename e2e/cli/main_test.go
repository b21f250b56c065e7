// Package clie2e runs the built auth-session binary's admin commands (init,
// login, logout, list) as a user would, against a real PostgreSQL: the
// seed's examples, the refusals and every bad input. main_test.go builds the
// binary and holds the helpers; the other files hold the tests.
package clie2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/internal/testbin"
)

// binPath is the auth-session binary TestMain builds.
var binPath string

func TestMain(m *testing.M) { testbin.Main(m, "clie2e", &binPath) }

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// cleanEnv is the caller's environment without connection settings, so
// that only what a test passes reaches the binary.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "AUTH_SESSION_") {
			env = append(env, kv)
		}
	}
	return env
}

// runEnv runs the binary with args and extra environment variables.
func runEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runEnvStdin(t, env, "", args...)
}

// runWithStdin is run with stdin as the binary's standard input.
func runWithStdin(t *testing.T, dbURL, stdin string, args ...string) result {
	t.Helper()
	return runEnvStdin(t, []string{"AUTH_SESSION_URL=" + dbURL}, stdin, args...)
}

func runEnvStdin(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr strings.Builder
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if exitErr, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
		r.code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("run auth-session %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// run runs the binary as a user who exported AUTH_SESSION_URL=dbURL.
func run(t *testing.T, dbURL string, args ...string) result {
	t.Helper()
	return runEnv(t, []string{"AUTH_SESSION_URL=" + dbURL}, args...)
}

// mustRun is run that fails the test unless the binary exits 0.
func mustRun(t *testing.T, dbURL string, args ...string) result {
	t.Helper()
	r := run(t, dbURL, args...)
	if r.code != 0 {
		t.Fatalf("auth-session %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// initialized is a database that the binary's init set up, which newDB
// copies for each test; the tests of init itself start from pgtest.NewDB.
var initialized = pgtest.NewTemplate("initialized", func(ctx context.Context, conn *pgx.Conn) error {
	cmd := exec.CommandContext(ctx, binPath, "init")
	cmd.Env = append(cleanEnv(), "AUTH_SESSION_URL="+conn.Config().ConnString())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("auth-session init: %w\n%s", err, out)
	}
	return nil
})

// newDB returns a superuser URL of a fresh database with the schema that
// auth-session init installed.
func newDB(t *testing.T) string {
	t.Helper()
	return initialized.NewDB(t)
}

// newRole creates a cluster-wide role with attrs, dropped at the end of the
// test, and returns its name.
func newRole(t *testing.T, dbURL, prefix, attrs string) string {
	t.Helper()
	name := pgtest.UniqueName(prefix)
	pgtest.MustExec(t, dbURL, "CREATE ROLE "+name+" "+attrs)
	t.Cleanup(func() { pgtest.MustExec(t, pgtest.AdminURL(), "DROP ROLE IF EXISTS "+name) })
	return name
}

// queryRow runs a one-row query on dbURL.
func queryRow(t *testing.T, dbURL, q string, args []any, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, q, args...).Scan(dest...); err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
}

// tableSnapshot is every row of the session and event tables as text.
func tableSnapshot(t *testing.T, dbURL string) string {
	t.Helper()
	var s string
	queryRow(t, dbURL, `SELECT (SELECT count(*) || E' sessions\n' || COALESCE(string_agg(s::text, E'\n' ORDER BY id), '') FROM system.web_sessions s)
    || (SELECT E'\n' || count(*) || E' events\n' || COALESCE(string_agg(e::text, E'\n' ORDER BY id), '') FROM system.session_events e)`, nil, &s)
	return s
}
