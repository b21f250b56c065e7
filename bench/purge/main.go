// Command purge measures auth-session's batched purge against one raw
// DELETE of the same rows, on a table of generated expired sessions.
//
//	go run ./bench/purge [-rows 1000000] [-batch 1000,10000] [-rounds 3] [SUPERUSER_URL]
//
// With a superuser URL it works in a database of its own on that server,
// dropped at the end; without one it starts a throwaway PostgreSQL with
// package pgcluster. Before each measurement the table is emptied, refilled
// with COPY, vacuumed, analyzed and checkpointed, so every run starts from
// the same state; autovacuum is off for the table so that it cannot land in
// one run and not another. Each round measures one raw
// DELETE ... WHERE expires_at < now() - 1h, then sql.Purge (as the purge
// command runs it) with each batch size, on two tables: one whose sessions
// all lived an hour, so expiry follows insertion order on disk, and one whose
// lifetimes are spread from 1 to 24 hours. It prints a markdown table of the
// median rates for the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/benchmain"
	"github.com/auth-session/auth-session/pkg/sql"
)

type options struct {
	rows   int
	sizes  []int
	rounds int
}

func main() {
	var o options
	flag.IntVar(&o.rows, "rows", 1_000_000, "expired sessions to generate and delete in each measurement")
	batches := flag.String("batch", "1000,10000", "purge batch sizes to measure, comma-separated")
	flag.IntVar(&o.rounds, "rounds", 3, "measurements of each method; the report shows the median")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./bench/purge [flags] [SUPERUSER_URL]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	var err error
	if o.sizes, err = parseSizes(*batches); err != nil || o.rows < 1 || o.rounds < 1 || flag.NArg() > 1 {
		flag.Usage()
		os.Exit(2)
	}
	benchmain.Run("bench/purge", func(ctx context.Context) error { return run(ctx, os.Stdout, flag.Arg(0), o) })
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > sql.MaxPurgeBatch {
			return nil, fmt.Errorf("invalid batch size %q", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// layout is how the generated sessions' expiry relates to their place on disk.
type layout struct {
	name string
	// lifetimeSpread is added at random to each session's one-hour life.
	lifetimeSpread time.Duration
}

var layouts = []layout{
	{"lifetimes all 1h (expiry in insertion order)", 0},
	{"lifetimes 1h to 24h (expiry scattered)", 23 * time.Hour},
}

// measurement is one method on one layout, over the rounds.
type measurement struct {
	layout, method string
	rates          []float64 // rows/s, one per round
	batches        int
	latencies      []time.Duration // of every batch of every round
}

func (m *measurement) median() float64 {
	r := slices.Clone(m.rates)
	slices.Sort(r)
	return r[len(r)/2]
}

func run(ctx context.Context, out io.Writer, adminURL string, o options) (err error) {
	_, conn, closeDB, err := benchdb.Open(ctx, adminURL, "auth_session_bench_purge")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeDB()) }()
	if _, err := conn.Exec(ctx, "ALTER TABLE system.web_sessions SET (autovacuum_enabled = false)"); err != nil {
		return err
	}
	server, err := benchdb.DescribeServer(ctx, conn)
	if err != nil {
		return err
	}

	var results []*measurement
	for _, l := range layouts {
		raw := &measurement{layout: l.name, method: "raw DELETE, one statement", batches: 1}
		results = append(results, raw)
		purges := make([]*measurement, len(o.sizes))
		for i, size := range o.sizes {
			purges[i] = &measurement{layout: l.name, method: fmt.Sprintf("purge --batch %d", size)}
		}
		results = append(results, purges...)
		for round := 1; round <= o.rounds; round++ {
			fmt.Fprintf(os.Stderr, "%s, round %d of %d\n", l.name, round, o.rounds)
			if err := measure(ctx, conn, l, o.rows, raw, rawDelete); err != nil {
				return err
			}
			for i, size := range o.sizes {
				if err := measure(ctx, conn, l, o.rows, purges[i], purgeWith(size)); err != nil {
					return err
				}
			}
		}
	}
	fmt.Fprintf(out, "Purge of %d expired sessions, median of %d rounds; %s.\n\n", o.rows, o.rounds, server)
	report(out, results)
	return nil
}

// deleter deletes every row of the filled table and says how many it
// deleted and how long each of its transactions took.
type deleter func(ctx context.Context, conn *pgx.Conn) (int64, []time.Duration, error)

func rawDelete(ctx context.Context, conn *pgx.Conn) (int64, []time.Duration, error) {
	tag, err := conn.Exec(ctx, "DELETE FROM system.web_sessions WHERE expires_at < now() - INTERVAL '1 hour'")
	return tag.RowsAffected(), nil, err
}

// purgeWith runs sql.Purge as the purge command does, on one connection.
func purgeWith(batch int) deleter {
	return func(ctx context.Context, conn *pgx.Conn) (int64, []time.Duration, error) {
		var latencies []time.Duration
		last := time.Now()
		res, err := sql.Purge(ctx, conn, sql.PurgeOptions{OlderThan: time.Hour, Batch: batch,
			Audit: sql.PurgeAudit{Via: "bench"}}, func(sql.PurgeProgress) {
			now := time.Now()
			latencies = append(latencies, now.Sub(last))
			last = now
		})
		return res.Sessions(), latencies, err
	}
}

func measure(ctx context.Context, conn *pgx.Conn, l layout, rows int, m *measurement, del deleter) error {
	if err := benchdb.Fill(ctx, conn, rows, l.lifetimeSpread); err != nil {
		return err
	}
	began := time.Now()
	n, latencies, err := del(ctx, conn)
	elapsed := time.Since(began)
	if err != nil {
		return fmt.Errorf("%s: %w", m.method, err)
	}
	if n != int64(rows) {
		return fmt.Errorf("%s deleted %d rows, want %d", m.method, n, rows)
	}
	m.rates = append(m.rates, float64(n)/elapsed.Seconds())
	if latencies != nil {
		m.batches = len(latencies)
		m.latencies = append(m.latencies, latencies...)
	}
	return nil
}

func report(out io.Writer, results []*measurement) {
	fmt.Fprintln(out, "| table | method | rows/s | vs raw | transactions | batch p50 | batch p99 |")
	fmt.Fprintln(out, "| --- | --- | ---: | ---: | ---: | ---: | ---: |")
	var raw float64
	for _, m := range results {
		if m.latencies == nil {
			raw = m.median()
			fmt.Fprintf(out, "| %s | %s | %.0f | 1.00 | 1 | | |\n", m.layout, m.method, raw)
			continue
		}
		slices.Sort(m.latencies)
		pct := func(p int) time.Duration {
			return m.latencies[(len(m.latencies)-1)*p/100].Round(10 * time.Microsecond)
		}
		fmt.Fprintf(out, "| %s | %s | %.0f | **%.2f** | %d | %v | %v |\n",
			m.layout, m.method, m.median(), m.median()/raw, m.batches, pct(50), pct(99))
	}
	fmt.Fprintln(out, "\nTarget: purge at least 0.80 of the raw rate.")
}
