// Command scale measures what issue 21 measures, at several table sizes:
// for each size it fills a sessions table once and runs every measure
// against it, each beside the raw database doing the same work in the same
// run, rounds interleaved, and prints one markdown table per size with the
// ratios (ranges over the rounds):
//
//   - purge --batch 1000 and --batch 10000 against one raw DELETE of the
//     same rows, each on its own copy of the filled database;
//   - the session check statement (sql.CheckSession) against a raw
//     primary-key SELECT of the same rows, and whoami through a real serve
//     process against the same SELECT and against serve's HTTP floor;
//   - login, logout USER, list --user, list --expired-within and revoke ID
//     as whole processes against psql running the same statement;
//   - the peak memory of list --format table and --format html of the
//     whole table.
//
// It also counts the round trips each everyday command makes, through a
// proxy that reads the protocol between the command and PostgreSQL, and
// prints the statements each sends, in order.
//
//	go run ./bench/scale [-sizes "100k 1M 10M"] [-rounds 2] [-bin bin/auth-session] [-url SUPERUSER_URL]
//
// Without -url (or AUTH_SESSION_TEST_URL) it starts a throwaway PostgreSQL
// with package pgcluster; with one it works in databases of its own
// (scale_*), dropped at the end, and creates and drops the roles
// scale_u0 to scale_u999 on that server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/benchmain"
	"github.com/auth-session/auth-session/bench/internal/cmdbench"
	"github.com/auth-session/auth-session/bench/internal/tablesize"
)

// options are the command line.
type options struct {
	url         string
	bin         string
	psql        string
	sizes       []int
	rounds      int
	concurrency int
	warmup      time.Duration
	duration    time.Duration
	reps        int
	rssCap      int64
}

func main() {
	var o options
	sizes := flag.String("sizes", "100k", `table sizes, such as "100k 1M 10M"`)
	flag.StringVar(&o.url, "url", os.Getenv("AUTH_SESSION_TEST_URL"), "superuser URL of a PostgreSQL to use; empty starts a throwaway one")
	flag.StringVar(&o.bin, "bin", "bin/auth-session", "auth-session binary to measure (make build)")
	flag.StringVar(&o.psql, "psql", "", "psql binary; empty finds the real one (not Debian's Perl wrapper) beside initdb, else on PATH")
	flag.IntVar(&o.rounds, "rounds", 2, "interleaved rounds of every measure; the table shows the range over them")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients of the session check, whoami and the raw SELECT")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured run of each request load before each round")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured run of each request load in each round")
	flag.IntVar(&o.reps, "reps", 10, "runs of each command and of psql in each round, alternating; the round's figure is their median")
	rssCap := flag.Int64("rss-cap", 1024, "MiB at which a list whose memory grows with the table is stopped")
	flag.Parse()
	var err error
	if o.sizes, err = tablesize.Parse(*sizes); err != nil {
		fmt.Fprintf(os.Stderr, "bench/scale: -sizes: %v\n", err)
		os.Exit(2)
	}
	if flag.NArg() > 0 || o.rounds < 1 || o.reps < 1 || o.concurrency < 1 || o.duration <= 0 || *rssCap < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if n := o.rounds*2*o.reps + 2; n > logoutUsers {
		fmt.Fprintf(os.Stderr, "bench/scale: -rounds × -reps too large: logout needs a user of its own for each of %d runs, and has %d\n", n, logoutUsers)
		os.Exit(2)
	}
	o.rssCap = *rssCap << 20
	benchmain.Run("bench/scale", func(ctx context.Context) error { return run(ctx, os.Stdout, o) })
}

func run(ctx context.Context, out io.Writer, o options) (err error) {
	if o.bin, err = filepath.Abs(o.bin); err != nil {
		return err
	}
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("%w: build it first (make build) or pass -bin", err)
	}
	if o.psql == "" {
		if o.psql, err = cmdbench.FindPsql(); err != nil {
			return err
		}
	}
	ownServer := o.url == ""
	if ownServer {
		progress("starting a throwaway PostgreSQL (pass -url or AUTH_SESSION_TEST_URL to use your own server)")
	}
	url, remove, err := benchdb.Server(ctx, o.url)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, remove()) }()
	o.url = url
	if err := benchdb.ExecOn(ctx, o.url, createRoles); err != nil {
		return err
	}
	if !ownServer {
		defer func() { err = errors.Join(err, benchdb.ExecOn(context.WithoutCancel(ctx), o.url, dropRoles)) }()
	}
	server, err := describeServer(ctx, o.url)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s; auth-session %s, psql %s.\n", server, o.bin, o.psql)
	for _, n := range o.sizes {
		if err := runSize(ctx, out, o, n); err != nil {
			return fmt.Errorf("%s sessions: %w", tablesize.Name(n), err)
		}
	}
	return nil
}

func describeServer(ctx context.Context, adminURL string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	return benchdb.DescribeServer(ctx, conn)
}

// progress says on standard error what the benchmark is doing.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
