package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/httpload"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// userSessions is what logout USER and list --user find a user's sessions
// by: every partition's username index, since the partition key is the id.
const userSessions = `SELECT id, expires_at, revoked_at FROM system.web_sessions WHERE username = $1`

// table is one of the tables the lookups run on.
type table struct {
	name        string
	db          string
	partitioned bool
	pool        *pgxpool.Pool // serve's pool: 16 connections, plan_cache_mode auto
	generic     *pgxpool.Pool // the same with plan_cache_mode = force_generic_plan, for a partitioned table
	locks       map[string]lockCount
	parts       int
}

// lockCount is what one execution of the lookup locks in a plan cache
// mode, after six executions on the connection: relations of schema
// system, those beyond the 16 fast-path slots, and whether the plan was
// the generic one.
type lockCount struct {
	relations, slow int
	generic         bool
}

var planModes = []string{"auto", "force_custom_plan", "force_generic_plan"}

// countTableLocks counts the locks of the lookup on every table, in every
// plan cache mode. The pools are opened for each round's lookups and closed
// after, since a database cannot be copied while connections to it are open.
func (f *fillRun) countTableLocks(ctx context.Context) error {
	dbs := []struct{ name, db string }{{"today's table", f.plain}, {"partitioned by day", f.part}}
	if f.year != "" {
		dbs = append(dbs, struct{ name, db string }{"partitioned by day, a year of partitions", f.year})
	}
	for i, d := range dbs {
		t := &table{name: d.name, db: d.db, partitioned: i > 0, locks: map[string]lockCount{}}
		f.tables = append(f.tables, t)
		for _, mode := range planModes {
			var err error
			if t.locks[mode], err = countLocks(ctx, benchdb.URL(f.o.url, d.db), mode, f.keys[0]); err != nil {
				return fmt.Errorf("%s, %s: %w", d.name, mode, err)
			}
		}
		if t.partitioned {
			conn, err := pgx.Connect(ctx, benchdb.URL(f.o.url, d.db))
			if err != nil {
				return err
			}
			t.parts, err = countPartitions(ctx, conn)
			conn.Close(ctx)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// openPools opens the pools of every table, closed by closePools.
func (f *fillRun) openPools(ctx context.Context) (err error) {
	for _, t := range f.tables {
		if t.pool, err = openPool(ctx, benchdb.URL(f.o.url, t.db), ""); err != nil {
			return err
		}
		if t.partitioned {
			if t.generic, err = openPool(ctx, benchdb.URL(f.o.url, t.db), "force_generic_plan"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fillRun) closePools() {
	for _, t := range f.tables {
		if t.pool != nil {
			t.pool.Close()
		}
		if t.generic != nil {
			t.generic.Close()
		}
		t.pool, t.generic = nil, nil
	}
}

// openPool opens a pool as serve's: 16 connections (its default
// --max-conns), statements prepared and cached per connection (pgx's
// default), with planCacheMode set when not empty.
func openPool(ctx context.Context, url, planCacheMode string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 16
	if planCacheMode != "" {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = planCacheMode
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// countLocks prepares the lookup on a connection of its own in plan cache
// mode, runs it six times (after five custom plans the plan cache may
// choose the generic one), then runs it once more in a transaction and
// counts the locks it holds on relations of schema system.
func countLocks(ctx context.Context, url, mode string, id int64) (lockCount, error) {
	var c lockCount
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return c, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
		return c, err
	}
	if _, err := conn.Prepare(ctx, "lookup", benchdb.RawLookup); err != nil {
		return c, err
	}
	for range 6 {
		if _, err := conn.Exec(ctx, "lookup", id); err != nil {
			return c, err
		}
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("EXPLAIN EXECUTE lookup(%d)", id))
	if err != nil {
		return c, err
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return c, err
	}
	c.generic = strings.Contains(strings.Join(plan, "\n"), "$1")
	tx, err := conn.Begin(ctx)
	if err != nil {
		return c, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "lookup", id); err != nil {
		return c, err
	}
	err = tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE NOT l.fastpath) FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND c.relnamespace = 'system'::regnamespace`).Scan(&c.relations, &c.slow)
	return c, err
}

// pickKeys chooses about 5,000 ids spread over the whole table, in a
// shuffled order: any session, live or not, since the raw lookup reads a
// row whatever its state.
func (f *fillRun) pickKeys(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, benchdb.URL(f.o.url, f.plain))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT id FROM system.web_sessions WHERE abs(hashint8(id)) % $1 = 0", max(f.n/5000, 1))
	if err != nil {
		return err
	}
	if f.keys, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return err
	}
	if len(f.keys) == 0 {
		return fmt.Errorf("no session picked for the lookups")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(f.keys), func(i, j int) { f.keys[i], f.keys[j] = f.keys[j], f.keys[i] })
	f.users = make([]int, 5000)
	for i := range f.users {
		f.users[i] = rng.IntN(f.n / 10)
	}
	return nil
}

// lookupResult is one workload's figures in one round.
type lookupResult struct {
	rate, ratio float64 // requests a second; against the raw lookup on today's table in the same round
	p99         time.Duration
	load        float64
}

// lookups runs, in one round, the raw lookup, the session check and a
// user's sessions by name on every table, and the first two with generic
// plans on the partitioned ones, each for o.duration at o.concurrency after o.warmup unmeasured,
// in reverse order every other round, on pools opened for the round.
func (f *fillRun) lookups(ctx context.Context, round int) error {
	defer f.closePools()
	if err := f.openPools(ctx); err != nil {
		return err
	}
	policy := sql.CheckPolicy{TouchInterval: auth.DefaultTouchInterval}
	var workloads []httpload.Workload
	for _, t := range f.tables {
		pools := []*pgxpool.Pool{t.pool}
		if t.generic != nil {
			pools = append(pools, t.generic)
		}
		for k, pool := range pools {
			mode := ""
			if k > 0 {
				mode = ", plan_cache_mode = force_generic_plan"
			}
			workloads = append(workloads, httpload.Workload{Name: t.name + ": raw primary-key SELECT" + mode, Op: func(ctx context.Context, i int) error {
				return rawOp(ctx, pool, f.keys[i%len(f.keys)])
			}})
			workloads = append(workloads, httpload.Workload{Name: t.name + ": the session check (sql.CheckSession)" + mode, Op: func(ctx context.Context, i int) error {
				_, err := sql.CheckSession(ctx, pool, f.keys[i%len(f.keys)], policy)
				return err
			}})
		}
		workloads = append(workloads, httpload.Workload{Name: t.name + ": a user's 10 sessions by username (list --user, logout USER)", Op: func(ctx context.Context, i int) error {
			rows, err := t.pool.Query(ctx, userSessions, fmt.Sprintf("retention_u%d", f.users[i%len(f.users)]))
			if err != nil {
				return err
			}
			rows.Close()
			return rows.Err()
		}})
	}
	load := loadAverage()
	if err := httpload.Warm(ctx, workloads, f.o.concurrency, f.o.warmup); err != nil {
		return err
	}
	if err := httpload.Round(ctx, workloads, f.o.concurrency, f.o.duration, round%2 == 1); err != nil {
		return err
	}
	base := workloads[0].Stats(f.o.duration).Rate
	if f.lookupNames == nil {
		for _, w := range workloads {
			f.lookupNames = append(f.lookupNames, w.Name)
		}
		f.lookupResults = make([][]lookupResult, len(workloads))
	}
	for i := range workloads {
		s := workloads[i].Stats(f.o.duration)
		f.lookupResults[i] = append(f.lookupResults[i], lookupResult{rate: s.Rate, ratio: s.Rate / base, p99: s.P99, load: load})
	}
	return nil
}

func rawOp(ctx context.Context, pool *pgxpool.Pool, id int64) error {
	var c sql.SessionCheck
	var revokedAt, lastUsedAt *time.Time
	return pool.QueryRow(ctx, benchdb.RawLookup, id).
		Scan(&c.ID, &c.Username, &c.UserID, &c.HashedSecret, &c.ExpiresAt, &revokedAt, &lastUsedAt)
}
