// Command cli measures the auth-session binary's admin commands against psql
// running the equivalent SQL, as whole processes, in the same run and on the
// same database reached through the same URL:
//
//   - login web_user --only-cookie  vs  psql -c "INSERT ..." (many
//     alternating repetitions, medians);
//   - logout of a user with 100,000 sessions  vs  psql -c "UPDATE ..." of the
//     same rows, the table refilled before each run;
//   - list --format tsv of 1,000,000 sessions to /dev/null  vs  psql -At -c
//     "SELECT ..." of the same rows, columns and order; also the peak RSS of
//     our process (the kernel's ru_maxrss of the child).
//
// It prints a markdown table for the README.
//
// Usage:
//
//	go run ./bench/cli [-bin bin/auth-session] [-url SUPERUSER_URL] [flags]
//
// With a superuser URL (-url or AUTH_SESSION_TEST_URL) it works in a database
// of its own on that server, dropped at the end; without one it starts a
// throwaway PostgreSQL with package pgcluster. Without -bin it builds the
// binary into a temporary directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/benchmain"
	"github.com/auth-session/auth-session/bench/internal/cmdbench"
	"github.com/auth-session/auth-session/internal/testbin"
)

// options are the command line.
type options struct {
	url            string
	bin            string
	psql           string
	loginReps      int
	logoutSessions int
	logoutReps     int
	listRows       int
	listReps       int
	bulkUsers      int
	bulkSessions   int
	only           string
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", os.Getenv("AUTH_SESSION_TEST_URL"), "superuser URL of a PostgreSQL to use; empty starts a throwaway one")
	flag.StringVar(&o.bin, "bin", "", "auth-session binary to measure; empty builds ./cmd/auth-session")
	flag.StringVar(&o.psql, "psql", "", "psql binary; empty finds the real one (not Debian's Perl wrapper) beside initdb, else on PATH")
	flag.IntVar(&o.loginReps, "login-reps", 100, "login runs of each program, alternating")
	flag.IntVar(&o.logoutSessions, "logout-sessions", 100_000, "sessions of the user that logout revokes")
	flag.IntVar(&o.logoutReps, "logout-reps", 5, "logout runs of each program, alternating, each on a refilled table")
	flag.IntVar(&o.listRows, "list-rows", 1_000_000, "sessions that list prints")
	flag.IntVar(&o.listReps, "list-reps", 3, "list runs of each program, alternating")
	flag.IntVar(&o.bulkUsers, "bulk-users", 10_000, "users in the file of the bulk logout")
	flag.IntVar(&o.bulkSessions, "bulk-sessions", 100_000, "live sessions of those users")
	flag.StringVar(&o.only, "only", "", "comma-separated measurements to run: login, logout, list, bulk-logout, logout-all, list-selection; empty runs all")
	flag.Parse()
	if flag.NArg() > 0 || o.loginReps < 1 || o.logoutReps < 1 || o.listReps < 1 || o.logoutSessions < 1 || o.listRows < 1 {
		flag.Usage()
		os.Exit(2)
	}
	benchmain.Run("bench/cli", func(ctx context.Context) error { return run(ctx, os.Stdout, o) })
}

func run(ctx context.Context, out io.Writer, o options) (err error) {
	if o.bin == "" {
		dir, err := os.MkdirTemp("", "bench-cli-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.bin = filepath.Join(dir, "auth-session")
		fmt.Fprintln(out, "building auth-session ...")
		if b, err := exec.CommandContext(ctx, "go", "build", "-tags", testbin.BuildTags, "-o", o.bin, "./cmd/auth-session").CombinedOutput(); err != nil {
			return fmt.Errorf("build auth-session: %v\n%s", err, b)
		}
	} else if o.bin, err = filepath.Abs(o.bin); err != nil {
		return err
	}
	if o.psql == "" {
		if o.psql, err = cmdbench.FindPsql(); err != nil {
			return err
		}
	}
	if o.url == "" {
		fmt.Fprintln(out, "starting a throwaway PostgreSQL (pass -url or AUTH_SESSION_TEST_URL to use your own server) ...")
	}
	url, remove, err := benchdb.Server(ctx, o.url)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, remove()) }()
	o.url = url
	db, err := openBenchDB(ctx, o.url)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.close()) }()
	if err := db.describe(ctx, out, o); err != nil {
		return err
	}
	b := &bench{db: db, bin: o.bin, psql: o.psql, out: out}
	if err := b.checkOutputs(ctx); err != nil {
		return err
	}

	var rows []reportRow
	for _, m := range []struct {
		name    string
		measure func(context.Context, options) ([]reportRow, error)
	}{
		{"login", b.login}, {"logout", b.logout}, {"list", b.list},
		{"bulk-logout", b.bulkLogout}, {"logout-all", b.logoutAll}, {"list-selection", b.listSelection},
	} {
		if o.only != "" && !slices.Contains(strings.Split(o.only, ","), m.name) {
			continue
		}
		r, err := m.measure(ctx, o)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	fmt.Fprintln(out)
	printReport(out, rows)
	return nil
}

// since formats how long ago began was, for progress lines.
func since(began time.Time) string {
	return time.Since(began).Round(10 * time.Millisecond).String()
}
