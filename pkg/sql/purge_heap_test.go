package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// analyze gives the planner the statistics a table walk is planned from.
func analyze(t *testing.T, db DBTX) {
	t.Helper()
	for _, stmt := range []string{"VACUUM ANALYZE system.web_sessions", "VACUUM ANALYZE system.session_events"} {
		if _, err := db.Exec(testContext(t), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// mustPlanTableWalk asserts that a purge with batch walks the sessions
// table, and returns the walk.
func mustPlanTableWalk(t *testing.T, db PurgeDB, batch int) *heapWalk {
	t.Helper()
	w := planSessionsWalk(t, db, batch)
	if w == nil {
		t.Fatalf("a purge with --batch %d walks the indexes, want the table", batch)
	}
	t.Logf("table walk: %d pages of %d per batch", w.pages, w.end)
	return w
}

func planSessionsWalk(t *testing.T, db PurgeDB, batch int) *heapWalk {
	t.Helper()
	var cutoff time.Time
	if err := db.QueryRow(testContext(t), "SELECT now() - INTERVAL '1 hour'").Scan(&cutoff); err != nil {
		t.Fatal(err)
	}
	w, err := planHeapWalk(testContext(t), db, purgeTables[0], cutoff, batch)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return w
}

func TestPurgeWalksTheIndexesForASmallShare(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	mustInsert(t, conn, "live", active, 3000)
	mustInsert(t, conn, "old", expiredLongAgo, 200)
	mustInsert(t, conn, "out", revokedLongAgo, 200)
	if w := planSessionsWalk(t, conn, 1000); w != nil {
		t.Errorf("table never analyzed: walks the table (%+v), want the indexes", *w)
	}
	analyze(t, conn)
	if w := planSessionsWalk(t, conn, 1000); w != nil {
		t.Errorf("400 rows of 3400 to purge: walks the table (%+v), want the indexes", *w)
	}
	mustInsert(t, conn, "old", expiredLongAgo, 3000)
	analyze(t, conn)
	mustPlanTableWalk(t, conn, 1000)
	// One page holds more than a batch of 5: the walk would overshoot it.
	if w := planSessionsWalk(t, conn, 5); w != nil {
		t.Errorf("--batch 5 walks the table (%+v), want the indexes", *w)
	}
}

// TestPurgeWalksTheTableForScatteredRows: a tenth of the table to purge,
// a few rows on every page (as when sessions of many lifetimes expire in no
// order of their insertion), walks the table: walking the indexes would
// read every page as well, out of order.
func TestPurgeWalksTheTableForScatteredRows(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	for range 240 {
		mustInsert(t, conn, "live", active, 45)
		mustInsert(t, conn, "old", expiredLongAgo, 5)
	}
	analyze(t, conn)
	const batch = 200
	w := mustPlanTableWalk(t, conn, batch)
	res, err := Purge(testContext(t), conn, purgeOpts(batch), nil)
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if res.ExpiredSessions != 1200 || mustCount(t, conn, "system.web_sessions") != 10800 {
		t.Errorf("purge = %+v, want the 1200 expired sessions alone", res)
	}
	// The batches are sized by the rows to purge, not the table's: about
	// batch rows each, not a tenth of it.
	if avg := float64(res.ExpiredSessions) / float64(res.Batches); avg < batch/2 || avg > 1.5*batch {
		t.Errorf("%d rows in %d batches of %d pages: %.0f a batch, want about %d", res.ExpiredSessions, res.Batches, w.pages, avg, batch)
	}
}

// pageLog makes the database record, for every DELETE statement on the
// sessions table, its transaction, how many rows it deleted and the first
// and last page they were on (from page_of, filled before the purge).
const pageLog = `CREATE TABLE page_of AS SELECT id, (ctid::TEXT::POINT)[0]::BIGINT AS page FROM system.web_sessions;
CREATE TABLE page_log (xid BIGINT, rows BIGINT, first_page BIGINT, last_page BIGINT);
CREATE FUNCTION log_pages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO page_log SELECT txid_current(), count(*), min(p.page), max(p.page)
    FROM old_rows o LEFT JOIN page_of p USING (id);
    RETURN NULL;
END $$;
CREATE TRIGGER log_pages AFTER DELETE ON system.web_sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION log_pages();`

func TestPurgeTableWalkBatchesBoundTheWork(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	const batch = 300
	mustInsert(t, conn, "a", expiredLongAgo, 4000)
	mustInsert(t, conn, "b", revokedLongAgo, 1000)
	mustInsert(t, conn, "c", active, 500)
	mustInsert(t, conn, "a", expiredLongAgo, 1000)
	analyze(t, conn)
	w := mustPlanTableWalk(t, conn, batch)
	if _, err := conn.Exec(testContext(t), pageLog); err != nil {
		t.Fatal(err)
	}
	var rowsPerPage int64
	if err := conn.QueryRow(testContext(t), "SELECT max(n) FROM (SELECT count(*) AS n FROM page_of GROUP BY page) p").Scan(&rowsPerPage); err != nil {
		t.Fatal(err)
	}

	var reported []PurgeProgress
	res, err := Purge(testContext(t), conn, purgeOpts(batch), func(p PurgeProgress) { reported = append(reported, p) })
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if res.ExpiredSessions != 5000 || res.RevokedSessions != 1000 {
		t.Errorf("purge = %+v, want 5000 expired and 1000 revoked", res)
	}
	if n := mustCount(t, conn, "system.web_sessions"); n != 500 {
		t.Errorf("%d sessions left, want the 500 active ones", n)
	}

	type statement struct{ XID, Rows, First, Last int64 }
	rows, err := conn.Query(testContext(t), "SELECT xid, rows, COALESCE(first_page, -1), COALESCE(last_page, -1) FROM page_log")
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[statement])
	if err != nil {
		t.Fatal(err)
	}
	// One DELETE for both phases, expired and revoked, in each batch's
	// transaction, for every range of pages, also those left with nothing
	// to purge.
	wantBatches := int((w.end + w.pages - 1) / w.pages)
	perTx := map[int64]int64{}
	var deleted int64
	for _, s := range stmts {
		perTx[s.XID] += s.Rows
		deleted += s.Rows
		if s.Rows > 0 && s.Last-s.First >= int64(w.pages) {
			t.Errorf("a DELETE reached pages %d to %d, more than the batch's %d pages", s.First, s.Last, w.pages)
		}
	}
	if len(stmts) != wantBatches || len(perTx) != wantBatches {
		t.Errorf("%d DELETE statements in %d transactions, want 1 in each of %d", len(stmts), len(perTx), wantBatches)
	}
	for xid, n := range perTx {
		if n > int64(w.pages)*rowsPerPage {
			t.Errorf("transaction %d deleted %d rows, more than %d pages of at most %d rows hold", xid, n, w.pages, rowsPerPage)
		}
	}
	if deleted != 6000 {
		t.Errorf("the DELETE statements removed %d rows, want 6000", deleted)
	}
	// Pages were sized to hold about a batch: the batches are that big on
	// average, so the walk is neither one transaction nor thousands.
	if avg := float64(deleted) / float64(res.Batches); avg < batch/2 || avg > 1.5*batch {
		t.Errorf("%d rows in %d batches: %.0f a batch, want about %d", deleted, res.Batches, avg, batch)
	}
	for _, p := range reported {
		if p.Rows < 1 {
			t.Errorf("progress reported a batch of %d rows", p.Rows)
		}
	}
	if last := reported[len(reported)-1].Result; last != res {
		t.Errorf("last progress totals %+v, want the result %+v", last, res)
	}
}

func TestPurgeTableWalkDeletesOnlySessionsDeadLongerThanOlderThan(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	// The kinds interleaved on every page.
	const rounds = 200
	for range rounds {
		for i, k := range purgeCases {
			mustInsert(t, conn, fmt.Sprintf("user%d", i), k.kind, 1)
		}
	}
	analyze(t, conn)
	mustPlanTableWalk(t, conn, 100)

	dry, err := Purge(testContext(t), conn, PurgeOptions{OlderThan: time.Hour, Batch: 100, DryRun: true}, nil)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	res, err := Purge(testContext(t), conn, PurgeOptions{OlderThan: time.Hour, Batch: 100}, nil)
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if res.ExpiredSessions != 3*rounds || res.RevokedSessions != 2*rounds ||
		dry.ExpiredSessions != res.ExpiredSessions || dry.RevokedSessions != res.RevokedSessions {
		t.Errorf("purge = %+v after a dry run of %+v, want %d expired and %d revoked in both", res, dry, 3*rounds, 2*rounds)
	}
	for i, k := range purgeCases {
		want := rounds * (1 - k.expired - k.revoked)
		if n := sessionsOf(t, conn, fmt.Sprintf("user%d", i)); n != want {
			t.Errorf("%s: %d sessions left, want %d", k.kind.name, n, want)
		}
	}
}

func TestPurgeTableWalkSparesLoginsAndResumes(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	other := mustConnect(t, dbURL)
	mustInsert(t, conn, "old", expiredLongAgo, 4000)
	mustInsert(t, conn, "live", active, 100)
	analyze(t, conn)
	mustPlanTableWalk(t, conn, 500)

	ctx, cancel := context.WithCancel(testContext(t))
	batches := 0
	first, err := Purge(ctx, conn, purgeOpts(500), func(PurgeProgress) {
		if batches++; batches == 1 {
			// A login, and a logout, land between two batches.
			mustInsert(t, other, "new", active, 1)
			mustInsert(t, other, "gone", revokedRecently, 1)
		}
		if batches == 3 {
			cancel()
		}
	})
	// The batches sent ahead of the third (see pipelineDepth) finish too.
	if !errors.Is(err, context.Canceled) || first.Batches < 3 || first.Batches > 3+pipelineDepth-1 {
		t.Fatalf("interrupted purge: %+v, err = %v; want 3 batches, or the %d in flight, context.Canceled", first, err, pipelineDepth-1)
	}
	left := sessionsOf(t, conn, "old")
	if left != 4000-first.ExpiredSessions || left == 0 {
		t.Errorf("%d expired sessions left after purging %d of 4000: committed batches stay, the rest wait", left, first.ExpiredSessions)
	}
	rest, err := Purge(testContext(t), conn, purgeOpts(500), nil)
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if first.ExpiredSessions+rest.ExpiredSessions != 4000 || sessionsOf(t, conn, "old") != 0 {
		t.Errorf("purged %d then %d, %d left; want 4000 in all, none left",
			first.ExpiredSessions, rest.ExpiredSessions, sessionsOf(t, conn, "old"))
	}
	if sessionsOf(t, conn, "live") != 100 || sessionsOf(t, conn, "new") != 1 || sessionsOf(t, conn, "gone") != 1 {
		t.Errorf("after the purges: live %d, new %d, gone %d sessions; want 100, 1, 1",
			sessionsOf(t, conn, "live"), sessionsOf(t, conn, "new"), sessionsOf(t, conn, "gone"))
	}
}

func TestConcurrentTableWalksDeleteEachRowOnce(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	mustInsert(t, conn, "a", expiredLongAgo, 3000)
	mustInsert(t, conn, "b", revokedLongAgo, 1000)
	mustInsert(t, conn, "c", active, 100)
	mustInsertEvents(t, conn, 40*24*time.Hour, 3000)
	analyze(t, conn)
	mustPlanTableWalk(t, conn, 200)

	total := purgeConcurrently(t, dbURL, 3, purgeOpts(200))
	if total.ExpiredSessions != 3000 || total.RevokedSessions != 1000 || total.Events != 3000 {
		t.Errorf("purges deleted %d expired, %d revoked, %d events in total, want 3000, 1000, 3000 (each row once)",
			total.ExpiredSessions, total.RevokedSessions, total.Events)
	}
	if n := mustCount(t, conn, "system.web_sessions"); n != 100 {
		t.Errorf("%d sessions left, want the 100 active ones", n)
	}
}

func TestTableWalkBatchesUseTIDRangeScans(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	mustInsert(t, conn, "a", expiredLongAgo, 2000)
	mustInsertEvents(t, conn, 40*24*time.Hour, 2000)
	analyze(t, conn)
	// The batch's event is inserted into the events table, and its
	// notification reads the trail's followers: only the walked table must
	// be read by its pages alone.
	for _, phases := range purgeTables {
		table := strings.TrimPrefix(phases[0].table, "system.")
		for _, generic := range []bool{false, true} {
			plan := explain(t, conn, heapBatchSQL(phases),
				"now() - INTERVAL '1 hour', '(3,0)', '(9,0)', 'root', 'cli', 'host', 'run', 'cutoff'", generic)
			t.Logf("%s (generic %v): %s", phases[0].name, generic, plan)
			scans := 0
			plan.walk(func(n planNode) {
				switch {
				case n.NodeType == "Tid Range Scan" && n.RelationName == table:
					scans++
				case n.NodeType != "ModifyTable" && n.RelationName == table:
					t.Errorf("%s: %s on %s in %s, want a TID range scan alone", phases[0].name, n.NodeType, table, plan)
				}
			})
			if scans != 1 {
				t.Errorf("%s: %d TID range scans of %s in %s, want 1", phases[0].name, scans, table, plan)
			}
		}
	}
}
