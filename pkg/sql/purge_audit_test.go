package sql

import (
	"context"
	"testing"
	"time"
)

// batchEventTotals sums the counts of the retention.batch events.
func batchEventTotals(t *testing.T, db DBTX) (sessions, events, batches int64) {
	t.Helper()
	err := db.QueryRow(testContext(t), `SELECT
    COALESCE(sum((detail->>'expired_sessions')::BIGINT), 0) + COALESCE(sum((detail->>'revoked_sessions')::BIGINT), 0)
        + COALESCE(sum((detail->>'idle_sessions')::BIGINT), 0),
    COALESCE(sum((detail->>'events')::BIGINT), 0), count(*)
FROM system.session_events WHERE event = $1`, EventRetentionBatch).Scan(&sessions, &events, &batches)
	if err != nil {
		t.Fatal(err)
	}
	return sessions, events, batches
}

// An interrupted purge has deleted rows; each batch's event, written in the
// batch's own statement, accounts for every one of them.
func TestInterruptedPurgeAccountsForEveryDeletedRow(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// heap walks the table's pages (analyzed, most rows go); otherwise
		// the indexes.
		heap bool
		// kill terminates the purge's backend, as a crash would; otherwise
		// the purge's context is canceled, as Ctrl-C does.
		kill bool
	}{
		{"index walk, canceled", false, false},
		{"index walk, backend killed", false, true},
		{"table walk, canceled", true, false},
		{"table walk, backend killed", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, dbURL := newStore(t)
			mustInsert(t, conn, "a", expiredLongAgo, 3000)
			mustInsert(t, conn, "b", revokedLongAgo, 1000)
			mustInsert(t, conn, "c", active, 200)
			if !tt.heap {
				// Keep the share small and the statistics absent: the
				// index walk.
				mustInsert(t, conn, "d", active, 20000)
			} else {
				analyze(t, conn)
			}
			const before = 3000 + 1000
			purger := mustConnect(t, dbURL)
			var pid int
			if err := purger.QueryRow(testContext(t), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			batches := 0
			_, err := Purge(ctx, purger, purgeOpts(100), func(p PurgeProgress) {
				if batches++; batches == 5 {
					if tt.kill {
						if _, err := conn.Exec(testContext(t), "SELECT pg_terminate_backend($1)", pid); err != nil {
							t.Error(err)
						}
					} else {
						cancel()
					}
				}
			})
			if err == nil {
				t.Fatal("the purge was not interrupted")
			}
			left := mustCount(t, conn, "system.web_sessions WHERE username IN ('a', 'b')")
			deleted := before - left
			recorded, _, n := batchEventTotals(t, conn)
			t.Logf("interrupted (%v): %d of %d sessions deleted, %d accounted for in %d batch events", err, deleted, before, recorded, n)
			if deleted == 0 || deleted == before {
				t.Fatalf("%d of %d sessions deleted: the purge was not interrupted half-way", deleted, before)
			}
			if recorded != int64(deleted) {
				t.Errorf("%d sessions deleted, %d accounted for by retention.batch events", deleted, recorded)
			}
		})
	}
}

// A purge that runs to its end records one batch event per batch that
// deleted rows, their counts adding up to the run's, and the run's summary.
func TestPurgeBatchEventsAddUp(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	mustInsert(t, conn, "a", expiredLongAgo, 500)
	mustInsert(t, conn, "b", revokedLongAgo, 300)
	mustInsertEvents(t, conn, 40*24*time.Hour, 200)
	opts := purgeOpts(100)
	opts.EventsOlderThan = 30 * 24 * time.Hour
	opts.Audit = PurgeAudit{Actor: "ops", Via: "cli", ClientAddr: "host-1"}
	res, err := Purge(testContext(t), conn, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	sessions, events, n := batchEventTotals(t, conn)
	if sessions != res.Sessions() || events != res.Events || n != int64(res.Batches) {
		t.Errorf("batch events count %d sessions and %d events in %d batches; the run: %d, %d in %d",
			sessions, events, n, res.Sessions(), res.Events, res.Batches)
	}
	var actors, runs int
	err = conn.QueryRow(testContext(t), `SELECT count(DISTINCT actor || via || client_addr), count(DISTINCT detail->>'run')
FROM system.session_events WHERE event LIKE 'retention.%'`).Scan(&actors, &runs)
	if err != nil {
		t.Fatal(err)
	}
	if actors != 1 || runs != 1 {
		t.Errorf("%d actors and %d run ids among the purge's events, want one of each", actors, runs)
	}
}
