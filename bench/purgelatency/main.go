// Command purgelatency measures what a purge costs the live path: the p50
// and p99 of authenticated GET /api/v2/whoami requests while sql.Purge
// deletes a million expired sessions, against the same load on the same
// table without it, in the same run.
//
//	go run ./bench/purgelatency [-rows 1000000] [-active 5000] [-concurrency 8] [-rate 2000] [-duration 5s] [-rounds 5] [SUPERUSER_URL]
//
// Each round refills the table with COPY (as bench/purge fills it: expired
// sessions, every tenth revoked) plus -active sessions made as login makes
// them, whose cookies the clients present; measures whoami for -duration;
// then measures it again for as long as the purge of the expired sessions
// runs. The report pools the rounds' latencies. The server runs in this
// process on a loopback port, over a pool of serve's default size; the
// purge runs on a connection of its own, as the purge command does.
//
// The load is paced, since the question is what the purge does to the
// latency of a server with room to spare, not to the throughput of a
// saturated one: -concurrency clients send -rate requests per second in
// all (the default, 2000, is about a quarter of what 8 closed-loop clients
// get on 2 CPUs), and a request held up by a slow one counts from when it
// was due, so a stall shows in every request it delayed. -rate 0 runs a
// closed loop instead. With a superuser URL it works in a database of its
// own on that server, dropped at the end; without one it starts a throwaway
// PostgreSQL with package pgcluster. It prints a markdown table for the
// README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/benchmain"
	"github.com/auth-session/auth-session/bench/internal/httpload"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

type options struct {
	rows, active int
	concurrency  int
	rate         float64
	duration     time.Duration
	warmup       time.Duration
	batch        int
	pace         float64
	rounds       int
	// maxPurge bounds the purge, and the load measured alongside it.
	maxPurge time.Duration
}

// serveMaxConns is serve's default --max-conns.
const serveMaxConns = 16

func main() {
	var o options
	flag.IntVar(&o.rows, "rows", 1_000_000, "expired sessions to generate, which the purge deletes")
	flag.IntVar(&o.active, "active", 5000, "active sessions the clients authenticate with")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent clients, each on a kept-alive connection")
	flag.Float64Var(&o.rate, "rate", 2000, "requests per second of all clients together; 0 runs a closed loop")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each round's measurement without a purge")
	flag.IntVar(&o.rounds, "rounds", 5, "rounds of refill, measure without a purge, measure while purging")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured load before the measurements")
	flag.IntVar(&o.batch, "batch", sql.BackgroundPurgeBatch, "purge batch size (serve's background purge's by default)")
	flag.Float64Var(&o.pace, "pace", 1, "purge pace: after each batch wait this many times as long as it took (serve's default is 1; 0 runs flat out, as the purge command does by default)")
	flag.DurationVar(&o.maxPurge, "max-purge", 90*time.Second, "give up when the purge takes longer")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./bench/purgelatency [flags] [SUPERUSER_URL]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if o.rows < 1 || o.active < 1 || o.concurrency < 1 || o.rate < 0 || o.duration <= 0 || o.warmup < 0 ||
		o.batch < 1 || o.rounds < 1 || o.batch > sql.MaxPurgeBatch || o.maxPurge <= 0 || flag.NArg() > 1 {
		flag.Usage()
		os.Exit(2)
	}
	benchmain.Run("bench/purgelatency", func(ctx context.Context) error { return run(ctx, os.Stdout, flag.Arg(0), o) })
}

func run(ctx context.Context, out io.Writer, adminURL string, o options) (err error) {
	dbConfig, conn, closeDB, err := benchdb.Open(ctx, adminURL, "auth_session_bench_purgelatency")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeDB()) }()
	server, err := benchdb.DescribeServer(ctx, conn)
	if err != nil {
		return err
	}

	poolConfig, err := pgxpool.ParseConfig("")
	if err != nil {
		return err
	}
	poolConfig.ConnConfig = dbConfig
	poolConfig.MaxConns = serveMaxConns
	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return err
	}
	defer pool.Close()

	// Roles belong to the whole server, so this one is dropped at the end.
	role := dbConfig.Database + "_user"
	if _, err := conn.Exec(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "DROP ROLE IF EXISTS "+role) //nolint:errcheck // best effort at exit
	addr, stopServer, err := httpload.StartServer(ctx, pool, 0)
	if err != nil {
		return err
	}
	defer stopServer()
	clients := httpload.NewClients(addr, o.concurrency)
	defer clients.Close()

	var (
		idle, during         []time.Duration
		idleTime, duringTime time.Duration
		rates, ratios        []float64
		batches              int
	)
	for round := 1; round <= o.rounds; round++ {
		fmt.Fprintf(os.Stderr, "round %d of %d: %d expired and %d active sessions ...\n", round, o.rounds, o.rows, o.active)
		whoami, err := fillRound(ctx, conn, pool, role, clients, addr, o)
		if err != nil {
			return err
		}
		if round == 1 {
			if _, err := (httpload.Load{Concurrency: o.concurrency, Duration: o.warmup, Rate: o.rate}).Run(ctx, whoami); err != nil {
				return fmt.Errorf("warm up: %w", err)
			}
		}
		latencies, err := httpload.Load{Concurrency: o.concurrency, Duration: o.duration, Rate: o.rate}.Run(ctx, whoami)
		if err != nil {
			return fmt.Errorf("whoami without a purge: %w", err)
		}
		p, err := measureDuringPurge(ctx, conn, whoami, o)
		if err != nil {
			return err
		}
		if err := checkPurged(ctx, conn, p.res, o); err != nil {
			return err
		}
		i, d := httpload.Summarize(latencies, o.duration), p.during
		fmt.Fprintf(os.Stderr, "  p99 %v without a purge, %v during it (%.2f); purge %.0f rows/s\n",
			i.P99, d.P99, float64(d.P99)/float64(i.P99), float64(p.res.Sessions())/p.purgeTime.Seconds())
		idle, idleTime = append(idle, latencies...), idleTime+o.duration
		during, duringTime = append(during, p.latencies...), duringTime+p.loadTime
		rates = append(rates, float64(p.res.Sessions())/p.purgeTime.Seconds())
		ratios = append(ratios, float64(d.P99)/float64(i.P99))
		batches = p.res.Batches
	}

	load := fmt.Sprintf("%.0f requests/s from %d clients, paced (a request held up by a slow one counts from when it was due)",
		o.rate, o.concurrency)
	if o.rate == 0 {
		load = fmt.Sprintf("%d clients in a closed loop", o.concurrency)
	}
	fmt.Fprintf(out, "Authenticated `GET /api/v2/whoami`, %s, over %d active sessions, on loopback; "+
		"the purge deletes %d expired sessions with batch %d (%d transactions) at pace %g on a connection of its own; "+
		"%d rounds, each measuring %v without a purge, then for as long as the purge runs; %s.\n\n",
		load, o.active, o.rows, o.batch, batches, o.pace, o.rounds, o.duration, server)
	fmt.Fprintln(out, "| measurement | seconds | requests | req/s | p50 | p99 |")
	fmt.Fprintln(out, "| --- | ---: | ---: | ---: | ---: | ---: |")
	row := func(name string, d time.Duration, latencies []time.Duration) httpload.Stats {
		s := httpload.Summarize(latencies, d)
		fmt.Fprintf(out, "| %s | %.1f | %d | %.0f | %v | %v |\n", name, d.Seconds(), s.Requests, s.Rate,
			s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond))
		return s
	}
	i := row("whoami, no purge", idleTime, idle)
	d := row("whoami while the purge runs", duringTime, during)
	fmt.Fprintf(out, "\nThe purge under this load: **%.0f rows/s** (median of the rounds).\n", median(rates))
	fmt.Fprintf(out, "p99 while purging / p99 without: **%.2f** (target: at most 2.00); p50: %.2f; p99 ratio of each round: %s.\n",
		float64(d.P99)/float64(i.P99), float64(d.P50)/float64(i.P50), formatRatios(ratios))
	return nil
}

// fillRound refills the table with o.rows expired sessions and o.active
// active ones, and returns the request that authenticates with the active
// sessions in turn.
func fillRound(ctx context.Context, conn *pgx.Conn, pool *pgxpool.Pool, role string, clients httpload.Clients, addr string,
	o options) (func(context.Context, int) error, error) {
	if err := benchdb.Fill(ctx, conn, o.rows, 0); err != nil {
		return nil, err
	}
	_, values, err := benchdb.CreateSessions(ctx, pool, role, o.active)
	if err != nil {
		return nil, err
	}
	requests := make([][]byte, len(values))
	for i, v := range values {
		requests[i] = httpload.GetRequest(addr, "/api/v2/whoami", "Cookie: "+auth.CookieName+"="+v)
	}
	return func(_ context.Context, i int) error {
		return clients.Expect(i, requests[i%len(requests)], http.StatusOK)
	}, nil
}

// checkPurged checks that the purge took every expired session and left
// every active one.
func checkPurged(ctx context.Context, conn *pgx.Conn, res sql.PurgeResult, o options) error {
	if res.Sessions() != int64(o.rows) {
		return fmt.Errorf("the purge deleted %d sessions, want %d", res.Sessions(), o.rows)
	}
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM system.web_sessions").Scan(&left); err != nil {
		return err
	}
	if left != o.active {
		return fmt.Errorf("%d sessions left after the purge, want the %d active ones", left, o.active)
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func formatRatios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}

// purgeRun is what measureDuringPurge measured.
type purgeRun struct {
	res       sql.PurgeResult
	purgeTime time.Duration
	during    httpload.Stats
	latencies []time.Duration
	loadTime  time.Duration
}

// measureDuringPurge runs the purge and, from when it starts until it ends,
// the load; both stop after o.maxPurge at most.
func measureDuringPurge(ctx context.Context, conn *pgx.Conn, op func(context.Context, int) error, o options) (purgeRun, error) {
	ctx, cancel := context.WithTimeout(ctx, o.maxPurge)
	defer cancel()
	var (
		r        purgeRun
		purgeErr error
	)
	done := make(chan struct{})
	began := time.Now()
	go func() {
		defer close(done)
		r.res, purgeErr = sql.Purge(ctx, conn, sql.PurgeOptions{OlderThan: sql.DefaultPurgeOlderThan, Batch: o.batch, Pace: o.pace,
			Audit: sql.PurgeAudit{Via: "bench"}}, nil)
		r.purgeTime = time.Since(began)
	}()
	latencies, loadErr := httpload.Load{Concurrency: o.concurrency, Duration: o.maxPurge, Stop: done, Rate: o.rate}.Run(ctx, op)
	r.loadTime = time.Since(began)
	<-done
	switch {
	case purgeErr != nil:
		return r, fmt.Errorf("purge: %w", purgeErr)
	case loadErr != nil:
		return r, fmt.Errorf("whoami while purging: %w", loadErr)
	}
	r.latencies = slices.Clone(latencies)
	r.during = httpload.Summarize(latencies, r.loadTime)
	return r, nil
}
