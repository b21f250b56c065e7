package sql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testTimeout = time.Minute

// testContext is bounded so a hung database fails the test, not the binary.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// migrated is a database with the schema installed, which newStore copies
// for each test; the tests of Migrate itself start from pgtest.NewDB.
var migrated = pgtest.NewTemplate("migrated", func(ctx context.Context, conn *pgx.Conn) error {
	_, err := Migrate(ctx, conn, MigrateOptions{})
	return err
})

// newStore returns a connection to a fresh database of this test's own with
// the schema installed.
func newStore(t testing.TB) (*pgx.Conn, string) {
	t.Helper()
	dbURL := migrated.NewDB(t)
	return mustConnect(t, dbURL), dbURL
}

func mustConnect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(testContext(t), dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// sessionKind places sessions in time relative to the database's now().
type sessionKind struct {
	name       string
	expiresIn  time.Duration // negative: expired that long ago
	revokedAgo time.Duration // 0: not revoked
	unusedFor  time.Duration // since its last use; 0: used as it is inserted
}

var (
	active               = sessionKind{"active", time.Hour, 0, 0}
	expiredRecently      = sessionKind{"expired 30m ago", -30 * time.Minute, 0, 0}
	revokedRecently      = sessionKind{"revoked 30m ago", time.Hour, 30 * time.Minute, 0}
	expiredLongAgo       = sessionKind{"expired 2h ago", -2 * time.Hour, 0, 0}
	revokedLongAgo       = sessionKind{"revoked 2h ago", time.Hour, 2 * time.Hour, 0}
	expiredRevokedLater  = sessionKind{"expired 3h ago, revoked 2h ago", -3 * time.Hour, 2 * time.Hour, 0}
	revokedLongExpired   = sessionKind{"revoked 2h ago, expired 30m ago", -30 * time.Minute, 2 * time.Hour, 0}
	expiredThenLoggedOut = sessionKind{"expired 2h ago, revoked 10m ago", -2 * time.Hour, 10 * time.Minute, 0}
)

// Ids are given explicitly: the table's default draws 22 random bits per
// millisecond, and thousands of rows in one statement would collide.
const insertSessions = `INSERT INTO system.web_sessions
    (id, hashed_secret, username, user_id, created_at, expires_at, revoked_at, last_used_at)
SELECT (SELECT COALESCE(max(id), 0) FROM system.web_sessions) + g, '\x00', $1, 10,
    now() - INTERVAL '1 day',
    now() + $2::BIGINT * INTERVAL '1 microsecond',
    CASE WHEN $3::BIGINT > 0 THEN now() - $3::BIGINT * INTERVAL '1 microsecond' END,
    now() - $5::BIGINT * INTERVAL '1 microsecond'
FROM generate_series(1, $4::INT) g`

// mustInsert adds n sessions of kind k for username.
func mustInsert(t testing.TB, db DBTX, username string, k sessionKind, n int) {
	t.Helper()
	_, err := db.Exec(testContext(t), insertSessions, username, k.expiresIn.Microseconds(), k.revokedAgo.Microseconds(), n, k.unusedFor.Microseconds())
	if err != nil {
		t.Fatalf("insert %d %s sessions: %v", n, k.name, err)
	}
}

// mustInsertEvents adds n audit events that happened ago.
func mustInsertEvents(t testing.TB, db DBTX, ago time.Duration, n int) {
	t.Helper()
	_, err := db.Exec(testContext(t), `INSERT INTO system.session_events (id, at, event, actor, username, via)
SELECT (SELECT COALESCE(max(id), 0) FROM system.session_events) + g,
    now() - $1::BIGINT * INTERVAL '1 microsecond', 'session.created', 'admin', 'u', 'cli'
FROM generate_series(1, $2::INT) g`, ago.Microseconds(), n)
	if err != nil {
		t.Fatalf("insert %d events: %v", n, err)
	}
}

func mustCount(t testing.TB, db DBTX, fromWhere string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(testContext(t), "SELECT count(*) FROM "+fromWhere, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", fromWhere, err)
	}
	return n
}

func purgeOpts(batch int) PurgeOptions {
	return PurgeOptions{OlderThan: time.Hour, Batch: batch, EventsOlderThan: 30 * 24 * time.Hour,
		Audit: PurgeAudit{Via: "cli", ClientAddr: "test-host"}}
}

// sessionsOf counts username's sessions.
func sessionsOf(t testing.TB, db DBTX, username string) int64 {
	return mustCount(t, db, "system.web_sessions WHERE username = $1", username)
}

// purgeCases say of each kind of session whether a purge with an OlderThan
// of 1h takes it as expired (1), as revoked (1), or keeps it.
var purgeCases = []struct {
	kind             sessionKind
	expired, revoked int64
}{
	{active, 0, 0},
	{expiredRecently, 0, 0},
	{revokedRecently, 0, 0},
	{expiredLongAgo, 1, 0},
	{revokedLongAgo, 0, 1},
	{expiredRevokedLater, 1, 0},
	{revokedLongExpired, 0, 1},
	{expiredThenLoggedOut, 1, 0},
}

func TestPurgeDeletesOnlySessionsDeadLongerThanOlderThan(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	const perKind = 3
	var wantExpired, wantRevoked int64
	for i, tt := range purgeCases {
		mustInsert(t, conn, fmt.Sprintf("user%d", i), tt.kind, perKind)
		wantExpired += perKind * tt.expired
		wantRevoked += perKind * tt.revoked
	}
	before := mustCount(t, conn, "system.web_sessions")

	dry, err := Purge(testContext(t), conn, PurgeOptions{OlderThan: time.Hour, Batch: 2, DryRun: true}, nil)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if dry.ExpiredSessions != wantExpired || dry.RevokedSessions != wantRevoked || dry.Batches != 0 || !dry.DryRun {
		t.Errorf("dry run = %+v, want %d expired and %d revoked, no batches", dry, wantExpired, wantRevoked)
	}
	if n := mustCount(t, conn, "system.web_sessions"); n != before {
		t.Errorf("dry run left %d sessions of %d", n, before)
	}
	if n := mustCount(t, conn, "system.session_events"); n != 0 {
		t.Errorf("dry run recorded %d events, want none", n)
	}

	res, err := Purge(testContext(t), conn, PurgeOptions{OlderThan: time.Hour, Batch: 2}, nil)
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if res.ExpiredSessions != wantExpired || res.RevokedSessions != wantRevoked {
		t.Errorf("purge = %+v, want %d expired and %d revoked, as the dry run said", res, wantExpired, wantRevoked)
	}
	for i, tt := range purgeCases {
		want := perKind * (1 - tt.expired - tt.revoked)
		if n := sessionsOf(t, conn, fmt.Sprintf("user%d", i)); n != want {
			t.Errorf("%s: %d sessions left, want %d", tt.kind.name, n, want)
		}
	}
}

// batchLog makes the database itself record every DELETE statement on the
// sessions and events tables: how many rows it deleted and in which
// transaction, independent of what Purge reports.
const batchLog = `CREATE TABLE batch_log (relname TEXT, rows BIGINT, xid BIGINT);
CREATE FUNCTION log_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO batch_log SELECT TG_TABLE_NAME, count(*), txid_current() FROM old_rows;
    RETURN NULL;
END $$;
CREATE TRIGGER log_batch AFTER DELETE ON system.web_sessions
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION log_batch();
CREATE TRIGGER log_batch AFTER DELETE ON system.session_events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION log_batch();`

func TestPurgeBatchesBoundTheWork(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	const batch = 7
	mustInsert(t, conn, "a", expiredLongAgo, 100)
	mustInsert(t, conn, "b", revokedLongAgo, 28) // a multiple of batch: no short batch
	mustInsert(t, conn, "c", active, 10)
	mustInsertEvents(t, conn, 40*24*time.Hour, 20)
	mustInsertEvents(t, conn, time.Hour, 5)
	if _, err := conn.Exec(testContext(t), batchLog); err != nil {
		t.Fatal(err)
	}

	var reported []PurgeProgress
	res, err := Purge(testContext(t), conn, purgeOpts(batch), func(p PurgeProgress) { reported = append(reported, p) })
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if res.ExpiredSessions != 100 || res.RevokedSessions != 28 || res.Events != 20 {
		t.Errorf("purge = %+v, want 100 expired, 28 revoked, 20 events", res)
	}

	rows, err := conn.Query(testContext(t), "SELECT relname, rows, xid FROM batch_log")
	if err != nil {
		t.Fatal(err)
	}
	type statement struct {
		Rel       string
		Rows, XID int64
	}
	stmts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[statement])
	if err != nil {
		t.Fatal(err)
	}
	// Each phase's first statement deletes nothing and finds where its
	// first batch ends; each batch finds where the next one ends, and one
	// that finds none, or fewer rows than a batch, ends the phase without
	// another statement: 1 + ceil(100/7), 1 + 28/7, 1 + ceil(20/7).
	const (
		phases         = 3
		wantStatements = 1 + 15 + 1 + 4 + 1 + 3
	)
	if len(stmts) != wantStatements {
		t.Errorf("%d DELETE statements, want %d", len(stmts), wantStatements)
	}
	xids := map[int64]bool{}
	deleted := map[string]int64{}
	for _, s := range stmts {
		if s.Rows > batch {
			t.Errorf("a DELETE on %s removed %d rows, more than the batch of %d", s.Rel, s.Rows, batch)
		}
		if xids[s.XID] {
			t.Errorf("two DELETE statements ran in transaction %d, want one transaction per batch", s.XID)
		}
		xids[s.XID] = true
		deleted[s.Rel] += s.Rows
	}
	if deleted["web_sessions"] != 128 || deleted["session_events"] != 20 {
		t.Errorf("deleted %v, want 128 web_sessions and 20 session_events", deleted)
	}
	if res.Batches != len(stmts)-phases || len(reported) != res.Batches {
		t.Errorf("Batches = %d and %d progress reports for %d statements (one empty per phase), want equal",
			res.Batches, len(reported), len(stmts))
	}
	for _, p := range reported {
		if p.Rows < 1 || p.Rows > batch {
			t.Errorf("progress reported a batch of %d rows, want 1 to %d", p.Rows, batch)
		}
	}
	if last := reported[len(reported)-1].Result; last != res {
		t.Errorf("last progress totals %+v, want the result %+v", last, res)
	}
	if n := mustCount(t, conn, "system.web_sessions"); n != 10 {
		t.Errorf("%d sessions left, want the 10 active ones", n)
	}
}

func TestPurgeResumesAfterInterruption(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	mustInsert(t, conn, "a", expiredLongAgo, 50)
	mustInsert(t, conn, "b", active, 5)

	ctx, cancel := context.WithCancel(testContext(t))
	batches := 0
	res, err := Purge(ctx, conn, purgeOpts(5), func(PurgeProgress) {
		if batches++; batches == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted purge: err = %v, want context.Canceled", err)
	}
	if res.ExpiredSessions != 15 || res.Batches != 3 {
		t.Errorf("interrupted purge = %+v, want 15 rows in 3 batches", res)
	}
	if n := sessionsOf(t, conn, "a"); n != 35 {
		t.Errorf("%d expired sessions left after the interruption, want 35: committed batches stay", n)
	}

	res, err = Purge(testContext(t), conn, purgeOpts(5), nil)
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if res.ExpiredSessions != 35 {
		t.Errorf("rerun purged %d, want the remaining 35", res.ExpiredSessions)
	}
	if n := sessionsOf(t, conn, "a"); n != 0 {
		t.Errorf("%d expired sessions left after the rerun", n)
	}
	if n := sessionsOf(t, conn, "b"); n != 5 {
		t.Errorf("%d active sessions left, want 5", n)
	}

	// Both runs explain what they deleted, the interrupted one as incomplete.
	var details []string
	rows, _ := conn.Query(testContext(t), "SELECT via || ' ' || detail::TEXT FROM system.session_events WHERE event = $1 ORDER BY id", EventRetentionPurged)
	details, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(details) != 2 || !strings.Contains(details[0], `"complete": false`) || !strings.Contains(details[0], `"expired_sessions": 15`) ||
		!strings.Contains(details[1], `"complete": true`) || !strings.Contains(details[1], `"expired_sessions": 35`) {
		t.Errorf("retention events = %q, want an incomplete one for 15 rows, then a complete one for 35", details)
	}
}

func TestPurgeSparesLoginsDuringThePurge(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	other := mustConnect(t, dbURL)
	mustInsert(t, conn, "old", expiredLongAgo, 30)
	loggedIn := false
	_, err := Purge(testContext(t), conn, purgeOpts(5), func(PurgeProgress) {
		if !loggedIn {
			// A login, and a logout, land between two batches.
			mustInsert(t, other, "new", active, 1)
			mustInsert(t, other, "gone", revokedRecently, 1)
			loggedIn = true
		}
	})
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if sessionsOf(t, conn, "new") != 1 || sessionsOf(t, conn, "gone") != 1 || sessionsOf(t, conn, "old") != 0 {
		t.Errorf("after the purge: new %d, gone %d, old %d sessions; want 1, 1, 0",
			sessionsOf(t, conn, "new"), sessionsOf(t, conn, "gone"), sessionsOf(t, conn, "old"))
	}
}

func TestConcurrentPurgesDeleteEachRowOnce(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	mustInsert(t, conn, "a", expiredLongAgo, 3000)
	mustInsert(t, conn, "b", revokedLongAgo, 1000)
	mustInsert(t, conn, "c", active, 100)
	mustInsert(t, conn, "d", unusedLong, 1000)
	mustInsertEvents(t, conn, 40*24*time.Hour, 1000)

	opts := purgeOpts(20)
	opts.IdleTimeout = 2 * time.Hour
	total := purgeConcurrently(t, dbURL, 3, opts)
	if total.ExpiredSessions != 3000 || total.RevokedSessions != 1000 || total.IdleSessions != 1000 || total.Events != 1000 {
		t.Errorf("purges deleted %d expired, %d revoked, %d idle, %d events in total, want 3000, 1000, 1000, 1000 (each row once)",
			total.ExpiredSessions, total.RevokedSessions, total.IdleSessions, total.Events)
	}
	if n := mustCount(t, conn, "system.web_sessions"); n != 100 {
		t.Errorf("%d sessions left, want the 100 active ones", n)
	}
	if n := mustCount(t, conn, "system.session_events WHERE event NOT LIKE 'retention.%'"); n != 0 {
		t.Errorf("%d old events left", n)
	}
}

// purgeConcurrently starts n purges with opts at once, each on a connection
// of its own, and returns the sum of what they deleted; a purge that failed
// fails the test.
func purgeConcurrently(t *testing.T, dbURL string, n int, opts PurgeOptions) PurgeResult {
	t.Helper()
	results := make([]PurgeResult, n)
	errs := make([]error, n)
	conns := make([]*pgx.Conn, n)
	for i := range conns {
		conns[i] = mustConnect(t, dbURL)
	}
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Go(func() {
			start.Wait()
			results[i], errs[i] = Purge(testContext(t), conns[i], opts, nil)
		})
	}
	start.Done()
	done.Wait()

	var total PurgeResult
	for i, r := range results {
		t.Logf("purge %d: %d expired, %d revoked, %d idle, %d events in %d batches", i, r.ExpiredSessions, r.RevokedSessions, r.IdleSessions, r.Events, r.Batches)
		if errs[i] != nil {
			t.Errorf("purge %d: %v", i, errs[i])
		}
		total.ExpiredSessions += r.ExpiredSessions
		total.RevokedSessions += r.RevokedSessions
		total.IdleSessions += r.IdleSessions
		total.Events += r.Events
		total.Batches += r.Batches
	}
	return total
}

func TestPurgeEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		olderThan  time.Duration
		wantPurged int64
	}{
		{"older than 30 days", 30 * 24 * time.Hour, 4},
		{"older than 1 day", 24 * time.Hour, 7},
		{"kept", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, _ := newStore(t)
			mustInsertEvents(t, conn, 40*24*time.Hour, 4)
			mustInsertEvents(t, conn, 2*24*time.Hour, 3)
			mustInsertEvents(t, conn, time.Hour, 2)
			opts := purgeOpts(2)
			opts.EventsOlderThan = tt.olderThan
			res, err := Purge(testContext(t), conn, opts, nil)
			if err != nil {
				t.Fatalf("purge: %v", err)
			}
			if res.Events != tt.wantPurged || res.EventsCutoff.IsZero() != (tt.olderThan == 0) {
				t.Errorf("purge = %+v, want %d events purged", res, tt.wantPurged)
			}
			if n := mustCount(t, conn, "system.session_events WHERE event NOT LIKE 'retention.%'"); n != 9-tt.wantPurged {
				t.Errorf("%d events left, want %d", n, 9-tt.wantPurged)
			}
		})
	}
}

func TestPurgeRecordsOneEventPerRunThatDeleted(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	mustInsert(t, conn, "a", expiredLongAgo, 10)
	opts := purgeOpts(3)
	opts.Audit.Actor = "alice"
	for range 2 { // the second run finds nothing and records nothing
		if _, err := Purge(testContext(t), conn, opts, nil); err != nil {
			t.Fatal(err)
		}
	}
	var actor, via, addr, username string
	var expired, batches int64
	err := conn.QueryRow(testContext(t), `SELECT actor, via, client_addr, username,
    (detail->>'expired_sessions')::BIGINT, (detail->>'batches')::BIGINT
FROM system.session_events WHERE event = $1`, EventRetentionPurged).Scan(&actor, &via, &addr, &username, &expired, &batches)
	if err != nil {
		t.Fatalf("read the retention event (want exactly one): %v", err)
	}
	if actor != "alice" || via != "cli" || addr != "test-host" || username != "" || expired != 10 || batches != 4 {
		t.Errorf("event by %q via %q from %q about %q: %d expired in %d batches; want alice, cli, test-host, no user, 10 in 4",
			actor, via, addr, username, expired, batches)
	}
}

func TestPurgeRejectsBadOptions(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	mustInsert(t, conn, "a", expiredLongAgo, 3)
	for _, opts := range []PurgeOptions{
		{OlderThan: 0, Batch: 10},
		{OlderThan: time.Hour, Batch: 0},
		{OlderThan: time.Hour, Batch: MaxPurgeBatch + 1},
		{OlderThan: time.Hour, Batch: 10, EventsOlderThan: -time.Hour},
		{OlderThan: time.Hour, Batch: 10, IdleTimeout: -time.Hour},
		{OlderThan: time.Hour, Batch: 10, Pace: -1},
		{OlderThan: time.Hour, Batch: 10, Pace: MaxPurgePace + 1},
	} {
		if _, err := Purge(testContext(t), conn, opts, nil); err == nil {
			t.Errorf("Purge(%+v) succeeded, want an error", opts)
		}
	}
	if n := sessionsOf(t, conn, "a"); n != 3 {
		t.Errorf("%d sessions left, want all 3", n)
	}
}

func TestRunPurgeLoop(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	watcher := mustConnect(t, dbURL)
	mustInsert(t, conn, "a", expiredLongAgo, 10)
	// The loop owns conn and logs until it returns; logs is read after.
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() {
		done <- RunPurgeLoop(ctx, conn, PurgeLoopOptions{
			Purge: purgeOpts(4), Interval: 20 * time.Millisecond, Jitter: 0.5,
			Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		})
	}()
	for sessionsOf(t, watcher, "a") != 0 {
		select {
		case err := <-done:
			t.Fatalf("RunPurgeLoop returned %v before purging", err)
		case <-ctx.Done():
			t.Fatal("the loop did not purge the expired sessions")
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunPurgeLoop: %v", err)
	}
	// Whether the run finished or saw the cancellation, its line counts.
	if !strings.Contains(logs.String(), "expired_sessions=10") {
		t.Errorf("log = %q, want a line with expired_sessions=10", logs.String())
	}

	if err := RunPurgeLoop(testContext(t), conn, PurgeLoopOptions{Purge: purgeOpts(4)}); err != nil {
		t.Errorf("RunPurgeLoop with Interval 0 = %v, want nil at once", err)
	}
	if err := RunPurgeLoop(testContext(t), conn, PurgeLoopOptions{Purge: purgeOpts(4), Interval: time.Hour, Jitter: 2}); err == nil {
		t.Error("RunPurgeLoop with Jitter 2 succeeded, want an error")
	}
}

// TestPurgePace checks that a paced purge still deletes every row, batch by
// batch. (How long it pauses is a matter of time, which tests do not
// assert; bench/purgelatency measures what pacing buys.)
func TestPurgePace(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	mustInsert(t, conn, "a", expiredLongAgo, 40)
	mustInsert(t, conn, "a", active, 2)
	opts := purgeOpts(10)
	opts.Pace = 2
	batches := 0
	res, err := Purge(testContext(t), conn, opts, func(p PurgeProgress) { batches++ })
	if err != nil || res.ExpiredSessions != 40 || res.Batches != 4 || batches != 4 {
		t.Fatalf("paced purge: %+v, %d progress calls, %v; want 40 sessions in 4 batches", res, batches, err)
	}
	if n := sessionsOf(t, conn, "a"); n != 2 {
		t.Errorf("%d sessions left, want the 2 active ones", n)
	}
}
