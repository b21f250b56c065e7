// Command whoami measures the HTTP interface's authenticated hot path: the
// rate of GET /api/v2/whoami requests, each presenting a session cookie,
// against the rate of the same session lookup issued straight through pgx,
// at the same concurrency, in the same run and on the same database; and
// whoami with the server's metrics on against the same server with them off.
//
//	go run ./bench/whoami [--url SUPERUSER_URL] [--concurrency 32] [--duration 10s]
//
// Without --url it starts a throwaway PostgreSQL with internal/pgcluster; with it,
// it works in a database of its own that it drops at the end. Everything
// runs on loopback; the server runs in this process, logging every request
// to a file as serve does to stderr.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/benchmain"
	"github.com/auth-session/auth-session/bench/internal/httpload"
	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgcluster/ha"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/cli"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

type options struct {
	url         string
	sessions    int
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	maxConns    int
	cpuProfile  string
	rounds      int
	maxLookups  int
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", os.Getenv("AUTH_SESSION_TEST_URL"), "superuser URL of a PostgreSQL to use; empty starts a throwaway one")
	flag.IntVar(&o.sessions, "sessions", 10000, "sessions to create; the clients spread their requests over them")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients in each measurement")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measurement")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured run before each measurement")
	flag.IntVar(&o.maxConns, "max-conns", 16, "pool size, for the server and for the raw lookups alike (serve's default is 16)")
	flag.IntVar(&o.maxLookups, "max-lookups", 0, "session lookup statements the server runs at once (0: its default)")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds each measurement is split into")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measurements to `FILE`")
	flag.Parse()
	benchmain.Run("bench/whoami", func(ctx context.Context) error { return run(ctx, o) })
}

func run(ctx context.Context, o options) error {
	superURL := o.url
	if superURL == "" {
		fmt.Fprintln(os.Stderr, "starting a throwaway PostgreSQL ...")
		c, err := pgcluster.Start(ctx, pgcluster.Options{StopWithProcess: true})
		if err != nil {
			return err
		}
		defer c.Remove() //nolint:errcheck // best effort at exit
		superURL = c.SuperURL("postgres")
	}
	dbURL, dropDB, err := scratchDatabase(ctx, superURL)
	if err != nil {
		return err
	}
	defer dropDB()

	poolCfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	poolCfg.MaxConns = int32(o.maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	// pool keeps pgx's default, prepared statements, as serve does on a
	// direct connection. Behind a pooler serve prepares nothing
	// (cli.PoolerQueryExecMode): pooledPool measures what that costs.
	pooledCfg := poolCfg.Copy()
	pooledCfg.ConnConfig.DefaultQueryExecMode = cli.PoolerQueryExecMode
	pooledPool, err := pgxpool.NewWithConfig(ctx, pooledCfg)
	if err != nil {
		return err
	}
	defer pooledPool.Close()
	if _, err := sql.Migrate(ctx, pool, sql.MigrateOptions{}); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Roles belong to the whole server, so this one is dropped at the end.
	role := "bench_user_" + randomHex(4)
	if _, err := pool.Exec(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	defer pool.Exec(context.WithoutCancel(ctx), "DROP ROLE IF EXISTS "+role) //nolint:errcheck
	fmt.Fprintf(os.Stderr, "creating %d sessions ...\n", o.sessions)
	ids, values, err := benchdb.CreateSessions(ctx, pool, role, o.sessions)
	if err != nil {
		return err
	}

	bouncerPool, stopBouncer, err := throughBouncer(ctx, dbURL, o.maxConns)
	if err != nil {
		return err
	}
	defer stopBouncer()
	defer bouncerPool.Close()
	bouncerAddr, stopBouncerServer, err := httpload.StartServer(ctx, bouncerPool, o.maxLookups)
	if err != nil {
		return err
	}
	defer stopBouncerServer()
	bouncerClients := httpload.NewClients(bouncerAddr, o.concurrency)
	defer bouncerClients.Close()

	addr, stopServer, err := httpload.StartServer(ctx, pool, o.maxLookups)
	if err != nil {
		return err
	}
	defer stopServer()
	clients := httpload.NewClients(addr, o.concurrency)
	defer clients.Close()
	// The same server without its metrics (serve --metrics=false).
	unmeteredAddr, stopUnmetered, err := httpload.StartServer(ctx, pool, o.maxLookups,
		func(c *server.Config) { c.DisableMetrics = true })
	if err != nil {
		return err
	}
	defer stopUnmetered()
	unmeteredClients := httpload.NewClients(unmeteredAddr, o.concurrency)
	defer unmeteredClients.Close()
	// The same server in the statement mode serve uses behind pgbouncer.
	preparedAddr, stopPrepared, err := httpload.StartServer(ctx, pooledPool, o.maxLookups)
	if err != nil {
		return err
	}
	defer stopPrepared()
	preparedClients := httpload.NewClients(preparedAddr, o.concurrency)
	defer preparedClients.Close()
	// A second server that may run a statement per client: each request is
	// looked up on its own, as without the shared lookups.
	singleAddr, stopSingle, err := httpload.StartServer(ctx, pool, o.concurrency)
	if err != nil {
		return err
	}
	defer stopSingle()
	singleClients := httpload.NewClients(singleAddr, o.concurrency)
	defer singleClients.Close()
	whoamiRequests := make([][]byte, len(values))
	for i, v := range values {
		whoamiRequests[i] = httpload.GetRequest(addr, "/api/v2/whoami", "Cookie: "+auth.CookieName+"="+v)
	}
	noCookieRequest := httpload.GetRequest(addr, "/api/v2/whoami")
	workloads := []httpload.Workload{
		{Name: "the session lookup SELECT straight through pgx", Op: func(ctx context.Context, i int) error {
			_, err := sql.CheckSession(ctx, pool, ids[i%len(ids)], sql.CheckPolicy{TouchInterval: auth.DefaultTouchInterval})
			return err
		}},
		{Name: "the session lookup SELECT as before the credential stamps (pg_roles, no stamp), straight through pgx", Op: func(ctx context.Context, i int) error {
			return lookupWithoutStamp(ctx, pool, ids[i%len(ids)])
		}},
		{Name: "authenticated `GET /api/v2/whoami`", Op: func(_ context.Context, i int) error {
			return clients.Expect(i, whoamiRequests[i%len(whoamiRequests)], http.StatusOK)
		}},
		{Name: "authenticated `GET /api/v2/whoami` without prepared statements, as serve runs behind pgbouncer (cache_describe)", Op: func(_ context.Context, i int) error {
			return preparedClients.Expect(i, whoamiRequests[i%len(whoamiRequests)], http.StatusOK)
		}},
		{Name: "authenticated `GET /api/v2/whoami` through pgbouncer in transaction mode (no prepared statements)", Op: func(_ context.Context, i int) error {
			return bouncerClients.Expect(i, whoamiRequests[i%len(whoamiRequests)], http.StatusOK)
		}},
		{Name: "authenticated `GET /api/v2/whoami`, one lookup statement per request", Op: func(_ context.Context, i int) error {
			return singleClients.Expect(i, whoamiRequests[i%len(whoamiRequests)], http.StatusOK)
		}},
		{Name: "`GET /api/v2/whoami` without a cookie (401, no database: the HTTP floor)", Op: func(_ context.Context, i int) error {
			return clients.Expect(i, noCookieRequest, http.StatusUnauthorized)
		}},
	}

	maxLookups := o.maxLookups
	if maxLookups <= 0 {
		maxLookups = auth.DefaultMaxConcurrentLookups
	}
	// What the metrics cost: whoami on the server above against the same
	// server without metrics, measured apart, in rounds that alternate
	// which goes first, since a workload run right after another kind
	// (the raw lookups, say) measured up to a third slower.
	metricsPair := []httpload.Workload{
		{Name: "authenticated `GET /api/v2/whoami`, metrics on (serve's default)", Op: func(_ context.Context, i int) error {
			return clients.Expect(i, whoamiRequests[i%len(whoamiRequests)], http.StatusOK)
		}},
		{Name: "authenticated `GET /api/v2/whoami`, metrics off (`serve --metrics=false`)", Op: func(_ context.Context, i int) error {
			return unmeteredClients.Expect(i, whoamiRequests[i%len(whoamiRequests)], http.StatusOK)
		}},
	}
	pairRounds := o
	pairRounds.rounds = 2 * o.rounds

	fmt.Fprintf(os.Stderr, "measuring for %v ...\n", time.Duration(len(workloads)+len(metricsPair))*(o.warmup+o.duration))
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if err := rounds(o, false).Measure(ctx, workloads); err != nil {
		return err
	}
	if err := rounds(pairRounds, true).Measure(ctx, metricsPair); err != nil {
		return err
	}
	fmt.Printf("%d concurrent clients, %d sessions, pool of %d connections, at most %d lookup statements at once in the server, "+
		"%v per measurement in %d interleaved rounds, all on loopback, %d CPUs.\n\n",
		o.concurrency, o.sessions, o.maxConns, maxLookups, o.duration, o.rounds, runtime.NumCPU())
	printTable(workloads, o.duration)
	raw, unstamped := workloads[0].Stats(o.duration), workloads[1].Stats(o.duration)
	viaHTTP, prepared, bounced := workloads[2].Stats(o.duration), workloads[3].Stats(o.duration), workloads[4].Stats(o.duration)
	fmt.Printf("\nAuthenticated whoami / raw lookup: **%.2f** (target: at least 0.80).\n", viaHTTP.Rate/raw.Rate)
	fmt.Printf("Raw lookup with the credential stamp / as before it: **%.2f**.\n", raw.Rate/unstamped.Rate)
	fmt.Printf("Authenticated whoami without prepared statements (%v, serve's mode behind a pooler) / with them (on a direct connection): **%.2f**.\n",
		cli.PoolerQueryExecMode, prepared.Rate/viaHTTP.Rate)
	fmt.Printf("Authenticated whoami through pgbouncer in transaction mode / direct: **%.2f**.\n", bounced.Rate/viaHTTP.Rate)

	fmt.Printf("\nMetrics on and off, apart: %v each in %d rounds, each round starting with the other.\n\n", o.duration, pairRounds.rounds)
	printTable(metricsPair, o.duration)
	metered, unmetered := metricsPair[0].Stats(o.duration), metricsPair[1].Stats(o.duration)
	fmt.Printf("\nAuthenticated whoami with metrics / without: **%.3f**.\n", metered.Rate/unmetered.Rate)
	return nil
}

// rounds splits o.duration into o.rounds interleaved rounds.
func rounds(o options, alternate bool) httpload.Rounds {
	return httpload.Rounds{Concurrency: o.concurrency, Warmup: o.warmup,
		Count: o.rounds, Slice: o.duration / time.Duration(o.rounds), Alternate: alternate}
}

// printTable prints the workloads' figures, measured for d each, as a
// markdown table.
func printTable(workloads []httpload.Workload, d time.Duration) {
	fmt.Println("| measurement | req/s | p50 | p99 | requests |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: |")
	for _, w := range workloads {
		s := w.Stats(d)
		fmt.Printf("| %s | %.0f | %v | %v | %d |\n",
			w.Name, s.Rate, s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.Requests)
	}
}

// lookupWithoutStamp is the session lookup as it was before schema 8: the
// role read from pg_roles, without the stamp of its row nor the setting
// (issue 19). It stays here to measure what the credential check costs.
func lookupWithoutStamp(ctx context.Context, db *pgxpool.Pool, id int64) error {
	const q = `SELECT s.id, s.username, s.user_id, s.hashed_secret, s.expires_at,
    (s.revoked_at IS NOT NULL OR l.username IS NOT NULL OR g.username IS NOT NULL),
    s.expires_at <= now(),
    COALESCE(r.rolcanlogin AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now()), false),
    s.last_used_at < now() - $2::BIGINT * INTERVAL '1 microsecond',
    $3::BIGINT > 0 AND s.last_used_at <= now() - $3::BIGINT * INTERVAL '1 microsecond'
FROM system.web_sessions s
LEFT JOIN system.web_session_logouts l
    ON l.username = s.username AND s.created_at <= l.logged_out_at AND s.id <> l.kept_session_id
LEFT JOIN system.web_session_logouts g
    ON g.username = '' AND s.created_at <= g.logged_out_at
LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.user_id::OID AND r.rolname = s.username
WHERE s.id = $1`
	var c sql.SessionCheck
	return db.QueryRow(ctx, q, id, auth.DefaultTouchInterval.Microseconds(), int64(0)).Scan(&c.ID, &c.Username, &c.UserID,
		&c.HashedSecret, &c.ExpiresAt, &c.Revoked, &c.Expired, &c.RoleValid, &c.TouchDue, &c.Idle)
}

// throughBouncer starts pgbouncer in transaction mode in front of dbURL's
// server and returns a pool through it as serve makes one behind a pooler.
func throughBouncer(ctx context.Context, dbURL string, maxConns int) (*pgxpool.Pool, func(), error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, nil, err
	}
	port, _ := strconv.Atoi(u.Port())
	password, _ := u.User.Password()
	b, err := ha.StartBouncer(ctx, ha.BouncerOptions{Host: u.Hostname(), Port: port, Mode: ha.PoolTransaction,
		AuthUser: u.User.Username(), AuthPassword: password})
	if err != nil {
		return nil, nil, err
	}
	cfg, err := pgxpool.ParseConfig(b.URL(u.User.Username(), password, strings.TrimPrefix(u.Path, "/")))
	if err != nil {
		b.Stop()
		return nil, nil, err
	}
	cfg.MaxConns = int32(maxConns)
	cfg.ConnConfig.DefaultQueryExecMode = cli.PoolerQueryExecMode
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Stop()
		return nil, nil, err
	}
	return pool, b.Stop, nil
}

// scratchDatabase creates a database for the run and returns its URL and a
// function that drops it.
func scratchDatabase(ctx context.Context, superURL string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	name := "bench_whoami_" + randomHex(4)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(superURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, superURL); err == nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
			conn.Close(ctx)
		}
	}
	return u.String(), drop, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
