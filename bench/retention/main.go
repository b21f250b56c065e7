// Command retention measures plain declarative partitioning of
// system.web_sessions as the retention design that issue 21 §1 asks about,
// against today's table, at several table sizes:
//
//   - retention: one raw DELETE of what purge deletes (expired or revoked
//     more than an hour ago) from today's table, against, on a table
//     RANGE-partitioned by id into one partition a day, dropping the
//     partitions whose every row is purgeable (DROP TABLE, or DETACH …
//     CONCURRENTLY then DROP) and deleting what is left to purge in the
//     others; each method on its own copy of the filled database, whole
//     statements timed, with the WAL each wrote and the VACUUM the DELETE
//     leaves behind;
//   - the hot path: a raw primary-key SELECT by id, and the session check
//     statement (sql.CheckSession), through a pool of 16 connections with
//     prepared statements as serve uses, from 32 clients, on ids spread over
//     the table, against today's table, the partitioned one, and the
//     partitioned one with a year of daily partitions; and how many
//     relations one lookup locks under each plan cache mode.
//
// Each size is filled in several ways (-fills): issue 21's table, whose
// purgeable tenth was created before every live session; sessions of one
// fixed lifetime created evenly over 31 days (expiry follows creation,
// the case partitioning suits), with and without logouts spread over
// their lives; and a table whose short-lived tenth is scattered among
// long-lived sessions of every day. Today's table has its rows scattered
// over its pages, as bench/scale's fill leaves them and as years of
// reused free space would (-heap creation keeps them in creation order);
// each partition has its rows in creation order, since a partition takes
// inserts only on its own day.
//
//	go run ./bench/retention [-sizes "1M 10M"] [-fills "issue21 lifetime logouts scattered"] [-rounds 2] [-heap scattered] [-url SUPERUSER_URL]
//
// Without -url (or AUTH_SESSION_TEST_URL) it starts a throwaway PostgreSQL
// with package pgcluster; with one it works in databases of its own
// (retention_*), dropped at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/benchmain"
	"github.com/auth-session/auth-session/bench/internal/tablesize"
)

// options are the command line.
type options struct {
	url         string
	sizes       []int
	fills       []fillKind
	lookupFill  string
	rounds      int
	concurrency int
	warmup      time.Duration
	duration    time.Duration
	yearDays    int
	scatter     bool
}

func main() {
	var o options
	sizes := flag.String("sizes", "1M", `table sizes, such as "1M 10M"`)
	fills := flag.String("fills", "issue21 lifetime logouts scattered", "ways to fill each size: "+fillNames())
	flag.StringVar(&o.url, "url", os.Getenv("AUTH_SESSION_TEST_URL"), "superuser URL of a PostgreSQL to use; empty starts a throwaway one")
	flag.StringVar(&o.lookupFill, "lookup-fill", "lifetime", "the fill on which the hot path is measured (its rows span every day); empty measures none")
	flag.IntVar(&o.rounds, "rounds", 2, "interleaved rounds of every measure; the tables show the range over them")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients of the lookups")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured run of each lookup load before the first round")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured run of each lookup load in each round")
	flag.IntVar(&o.yearDays, "year", 365, "daily partitions of the larger partitioned table the lookups also run on (0: none)")
	heap := flag.String("heap", "scattered", `order of today's table's heap: "scattered" (purge's rows on nearly every page, as bench/scale's fill leaves them) or "creation"`)
	flag.Parse()
	o.scatter = *heap == "scattered"
	if *heap != "scattered" && *heap != "creation" {
		fmt.Fprintf(os.Stderr, "bench/retention: -heap %q: want scattered or creation\n", *heap)
		os.Exit(2)
	}
	var err error
	if o.sizes, err = tablesize.Parse(*sizes); err != nil {
		fmt.Fprintf(os.Stderr, "bench/retention: -sizes: %v\n", err)
		os.Exit(2)
	}
	if o.fills, err = parseFills(*fills); err != nil {
		fmt.Fprintf(os.Stderr, "bench/retention: -fills: %v\n", err)
		os.Exit(2)
	}
	if flag.NArg() > 0 || o.rounds < 1 || o.concurrency < 1 || o.duration <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	benchmain.Run("bench/retention", func(ctx context.Context) error { return run(ctx, os.Stdout, o) })
}

func run(ctx context.Context, out io.Writer, o options) (err error) {
	if o.url == "" {
		progress("starting a throwaway PostgreSQL (pass -url or AUTH_SESSION_TEST_URL to use your own server)")
	}
	url, remove, err := benchdb.Server(ctx, o.url)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, remove()) }()
	o.url = url
	conn, err := pgx.Connect(ctx, o.url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	server, err := benchdb.DescribeServer(ctx, conn)
	conn.Close(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s.\n", server)
	for _, n := range o.sizes {
		for _, f := range o.fills {
			if err := runFill(ctx, out, o, n, f); err != nil {
				return fmt.Errorf("%s sessions, fill %s: %w", tablesize.Name(n), f.name, err)
			}
		}
	}
	return nil
}

// progress says on standard error what the benchmark is doing.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// loadAverage is the machine's load average over the last minute, or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return -1
	}
	return v
}
