package sql

import (
	"fmt"
	"testing"
	"time"
)

// idleTimeout is the idle timeout of these tests' purges; with their
// OlderThan of 1h, a live session goes once unused for 3h.
const idleTimeout = 2 * time.Hour

var (
	unusedLong        = sessionKind{"unused 4h", time.Hour, 0, 4 * time.Hour}
	unusedPastTimeout = sessionKind{"unused 150m", time.Hour, 0, 150 * time.Minute}
	usedRecently      = sessionKind{"unused 30m", time.Hour, 0, 30 * time.Minute}
	revokedLongUnused = sessionKind{"revoked 2h ago, unused 4h", time.Hour, 2 * time.Hour, 4 * time.Hour}
	expiredLongUnused = sessionKind{"expired 2h ago, unused 4h", -2 * time.Hour, 0, 4 * time.Hour}
	revokedLateUnused = sessionKind{"revoked 30m ago, unused 4h", time.Hour, 30 * time.Minute, 4 * time.Hour}
	expiredLateUnused = sessionKind{"expired 30m ago, unused 4h", -30 * time.Minute, 0, 4 * time.Hour}
)

// idleCases say of each kind of session which phase of a purge with an
// OlderThan of 1h and an IdleTimeout of idleTimeout takes it; "" keeps it.
var idleCases = []struct {
	kind  sessionKind
	phase PurgePhase
}{
	{unusedLong, PhaseIdleSessions},
	{unusedPastTimeout, ""}, // refused as idle for 30m only
	{usedRecently, ""},
	{active, ""},
	{revokedLongUnused, PhaseRevokedSessions},
	{expiredLongUnused, PhaseExpiredSessions},
	// Revoked or expired lately: kept for OlderThan after it, with its
	// state, however long unused, then taken by its own phase.
	{revokedLateUnused, ""},
	{expiredLateUnused, ""},
}

// TestPurgeIdleSessions: with an idle timeout, a purge also deletes the
// live sessions unused for the timeout plus OlderThan, each counted once,
// in the phase that took it, by the dry run, the run and its events; without
// one, it deletes no live session.
func TestPurgeIdleSessions(t *testing.T) {
	t.Parallel()
	for _, idle := range []time.Duration{0, idleTimeout} {
		t.Run(fmt.Sprintf("idle timeout %v", idle), func(t *testing.T) {
			t.Parallel()
			conn, _ := newStore(t)
			const perKind = 3
			want := PurgeResult{}
			for i, tt := range idleCases {
				mustInsert(t, conn, fmt.Sprintf("user%d", i), tt.kind, perKind)
				if tt.phase != "" && (tt.phase != PhaseIdleSessions || idle > 0) {
					*phaseCount(&want, tt.phase) += perKind
				}
			}
			opts := purgeOpts(2)
			opts.IdleTimeout = idle
			before := snapshotSessions(t, conn)

			dryOpts := opts
			dryOpts.DryRun = true
			dry, err := Purge(testContext(t), conn, dryOpts, nil)
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if dry.ExpiredSessions != want.ExpiredSessions || dry.RevokedSessions != want.RevokedSessions ||
				dry.IdleSessions != want.IdleSessions || dry.Batches != 0 {
				t.Errorf("dry run counted %d expired, %d revoked, %d idle in %d batches; want %d, %d, %d, no batches",
					dry.ExpiredSessions, dry.RevokedSessions, dry.IdleSessions, dry.Batches,
					want.ExpiredSessions, want.RevokedSessions, want.IdleSessions)
			}
			if after := snapshotSessions(t, conn); after != before {
				t.Errorf("the dry run changed the sessions:\n%s\nwere:\n%s", after, before)
			}
			if n := mustCount(t, conn, "system.session_events"); n != 0 {
				t.Errorf("the dry run recorded %d events, want none", n)
			}

			res, err := Purge(testContext(t), conn, opts, nil)
			if err != nil {
				t.Fatalf("purge: %v", err)
			}
			if res.ExpiredSessions != want.ExpiredSessions || res.RevokedSessions != want.RevokedSessions ||
				res.IdleSessions != want.IdleSessions {
				t.Errorf("purge deleted %d expired, %d revoked, %d idle; want %d, %d, %d",
					res.ExpiredSessions, res.RevokedSessions, res.IdleSessions,
					want.ExpiredSessions, want.RevokedSessions, want.IdleSessions)
			}
			if res.IdleCutoff.IsZero() != (idle == 0) || idle > 0 && !res.IdleCutoff.Equal(res.SessionsCutoff.Add(-idle)) {
				t.Errorf("IdleCutoff %v with sessions cutoff %v, want the latter minus %v", res.IdleCutoff, res.SessionsCutoff, idle)
			}
			for i, tt := range idleCases {
				gone := tt.phase != "" && (tt.phase != PhaseIdleSessions || idle > 0)
				wantLeft := int64(perKind)
				if gone {
					wantLeft = 0
				}
				if n := sessionsOf(t, conn, fmt.Sprintf("user%d", i)); n != wantLeft {
					t.Errorf("%s: %d sessions left, want %d", tt.kind.name, n, wantLeft)
				}
			}
			sessions, _, batches := batchEventTotals(t, conn)
			if sessions != res.Sessions() || batches != int64(res.Batches) {
				t.Errorf("retention.batch events count %d sessions in %d batches, the run %d in %d",
					sessions, batches, res.Sessions(), res.Batches)
			}
			var idleDetail int64
			if err := conn.QueryRow(testContext(t), `SELECT (detail->>'idle_sessions')::BIGINT FROM system.session_events
WHERE event = $1`, EventRetentionPurged).Scan(&idleDetail); err != nil || idleDetail != want.IdleSessions {
				t.Errorf("retention.purged counts %d idle sessions (%v), want %d", idleDetail, err, want.IdleSessions)
			}
		})
	}
}

// phaseCount is the count of PurgeResult r for the sessions of phase p.
func phaseCount(r *PurgeResult, p PurgePhase) *int64 {
	for _, phases := range purgeTables {
		for _, t := range phases {
			if t.name == p {
				return t.count(r)
			}
		}
	}
	panic("no phase " + p)
}

// snapshotSessions is every session's row, as text.
func snapshotSessions(t *testing.T, db DBTX) string {
	t.Helper()
	var s string
	if err := db.QueryRow(testContext(t), `SELECT COALESCE(string_agg(s::TEXT, E'\n' ORDER BY id), '')
FROM system.web_sessions s`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIdlePurgeChecksAgainAsItDeletes: each batch statement deletes the
// rows the statement before it counted; a session used, or revoked, in
// between is no longer idle and stays.
func TestIdlePurgeChecksAgainAsItDeletes(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	other := mustConnect(t, dbURL)
	mustInsert(t, conn, "a", unusedLong, 4)
	var ids []int64
	rows, err := conn.Query(testContext(t), "SELECT id FROM system.web_sessions ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil || len(ids) != 4 {
		t.Fatalf("ids %v, %v; want 4", ids, err)
	}
	opts := purgeOpts(1)
	opts.IdleTimeout = idleTimeout
	reports := 0
	// The four share last_used_at, so the walk takes them in id order, a
	// batch of one at a time: when the first batch with rows reports, the
	// second session is the next batch, counted; when the next, the fourth.
	res, err := Purge(testContext(t), conn, opts, func(p PurgeProgress) {
		if p.Phase != PhaseIdleSessions {
			return
		}
		switch reports++; reports {
		case 1:
			if err := TouchSessions(testContext(t), other, []Touch{{SessionID: ids[1]}}, time.Minute); err != nil {
				t.Error(err)
			}
		case 2:
			if _, err := other.Exec(testContext(t), "UPDATE system.web_sessions SET revoked_at = now() WHERE id = $1", ids[3]); err != nil {
				t.Error(err)
			}
		}
	})
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if res.IdleSessions != 2 || reports != 2 {
		t.Errorf("purge deleted %d idle sessions in %d reports, want 2 in 2", res.IdleSessions, reports)
	}
	left := mustCount(t, conn, "system.web_sessions WHERE id = ANY($1)", []int64{ids[1], ids[3]})
	if n := mustCount(t, conn, "system.web_sessions"); n != 2 || left != 2 {
		t.Errorf("%d sessions left, %d of them the used and the revoked one; want those 2", n, left)
	}
	if sessions, _, _ := batchEventTotals(t, conn); sessions != 2 {
		t.Errorf("retention.batch events count %d sessions, want the 2 deleted", sessions)
	}
}

// TestIdlePurgeWalksTheTable: when most of the table is idle long (a first
// purge with an idle timeout), the idle phase walks the table's pages, with
// the same predicate as its dry run.
func TestIdlePurgeWalksTheTable(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	for i, tt := range idleCases {
		mustInsert(t, conn, fmt.Sprintf("user%d", i), tt.kind, 100)
	}
	mustInsert(t, conn, "bulk", unusedLong, 3000)
	analyze(t, conn)
	var cutoff time.Time
	if err := conn.QueryRow(testContext(t), "SELECT now() - INTERVAL '3 hours'").Scan(&cutoff); err != nil {
		t.Fatal(err)
	}
	if w, err := planHeapWalk(testContext(t), conn, []phase{idleSessions}, cutoff, 1000); err != nil || w == nil {
		t.Fatalf("idle phase: walk %v, %v; want the table's pages", w, err)
	}
	opts := purgeOpts(1000)
	opts.IdleTimeout = idleTimeout
	res, err := Purge(testContext(t), conn, opts, nil)
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if res.ExpiredSessions != 100 || res.RevokedSessions != 100 || res.IdleSessions != 3100 {
		t.Errorf("purge deleted %d expired, %d revoked, %d idle; want 100, 100, 3100",
			res.ExpiredSessions, res.RevokedSessions, res.IdleSessions)
	}
	for i, tt := range idleCases {
		if n, gone := sessionsOf(t, conn, fmt.Sprintf("user%d", i)), tt.phase != ""; gone != (n == 0) {
			t.Errorf("%s: %d sessions left", tt.kind.name, n)
		}
	}
	if sessions, _, batches := batchEventTotals(t, conn); sessions != res.Sessions() || batches != int64(res.Batches) {
		t.Errorf("retention.batch events count %d sessions in %d batches, the run %d in %d",
			sessions, batches, res.Sessions(), res.Batches)
	}
}
