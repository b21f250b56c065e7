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

// readAfter lists the events committed since snap, and the next snapshot.
func readAfter(t *testing.T, conn *pgx.Conn, snap EventsSnapshot) ([]Event, EventsSnapshot) {
	t.Helper()
	var got []Event
	next, err := ListEventsAfter(testContext(t), conn, EventFilter{}, snap, func(e *Event) error {
		got = append(got, *e)
		return nil
	})
	if err != nil {
		t.Fatalf("list events after %s: %v", snap, err)
	}
	return got, next
}

// TestFollowSeesATransactionThatCommitsLate holds a transaction open while
// another, begun later, commits: the later one's event is read first, and
// the held one's once it commits, although its id and time come before
// those already read. A follower that read "the events after the last one
// shown", by id or time, would have passed it for good. Its event is
// written in a savepoint, as a nested operation would: the savepoint's
// transaction id is not the one a snapshot lists.
func TestFollowSeesATransactionThatCommitsLate(t *testing.T) {
	t.Parallel()
	follower, dbURL := newStore(t)
	ctx := testContext(t)
	start, err := CurrentEventsSnapshot(ctx, follower)
	if err != nil {
		t.Fatal(err)
	}

	held, err := mustConnect(t, dbURL).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback(ctx) //nolint:errcheck
	savepoint, err := held.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := RecordEvent(ctx, savepoint, Event{Event: EventSessionCreated, Actor: "held", Username: "held", Via: "cli"}); err != nil {
		t.Fatal(err)
	}
	if err := savepoint.Commit(ctx); err != nil { // RELEASE SAVEPOINT
		t.Fatal(err)
	}
	mustRecord(t, mustConnect(t, dbURL), Event{Event: EventSessionCreated, Actor: "later", Username: "later", Via: "cli"})

	got, snap := readAfter(t, follower, start)
	if eventNames(got) != "session.created/later" {
		t.Fatalf("first read: %q, want the committed event only", eventNames(got))
	}
	later := got[0]
	if got, _ := readAfter(t, follower, snap); len(got) != 0 {
		t.Fatalf("read again before the held transaction commits: %q, want nothing", eventNames(got))
	}

	if err := held.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got, snap = readAfter(t, follower, snap)
	if eventNames(got) != "session.created/held" {
		t.Fatalf("read after the held transaction committed: %q, want its event", eventNames(got))
	}
	if !got[0].At.Before(later.At) || got[0].ID >= later.ID {
		t.Errorf("the held event (id %d, %s) is not before the later one (id %d, %s): the test shows nothing",
			got[0].ID, got[0].At, later.ID, later.At)
	}
	t.Logf("held event: id %d at %s; later event: id %d at %s", got[0].ID, got[0].At, later.ID, later.At)
	if got, _ := readAfter(t, follower, snap); len(got) != 0 {
		t.Errorf("read again: %q, want nothing: each event is read once", eventNames(got))
	}
	// From the start, both, once each.
	if got, _ := readAfter(t, follower, start); eventNames(got) != "session.created/held session.created/later" {
		t.Errorf("read from the start: %q", eventNames(got))
	}
}

// follow runs FollowEvents on dbURL in the background, with a poll of an
// hour: only a notification wakes it within the test's time. Its
// application name lets the test find its backend.
type follow struct {
	events chan Event
	lost   chan error
	// resume lets a reconnection go ahead after Lost.
	resume chan struct{}
	back   chan time.Duration
	done   chan error
	stop   context.CancelFunc
}

func startFollow(t *testing.T, dbURL, appName string, f EventFilter, history bool) *follow {
	t.Helper()
	ctx, cancel := context.WithCancel(testContext(t))
	fw := &follow{events: make(chan Event, 100), lost: make(chan error, 10), resume: make(chan struct{}, 10),
		back: make(chan time.Duration, 10), done: make(chan error, 1), stop: cancel}
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = appName
	go func() {
		fw.done <- FollowEvents(ctx, FollowOptions{
			Filter:  f,
			History: history,
			Connect: func(ctx context.Context) (*Conn, error) {
				c, err := pgx.ConnectConfig(ctx, cfg)
				if err != nil {
					return nil, err
				}
				return InSchema(c, "")
			},
			Flush: func() error { return nil },
			Lost: func(err error, _ time.Duration) {
				fw.lost <- err
				select {
				case <-fw.resume:
				case <-ctx.Done():
				}
			},
			Back: func(down time.Duration) { fw.back <- down },
			Poll: time.Hour,
		}, func(e *Event) error {
			fw.events <- *e
			return nil
		})
	}()
	t.Cleanup(cancel)
	return fw
}

// next waits for the follower's next event.
func (fw *follow) next(t *testing.T, what string) Event {
	t.Helper()
	select {
	case e := <-fw.events:
		return e
	case err := <-fw.done:
		t.Fatalf("waiting for %s: the follow ended: %v", what, err)
	case <-time.After(30 * time.Second):
		t.Fatalf("waiting for %s: nothing in 30s", what)
	}
	return Event{}
}

// terminate ends the backends of application appName.
func terminate(t *testing.T, db DBTX, appName string) {
	t.Helper()
	var n int
	if err := db.QueryRow(testContext(t), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		appName).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminate the follower's backend: %d terminated, %v", n, err)
	}
}

// TestFollowEventsAcrossAnOutage terminates the follower's backend while
// events are written, one of them by a transaction begun before the outage
// and committed during it: after reconnecting, the follower lists each
// event once, none lost, and says it was away.
func TestFollowEventsAcrossAnOutage(t *testing.T) {
	t.Parallel()
	writer, dbURL := newStore(t)
	ctx := testContext(t)
	app := strings.ReplaceAll(t.Name(), "/", "_")
	mustRecord(t, writer, Event{Event: EventSessionCreated, Actor: "a", Username: "before", Via: "cli"})
	fw := startFollow(t, dbURL, app, EventFilter{Events: []string{EventSessionCreated}}, false)
	waitFollowing(t, writer, app)
	mustRecord(t, writer, Event{Event: EventSessionCreated, Actor: "a", Username: "first", Via: "cli"})
	if e := fw.next(t, "the first event"); e.Username != "first" {
		t.Fatalf("first event %q, want first (the one before the follow began is not listed without History)", e.Username)
	}

	held, err := mustConnect(t, dbURL).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback(ctx) //nolint:errcheck
	if err := RecordEvent(ctx, held, Event{Event: EventSessionCreated, Actor: "a", Username: "held", Via: "cli"}); err != nil {
		t.Fatal(err)
	}

	terminate(t, writer, app)
	select {
	case err := <-fw.lost:
		if !IsOutage(err) {
			t.Errorf("lost with %v, which IsOutage does not call an outage", err)
		}
		t.Logf("lost: %v", err)
	case err := <-fw.done:
		t.Fatalf("the follow ended at the outage: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the follower did not notice its backend was terminated")
	}
	// While it is away: events of others, filtered out or not, and the
	// held transaction's commit.
	for i := range 3 {
		mustRecord(t, writer, Event{Event: EventSessionCreated, Actor: "a", Username: fmt.Sprintf("during%d", i), Via: "cli"},
			Event{Event: EventLoginFailed, Actor: "", Username: "filtered", Via: "http"})
	}
	if err := held.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	fw.resume <- struct{}{}
	var got []string
	for range 4 {
		got = append(got, fw.next(t, "the events written while away").Username)
	}
	select {
	case down := <-fw.back:
		t.Logf("back after %s", down)
	case <-time.After(30 * time.Second):
		t.Fatal("Back was not called")
	}
	mustRecord(t, writer, Event{Event: EventSessionCreated, Actor: "a", Username: "after", Via: "cli"})
	got = append(got, fw.next(t, "the event after the outage").Username)
	if want := "held during0 during1 during2 after"; strings.Join(got, " ") != want {
		t.Errorf("events listed: %q, want %q, each once", strings.Join(got, " "), want)
	}
	select {
	case e := <-fw.events:
		t.Errorf("an event more: %+v", e)
	default:
	}
	fw.stop()
	if err := <-fw.done; err != nil {
		t.Errorf("FollowEvents ended with %v once its context was done, want nil", err)
	}
}

// waitFollowing waits until the follower of application appName has taken
// its first snapshot: it lists the events committed from then on. Its
// backend idle after the statement that takes it does not say so: pgx
// prepares a statement in a round trip of its own before it runs it, and
// in between the backend is idle, showing the statement's text, the
// snapshot not taken yet; a writer that committed then was before the
// follow, and is rightly not listed. So once the follower is past its
// LISTEN, a notification wakes it, and its backend idle after the read
// that follows, a transaction, says the first snapshot is behind it.
func waitFollowing(t *testing.T, db DBTX, appName string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	woken := false
	for {
		// Its backend: past its LISTEN (running a statement after it), and
		// idle after a read.
		var listening, read bool
		err := db.QueryRow(testContext(t), `SELECT coalesce(bool_or(query <> '' AND query NOT LIKE 'LISTEN%'), false),
       coalesce(bool_or(state = 'idle' AND query ILIKE 'commit'), false)
FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&listening, &read)
		if err != nil {
			t.Fatal(err)
		}
		if read {
			return
		}
		if listening && !woken {
			if _, err := db.Exec(testContext(t), `SELECT pg_notify($1, '')`, eventsChannel); err != nil {
				t.Fatal(err)
			}
			woken = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("the follower did not read within 30s (listening: %v)", listening)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFollowEventsWithHistory lists the events already committed that
// match, then the new ones, and ends without an error when asked; a
// failure of the caller's function ends it with that error.
func TestFollowEventsWithHistory(t *testing.T) {
	t.Parallel()
	writer, dbURL := newStore(t)
	mustRecord(t, writer, Event{Event: EventSessionCreated, Actor: "a", Username: "u1", Via: "cli"},
		Event{Event: EventSessionCreated, Actor: "a", Username: "other", Via: "cli"})
	fw := startFollow(t, dbURL, "history_"+fmt.Sprint(time.Now().UnixNano()), EventFilter{Username: "u1"}, true)
	if e := fw.next(t, "the past event"); e.Username != "u1" {
		t.Fatalf("history: %+v", e)
	}
	mustRecord(t, writer, Event{Event: EventSessionRevoked, Actor: "a", Username: "other", Via: "cli"},
		Event{Event: EventSessionRevoked, Actor: "a", Username: "u1", Via: "cli"})
	if e := fw.next(t, "the new event"); e.Username != "u1" || e.Event != EventSessionRevoked {
		t.Fatalf("new event: %+v", e)
	}
	fw.stop()
	if err := <-fw.done; err != nil {
		t.Errorf("ended with %v, want nil", err)
	}

	// fn's error ends the follow with it.
	failed := errors.New("output closed")
	conn := mustConnect(t, dbURL)
	err := FollowEvents(testContext(t), FollowOptions{
		History: true,
		Connect: func(context.Context) (*Conn, error) { return InSchema(conn, "") },
		Flush:   func() error { return nil },
	}, func(*Event) error { return failed })
	if !errors.Is(err, failed) {
		t.Errorf("FollowEvents with a failing fn: %v, want %v", err, failed)
	}
	if err := FollowEvents(testContext(t), FollowOptions{Filter: EventFilter{Until: Instant{Ago: time.Hour}}}, nil); err == nil {
		t.Error("FollowEvents with an Until: no error")
	}
}

// TestFollowEventsEnrolsAndLeaves: a follower enrols at the start, deleting
// the enrolments that expired, and leaves at the end.
func TestFollowEventsEnrolsAndLeaves(t *testing.T) {
	t.Parallel()
	writer, dbURL := newStore(t)
	if _, err := writer.Exec(testContext(t), `INSERT INTO system.event_followers VALUES (1, now() - INTERVAL '1 minute'), (2, now() + INTERVAL '1 hour')`); err != nil {
		t.Fatal(err)
	}
	app := "enrol_" + fmt.Sprint(time.Now().UnixNano())
	fw := startFollow(t, dbURL, app, EventFilter{}, false)
	waitFollowing(t, writer, app)
	var ids []int64
	rows, err := writer.Query(testContext(t), `SELECT id FROM system.event_followers WHERE until > now() ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	if len(ids) != 2 || ids[0] != 2 || mustCount(t, writer, "system.event_followers") != 2 {
		t.Errorf("enrolments while following: %v, want 2 and the follower's; the expired one deleted", ids)
	}
	fw.stop()
	if err := <-fw.done; err != nil {
		t.Fatal(err)
	}
	if n := mustCount(t, writer, "system.event_followers WHERE id <> 2"); n != 0 {
		t.Errorf("%d enrolments left by the follower after it ended", n)
	}
}

// TestFollowEventsLeavesWhenStoppedMidRead: a follower stopped while a
// read waits (here on a lock on the events) has its connection closed by
// the interruption; it still removes its enrolment, on a connection of its
// own, rather than leave writers notifying until the enrolment's lease ends.
func TestFollowEventsLeavesWhenStoppedMidRead(t *testing.T) {
	t.Parallel()
	writer, dbURL := newStore(t)
	ctx := testContext(t)
	app := "midread_" + fmt.Sprint(time.Now().UnixNano())
	fw := startFollow(t, dbURL, app, EventFilter{}, false)
	waitFollowing(t, writer, app)
	if n := mustCount(t, writer, "system.event_followers"); n != 1 {
		t.Fatalf("%d enrolments while following, want 1", n)
	}
	locker, err := mustConnect(t, dbURL).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Rollback(ctx) //nolint:errcheck
	if _, err := locker.Exec(ctx, `LOCK TABLE system.session_events IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Exec(ctx, `SELECT pg_notify($1, '')`, eventsChannel); err != nil {
		t.Fatal(err)
	}
	waitForLockWait(t, writer, app)
	fw.stop()
	if err := <-fw.done; err != nil {
		t.Fatal(err)
	}
	if n := mustCount(t, writer, "system.event_followers"); n != 0 {
		t.Errorf("%d enrolments left by the follower stopped mid-read", n)
	}
}

// waitForLockWait waits until the backend of application appName waits
// for a lock.
func waitForLockWait(t *testing.T, db DBTX, appName string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting bool
		err := db.QueryRow(testContext(t), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
WHERE application_name = $1 AND wait_event_type = 'Lock')`, appName).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the follower did not wait for the lock within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFollowEventsHearsAWriterThatStartedFirst: a transaction that wrote
// its event before the follower enrolled did not notify, and commits
// after the follower began: the follower still lists it then, not at its
// next poll (an hour here), because it reads often until the transactions
// running when it enrolled have ended.
func TestFollowEventsHearsAWriterThatStartedFirst(t *testing.T) {
	t.Parallel()
	writer, dbURL := newStore(t)
	ctx := testContext(t)
	early, err := mustConnect(t, dbURL).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Rollback(ctx) //nolint:errcheck
	if err := RecordEvent(ctx, early, Event{Event: EventSessionCreated, Actor: "a", Username: "early", Via: "cli"}); err != nil {
		t.Fatal(err)
	}
	app := "early_" + fmt.Sprint(time.Now().UnixNano())
	fw := startFollow(t, dbURL, app, EventFilter{}, false)
	waitFollowing(t, writer, app)
	if err := early.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if e := fw.next(t, "the early writer's event"); e.Username != "early" {
		t.Errorf("listed %+v, want the early writer's event", e)
	}
}
