package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// FollowEvents, the follower of the audit trail: its connection, its
// enrolment, its reads and its reconnections. How it reads, and why by
// snapshot, is in follow.go.

// FollowOptions say what FollowEvents follows and how.
type FollowOptions struct {
	// Filter picks the events; its Until must be unset.
	Filter EventFilter
	// History lists the events matching Filter committed before the
	// follow began, first; without it only later events are listed.
	History bool
	// Connect opens the connection to listen and read on: at the start
	// and after each outage.
	Connect func(ctx context.Context) (*Conn, error)
	// Flush is called after each read that listed events, before the
	// follower waits again: the caller writes out what fn was given.
	Flush func() error
	// Lost is told that the connection was lost, or a new one failed,
	// and how long the follower waits before it tries again.
	Lost func(err error, retryIn time.Duration)
	// Back is told that the follower is connected again, after an outage
	// that began down ago, and has read what it missed.
	Back func(down time.Duration)
	// Poll is the longest the follower waits for a notification before it
	// reads anyway (DefaultFollowPoll when zero): the notifications are a
	// wake-up, and a read that finds nothing costs an index lookup. It also
	// finds a connection that died in silence sooner.
	Poll time.Duration
}

// Backoff of FollowEvents' reconnections, and its polls.
const (
	followFirstRetry  = 250 * time.Millisecond
	followMaxRetry    = 10 * time.Second
	DefaultFollowPoll = 30 * time.Second
	// settlePoll is the poll while transactions that may not notify run
	// (see follower.settling).
	settlePoll = 100 * time.Millisecond
	// followReadTimeout bounds one read, so that a connection that died
	// without a word is found out.
	followReadTimeout = time.Minute
)

// FollowEvents calls fn for every event matching o.Filter as its
// transaction commits, in commit order (a transaction's events in the
// order of listEvents), until ctx is done, when it returns nil, or fn or
// o.Flush fails. A failure to connect at the start is returned; once
// following, a lost connection is retried with backoff (o.Lost is told),
// and the follower then reads from where it left off: no event is missed
// or listed twice. An error of another kind than an outage (see IsOutage)
// is returned.
func FollowEvents(ctx context.Context, o FollowOptions, fn func(*Event) error) error {
	if !o.Filter.Until.IsZero() {
		return errors.New("follow events: a follow has no end: until must be unset")
	}
	if o.Poll <= 0 {
		o.Poll = DefaultFollowPoll
	}
	conn, err := o.Connect(ctx)
	if err != nil {
		return err
	}
	f := &follower{o: o, fn: fn, id: rand.Int64(), shown: map[int64]bool{}}
	defer func() { f.leave(ctx) }()
	if err := f.start(ctx, conn, o.History); err != nil {
		return done(ctx, err)
	}
	for {
		err := f.step(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() != nil || !IsOutage(err) {
			return done(ctx, err)
		}
		if err := f.reconnect(ctx, err); err != nil {
			return done(ctx, err)
		}
	}
}

// follower is the state of one FollowEvents.
type follower struct {
	o    FollowOptions
	fn   func(*Event) error
	id   int64 // its row in event_followers
	conn *Conn
	snap EventsSnapshot
	// outage is true while it reconnects after losing its connection.
	outage bool
	// enrolled is when its enrolment was last renewed.
	enrolled time.Time
	// settling are the transactions running when it enrolled: they may
	// have looked for followers before, found none and will not notify, so
	// the follower reads every settlePoll until they have ended.
	settling []string
	// shown are the events given to fn by reads that did not complete:
	// the next read, from the same snapshot, lists them again, and skips
	// them. Emptied by each read that completes, it holds the ids of one
	// read (all of a logout of a million users: some 40 MB, for a moment).
	// The history is not kept here: a failure there ends the follow.
	shown map[int64]bool
}

// start begins following on conn: LISTEN first (a commit after it is
// notified), enroll, then read: with history, every event matching; when
// following already (a reconnection), those committed since its last
// read; else nothing, taking the snapshot of now.
func (f *follower) start(ctx context.Context, conn *Conn, history bool) error {
	f.conn = conn
	if err := listen(ctx, conn.Conn); err != nil {
		return err
	}
	if err := f.enroll(ctx); err != nil {
		return err
	}
	if f.snap == "" && !history {
		snap, err := CurrentEventsSnapshot(ctx, conn)
		if err != nil {
			return err
		}
		f.snap, f.settling = snap, snapshotXip(snap)
		return nil
	}
	return f.read(ctx)
}

// step waits for a notification or the poll, then reads.
func (f *follower) step(ctx context.Context) error {
	poll := f.o.Poll
	if len(f.settling) > 0 {
		poll = settlePoll
	}
	if err := waitForEvents(ctx, f.conn.Conn, poll); err != nil {
		return err
	}
	if time.Since(f.enrolled) >= f.o.Poll {
		if err := f.enroll(ctx); err != nil {
			return err
		}
	}
	readCtx, cancel := context.WithTimeout(ctx, followReadTimeout)
	defer cancel()
	return f.read(readCtx)
}

// read lists the events committed since f.snap (every one matching when
// f.snap is empty) and writes them out.
func (f *follower) read(ctx context.Context) error {
	n, history := 0, f.snap == ""
	snap, err := ListEventsAfter(ctx, f.conn, f.o.Filter, f.snap, func(e *Event) error {
		if !history {
			if f.shown[e.ID] {
				return nil
			}
			f.shown[e.ID] = true
		}
		n++
		return f.fn(e)
	})
	if err != nil {
		return err
	}
	clear(f.shown)
	f.snap = snap
	f.settling = stillRunning(f.settling, snap)
	if n > 0 {
		return f.o.Flush()
	}
	return nil
}

// enroll enrolls the follower, or renews its enrolment, for long enough to
// renew it at the next poll, a read in between: writers notify while it
// lasts. It deletes the enrolments of followers that died.
func (f *follower) enroll(ctx context.Context) error {
	lease := 2*f.o.Poll + followReadTimeout
	if _, err := f.conn.Exec(ctx, inSchema(f.conn, dropExpiredFollowers)); err != nil {
		return fmt.Errorf("enroll as a follower of the audit trail: %w", err)
	}
	if _, err := f.conn.Exec(ctx, inSchema(f.conn, enrollFollower), f.id, lease.Microseconds()); err != nil {
		return fmt.Errorf("enroll as a follower of the audit trail: %w", err)
	}
	f.enrolled = time.Now()
	return nil
}

// leave removes the follower's enrolment and closes the connection. An
// interruption (Ctrl-C) during a read closes the connection under it, so
// the enrolment is then removed on a new one; during an outage, or failing
// that, it expires.
func (f *follower) leave(ctx context.Context) {
	if f.conn == nil {
		return
	}
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	conn := f.conn
	if conn.IsClosed() {
		if f.outage {
			return
		}
		var err error
		if conn, err = f.o.Connect(c); err != nil {
			return
		}
	}
	_, _ = conn.Exec(c, inSchema(conn, leaveFollowers), f.id)
	_ = conn.Close(c)
}

// reconnect connects again after err ended the connection, with backoff,
// and starts following on the new connection from where it left off.
func (f *follower) reconnect(ctx context.Context, err error) error {
	f.outage = true
	_ = f.conn.Close(context.WithoutCancel(ctx))
	since := time.Now()
	wait := followFirstRetry
	for {
		f.o.Lost(err, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, followMaxRetry)
		var conn *Conn
		if conn, err = f.o.Connect(ctx); err == nil {
			if err = f.start(ctx, conn, false); err == nil {
				f.outage = false
				f.o.Back(time.Since(since))
				return nil
			}
			_ = conn.Close(context.WithoutCancel(ctx))
		}
		if ctx.Err() != nil || !IsOutage(err) {
			return err
		}
	}
}

// done is err as FollowEvents returns it: nil once ctx is done, which is
// how a follow ends.
func done(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// listen subscribes conn to eventsChannel.
func listen(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{eventsChannel}.Sanitize())
	return err
}

// waitForEvents returns once a notification arrived on conn, or poll has
// passed, or ctx is done (then with its error). The notifications already
// received are taken at once: one read serves them all.
func waitForEvents(ctx context.Context, conn *pgx.Conn, poll time.Duration) error {
	waitCtx, cancel := context.WithTimeout(ctx, poll)
	defer cancel()
	_, err := conn.WaitForNotification(waitCtx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil && !(errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed()) {
		return err
	}
	// Take the rest of those already here without waiting.
	drained, cancelDrain := context.WithCancel(ctx)
	cancelDrain()
	for {
		if n, _ := conn.WaitForNotification(drained); n == nil {
			return nil
		}
	}
}

// IsOutage reports whether err says the database, or the connection to
// it, is gone, for now: a network error, a closed connection, a server
// shutting down, starting up or out of connections; not an error of what
// was asked (a permission, a missing table).
func IsOutage(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53") ||
			code == "57P01" || code == "57P02" || code == "57P03" || code == "58000" || code == "58030"
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err) || isConnError(err)
}

// isConnError reports whether err is pgconn's of a connection that is
// closed or failed to connect.
func isConnError(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	return strings.Contains(err.Error(), "conn closed")
}
