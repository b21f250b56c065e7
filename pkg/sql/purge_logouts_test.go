package sql

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPurgeTakesLogoutRecordsThatRefuseNothing: web_session_logouts keeps a
// row per user ever logged out; purge deletes those no session left
// predates, once a day and the retention have passed, and keeps the rest:
// a record that still refuses a session (a login that was in flight), and a
// recent one (a login in flight may still commit under it).
func TestPurgeTakesLogoutRecordsThatRefuseNothing(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	ctx := testContext(t)
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// gone: logged out 3 days ago, its sessions purged since.
	// held: logged out 3 days ago, with a session from before that its
	// UPDATE missed (created before, never revoked, live till next week).
	// recent: logged out an hour ago, no sessions.
	// '' (everyone): 3 days ago, but held's session predates it.
	mustExec(`INSERT INTO system.web_session_logouts (username, logged_out_at) VALUES
    ('gone', now() - INTERVAL '3 days'), ('held', now() - INTERVAL '3 days'),
    ('recent', now() - INTERVAL '1 hour'), ('', now() - INTERVAL '3 days')`)
	mustExec(`INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, created_at, expires_at)
VALUES (42, '\x00', 'held', 0, now() - INTERVAL '4 days', now() + INTERVAL '7 days')`)
	left := func() []string {
		rows, err := conn.Query(ctx, `SELECT username FROM system.web_session_logouts ORDER BY username`)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	opts := PurgeOptions{OlderThan: time.Hour, Batch: 1}

	dry, err := Purge(ctx, conn, PurgeOptions{OlderThan: time.Hour, Batch: 1, DryRun: true}, nil)
	if err != nil || dry.Logouts != 1 {
		t.Errorf("dry run: %d logout records (%v); want 1", dry.Logouts, err)
	}
	res, err := Purge(ctx, conn, opts, nil)
	if err != nil || res.Logouts != 1 {
		t.Errorf("purge: %d logout records (%v); want 1", res.Logouts, err)
	}
	if got, want := left(), []string{"", "held", "recent"}; !slices.Equal(got, want) {
		t.Errorf("logout records left %q; want %q", got, want)
	}
	// Once held's session is gone, its record and everyone's go too.
	mustExec(`DELETE FROM system.web_sessions WHERE id = 42`)
	if res, err := Purge(ctx, conn, opts, nil); err != nil || res.Logouts != 2 {
		t.Errorf("second purge: %d logout records (%v); want 2", res.Logouts, err)
	}
	if got, want := left(), []string{"recent"}; !slices.Equal(got, want) {
		t.Errorf("logout records left %q; want %q", got, want)
	}
	var logged int64
	if err := conn.QueryRow(ctx, `SELECT COALESCE(sum((detail->>'logouts')::BIGINT), 0) FROM system.session_events
WHERE event = $1`, EventRetentionPurged).Scan(&logged); err != nil || logged != 3 {
		t.Errorf("the purges' events count %d logout records (%v); want 3", logged, err)
	}
}
