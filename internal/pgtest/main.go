package pgtest

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
)

// URLEnv names the environment variable that points the tests at an existing
// server instead of a throwaway one.
const URLEnv = "AUTH_SESSION_TEST_URL"

// Set once by Main, before any test runs, and only read afterwards.
var (
	adminURL string
	cluster  *pgcluster.Cluster
	// createStrategy ends every CREATE DATABASE: on PostgreSQL 15 and
	// later, whose default strategy writes the whole copy to the WAL,
	// it asks for the older file copy, which costs the CPU a fraction of
	// that (the clusters run with fsync off, so its checkpoints are cheap).
	createStrategy string
)

// Main runs the tests of m against a PostgreSQL server and exits with their
// exit code. It is meant to be the whole of a package's TestMain. When the
// server cannot be used it explains why and exits with 1: a test suite that
// silently skips its database tests would look green while testing nothing.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main without the exit: it returns the exit code, for a TestMain
// that has its own cleanup to do after the tests.
func Run(m *testing.M) int {
	flag.Parse() // testing.Verbose needs parsed flags
	if u := os.Getenv(URLEnv); u != "" {
		if err := checkServer(u); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %s is set, but that server cannot be used: %v\n", URLEnv, err)
			return 1
		}
		adminURL = u
		return runTests(m)
	}

	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	// StopWithProcess: a panicking or timed-out test never returns here, and
	// the server must not outlive the test binary.
	c, err := pgcluster.Start(ctx, pgcluster.Options{HostAuth: pgcluster.AuthSCRAM, StopWithProcess: true})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: start a throwaway PostgreSQL for the tests: %v\n"+
			"pgtest: install PostgreSQL (apt-get install postgresql) or set %s to a superuser URL of a running server\n", err, URLEnv)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "pgtest: PostgreSQL in %s on port %d started in %v\n", c.Dir, c.Port, time.Since(began).Round(time.Millisecond))
	}
	cluster, adminURL = c, c.SuperURL("postgres")

	code := runTests(m)
	if err := c.Remove(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: remove the throwaway PostgreSQL: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// runTests runs the tests on the server at adminURL and drops the template
// databases they made.
func runTests(m *testing.M) int {
	var version int
	if err := queryRow(adminURL, "SELECT current_setting('server_version_num')::int", &version); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: read the server's version: %v\n", err)
		return 1
	}
	if version >= 150000 {
		createStrategy = " STRATEGY FILE_COPY"
	}
	code := m.Run()
	if err := dropTemplates(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// checkServer makes sure url is a postgres URL of a server that answers.
func checkServer(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parse URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("parse URL: scheme %q, want postgres:// (keyword=value strings are not supported)", u.Scheme)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := connect(ctx, rawURL)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// Cluster returns the cluster Main started, or nil when the tests use the
// server named by AUTH_SESSION_TEST_URL. Tests that need a differently
// configured server (such as trust authentication) start their own with
// pgcluster.Start.
func Cluster() *pgcluster.Cluster {
	return cluster
}

// AdminURL returns the superuser URL of the server the tests use, pointing at
// its maintenance database; empty before Main.
func AdminURL() string {
	return adminURL
}
