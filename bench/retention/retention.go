package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
)

// purgeable is what purge deletes with its defaults: the sessions that
// expired or were revoked more than an hour ago.
const purgeable = `expires_at < now() - INTERVAL '1 hour' OR revoked_at < now() - INTERVAL '1 hour'`

// rawDelete is the raw database's retention: one DELETE of them.
const rawDelete = "DELETE FROM system.web_sessions WHERE " + purgeable

// method is one way to remove the purgeable sessions.
type method struct {
	name string
	// partitioned: it runs on the partitioned copy.
	partitioned bool
	// drop: how the partitions whose every row is purgeable go before the
	// DELETE of what is left; "" drops none.
	drop string
}

const (
	dropTable      = "DROP TABLE"
	detachThenDrop = "DETACH CONCURRENTLY, DROP"
)

var methods = []method{
	{name: "today's table: one raw DELETE"},
	{name: "partitioned: one raw DELETE, no partition dropped", partitioned: true},
	{name: "partitioned: DROP TABLE of the wholly purgeable partitions (one statement), then one DELETE of the rest", partitioned: true, drop: dropTable},
	{name: "partitioned: DETACH … CONCURRENTLY then DROP, a partition at a time, then one DELETE of the rest", partitioned: true, drop: detachThenDrop},
}

// removal is what one method did in one round.
type removal struct {
	removed, dropped     int64 // rows gone in all, and those in dropped partitions
	partitions           int   // partitions dropped
	dropTime, deleteTime time.Duration
	vacuum               time.Duration
	wal, vacuumWAL       int64 // bytes
	load                 float64
}

func (r removal) total() time.Duration { return r.dropTime + r.deleteTime }

// retention runs every method once, each on its own fresh copy of its
// filled database, in an order that turns with the round.
func (f *fillRun) retention(ctx context.Context, round int) error {
	for j := range methods {
		k := (j + round) % len(methods)
		m := methods[k]
		template := f.plain
		if m.partitioned {
			template = f.part
		}
		copyName := template + "_copy"
		if err := benchdb.CopyDatabase(ctx, f.o.url, template, copyName); err != nil {
			return err
		}
		r, err := f.remove(ctx, benchdb.URL(f.o.url, copyName), m)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		if err := benchdb.DropDatabase(ctx, f.o.url, copyName); err != nil {
			return err
		}
		f.removals[k] = append(f.removals[k], r)
	}
	return nil
}

// remove times m on the database of dbURL: the drops, if any, then the
// DELETE, as whole statements from the client; then, apart, the VACUUM
// that the DELETE leaves to do (autovacuum's work, later, in production).
func (f *fillRun) remove(ctx context.Context, dbURL string, m method) (removal, error) {
	var r removal
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return r, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var before int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM system.web_sessions").Scan(&before); err != nil {
		return r, err
	}
	var drop []string
	if m.drop != "" {
		if drop, r.dropped, err = droppable(ctx, conn); err != nil {
			return r, err
		}
		r.partitions = len(drop)
	}
	walAt := func() (int64, error) {
		var lsn int64
		err := conn.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::BIGINT").Scan(&lsn)
		return lsn, err
	}
	wal0, err := walAt()
	if err != nil {
		return r, err
	}
	r.load = loadAverage()
	began := time.Now()
	switch m.drop {
	case dropTable:
		if len(drop) > 0 {
			if _, err := conn.Exec(ctx, "DROP TABLE "+strings.Join(drop, ", ")); err != nil {
				return r, err
			}
		}
	case detachThenDrop:
		for _, p := range drop {
			if err := benchdb.ExecAll(ctx, conn,
				"ALTER TABLE system.web_sessions DETACH PARTITION "+p+" CONCURRENTLY",
				"DROP TABLE "+p); err != nil {
				return r, err
			}
		}
	}
	r.dropTime = time.Since(began)
	began = time.Now()
	if _, err := conn.Exec(ctx, rawDelete); err != nil {
		return r, err
	}
	r.deleteTime = time.Since(began)
	wal1, err := walAt()
	if err != nil {
		return r, err
	}
	began = time.Now()
	if _, err := conn.Exec(ctx, "VACUUM system.web_sessions"); err != nil {
		return r, err
	}
	r.vacuum = time.Since(began)
	wal2, err := walAt()
	if err != nil {
		return r, err
	}
	r.wal, r.vacuumWAL = wal1-wal0, wal2-wal1
	var after int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM system.web_sessions").Scan(&after); err != nil {
		return r, err
	}
	r.removed = before - after
	return r, nil
}
