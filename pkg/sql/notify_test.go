package sql

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// nextNotification returns the payload of the next notification on conn.
func nextNotification(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), 30*time.Second)
	defer cancel()
	n, err := conn.WaitForNotification(ctx)
	if err != nil {
		t.Fatalf("waiting for a notification: %v", err)
	}
	return n.Payload
}

// TestWritersNotifyOnlyFollowers: a statement that writes events notifies
// only while a follower is enrolled, and only once it committed. Each
// check ends with a marker notified after the write committed:
// notifications come in commit order, so a write that notified is heard
// before the marker, one that did not, not at all.
func TestWritersNotifyOnlyFollowers(t *testing.T) {
	t.Parallel()
	writer, dbURL := newStore(t)
	ctx := testContext(t)
	listener := mustConnect(t, dbURL)
	if err := listen(ctx, listener); err != nil {
		t.Fatal(err)
	}
	marker := func(name string) {
		t.Helper()
		if _, err := writer.Exec(ctx, "SELECT pg_notify('"+eventsChannel+"', $1)", name); err != nil {
			t.Fatal(err)
		}
	}
	heard := func(what string, write func()) bool {
		t.Helper()
		write()
		marker(what)
		// A purge commits a transaction per batch: one notification each.
		wrote := false
		for {
			switch got := nextNotification(t, listener); got {
			case "":
				wrote = true
			case what:
				return wrote
			default:
				t.Fatalf("%s: heard %q, want the write's notifications, then the marker", what, got)
			}
		}
	}
	event := Event{Event: EventSessionCreated, Actor: "a", Username: "u", Via: "cli"}
	purge := func() {
		t.Helper()
		mustInsert(t, writer, "gone", expiredLongAgo, 3)
		if _, err := Purge(ctx, writer, purgeOpts(100), nil); err != nil {
			t.Fatal(err)
		}
	}
	throttle := func() {
		t.Helper()
		if err := RecordThrottledLogins(ctx, writer, LoginLimits{Window: time.Minute}, ThrottledLogins{ClientAddr: "192.0.2.1", Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if heard("no follower", func() { mustRecord(t, writer, event) }) {
		t.Error("an event written with no follower enrolled notified")
	}
	if _, err := writer.Exec(ctx, inSchema(writer, enrollFollower), 42, time.Hour.Microseconds()); err != nil {
		t.Fatal(err)
	}
	if !heard("a follower", func() { mustRecord(t, writer, event) }) {
		t.Error("an event written while a follower is enrolled did not notify")
	}
	if !heard("purge", purge) {
		t.Error("purge's batch event did not notify a follower")
	}
	if !heard("throttle", throttle) {
		t.Error("the throttle's event did not notify a follower")
	}
	// Rolled back: nothing to hear.
	tx, err := writer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := RecordEvent(ctx, tx, event); err != nil {
		t.Fatal(err)
	}
	if heard("rolled back", func() { _ = tx.Rollback(ctx) }) {
		t.Error("a write rolled back notified")
	}
	if _, err := writer.Exec(ctx, `UPDATE system.event_followers SET until = now() - INTERVAL '1 second'`); err != nil {
		t.Fatal(err)
	}
	if heard("expired", func() { mustRecord(t, writer, event) }) {
		t.Error("an event written once the only enrolment expired notified")
	}
}
