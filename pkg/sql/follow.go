package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Following the audit trail (events --follow): every statement that writes
// an event also notifies eventsChannel, which PostgreSQL delivers when, and
// only if, its transaction commits, in commit order. A follower LISTENs,
// and on each notification reads the events committed since its last read.
//
// "Since its last read" is by commit, not by id or time: both are assigned
// when the row is written, before the commit, so a transaction that
// commits after another may hold smaller ids and earlier times, and
// "WHERE id > the last id shown" would skip its events for good. Each read
// instead runs in a snapshot, and the next one reads the events whose
// transaction (xact_id, schema/0007) that snapshot did not see: those in
// progress when it was taken (its xip list) and those that began after it
// (from its xmax on). Each event is read once, after its commit, however
// long its transaction ran; both parts are ranges of the xact_id index, so
// a read costs the new events, however old the oldest transaction running.
// A snapshot is a few numbers, kept across an outage: after reconnecting,
// the follower reads from where it left off, losing nothing. The
// notification carries no data (a wake-up: any role that may connect may
// LISTEN on any channel), so a follower reads only what its role may.
//
// PostgreSQL only (see dialect.go): CockroachDB has neither NOTIFY nor
// transaction ids, and would follow the table with a changefeed.

// eventsChannel is the channel notifyEvents notifies. One name whatever
// the schema, which could make a channel name longer than PostgreSQL's
// 63 bytes: a follower of another schema in the same database is woken in
// vain, reads, and finds nothing of its own.
const eventsChannel = "auth_session_events"

// notifyEvents wakes the followers of the trail when the transaction it
// runs in commits. It follows every write of an event: RecordEvents' and
// the throttle's statements, and purge's batches (batchEventSQL).
// Notifications of one transaction with the same channel and payload are
// delivered once.
const notifyEvents = `SELECT pg_notify('` + eventsChannel + `', '')`

// EventsSnapshot is where a follower of the trail is in its commit order:
// a pg_snapshot, as text. The zero value is before every event.
type EventsSnapshot string

const currentSnapshot = `SELECT pg_current_snapshot()::TEXT`

// The events committed since snapshot $1 (see above), in the order of
// listEvents; %s is the filter's conditions, each starting with AND. The
// range's upper end, the xmax of the statement's own snapshot, past which
// no event is visible anyway, makes it one the planner expects to be small
// (TestEventQueriesUseIndexes): with its lower end alone, it walked the
// whole trail in time order instead.
const eventsAfter = `
WHERE (e.xact_id >= pg_snapshot_xmax($1::TEXT::pg_snapshot) AND e.xact_id < pg_snapshot_xmax(pg_current_snapshot())
       OR e.xact_id = ANY(ARRAY(SELECT pg_snapshot_xip($1::TEXT::pg_snapshot))))%s
ORDER BY e.at, e.id`

// TxOptionsBeginner starts transactions with options: a *pgx.Conn or a
// *pgxpool.Pool.
type TxOptionsBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// ListEventsAfter calls fn for each event matching f that committed after
// snapshot after was taken, or for every one when after is empty, and
// returns the snapshot it read in: the after of the next call. It reads in
// one REPEATABLE READ transaction, whose snapshot is the one returned.
func ListEventsAfter(ctx context.Context, db TxOptionsBeginner, f EventFilter, after EventsSnapshot, fn func(*Event) error) (EventsSnapshot, error) {
	var (
		q    string
		args []any
		err  error
	)
	if after == "" {
		q, args, err = eventsQuery(f, nil)
	} else {
		q, args, err = eventsAfterQuery(f, after)
	}
	if err != nil {
		return after, err
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return after, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only: nothing to undo
	// The first statement takes the transaction's snapshot, which the
	// listing then reads in.
	var snap EventsSnapshot
	if err := tx.QueryRow(ctx, currentSnapshot).Scan(&snap); err != nil {
		return after, err
	}
	if err := queryEvents(ctx, tx, q, args, fn); err != nil {
		return after, err
	}
	return snap, tx.Commit(ctx)
}

// eventsAfterQuery is the listing of the events matching f committed since
// snapshot after.
func eventsAfterQuery(f EventFilter, after EventsSnapshot) (string, []any, error) {
	w := where{args: []any{string(after)}}
	if err := f.add(&w); err != nil {
		return "", nil, err
	}
	conds := ""
	for _, c := range w.conds {
		conds += "\n  AND " + c
	}
	return listEvents + fmt.Sprintf(eventsAfter, conds), w.args, nil
}

// CurrentEventsSnapshot returns the snapshot of now: ListEventsAfter with
// it lists the events committed from now on.
func CurrentEventsSnapshot(ctx context.Context, db DBTX) (EventsSnapshot, error) {
	var snap EventsSnapshot
	err := db.QueryRow(ctx, currentSnapshot).Scan(&snap)
	return snap, err
}

// FollowOptions say what FollowEvents follows and how.
type FollowOptions struct {
	// Filter picks the events; its Until must be unset.
	Filter EventFilter
	// History lists the events matching Filter committed before the
	// follow began, first; without it only later events are listed.
	History bool
	// Connect opens the connection to listen and read on: at the start
	// and after each outage.
	Connect func(ctx context.Context) (*pgx.Conn, error)
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

// Backoff of FollowEvents' reconnections, and its poll.
const (
	followFirstRetry  = 250 * time.Millisecond
	followMaxRetry    = 10 * time.Second
	DefaultFollowPoll = 30 * time.Second
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
	defer func() { conn.Close(context.WithoutCancel(ctx)) }() //nolint:errcheck // closing: nothing to do about it
	var snap EventsSnapshot
	// LISTEN first: a commit after it is notified, one before it is in the
	// snapshot that follows.
	err = listen(ctx, conn)
	if err == nil {
		if o.History {
			snap, err = ListEventsAfter(ctx, conn, o.Filter, "", fn)
		} else {
			snap, err = CurrentEventsSnapshot(ctx, conn)
		}
	}
	if err == nil && o.History {
		err = o.Flush()
	}
	if err != nil {
		return done(ctx, err)
	}
	for {
		// A read after each wake-up and each poll.
		err := waitForEvents(ctx, conn, o.Poll)
		if err == nil {
			var n int
			readCtx, cancel := context.WithTimeout(ctx, followReadTimeout)
			snap, err = ListEventsAfter(readCtx, conn, o.Filter, snap, func(e *Event) error {
				n++
				return fn(e)
			})
			cancel()
			if err == nil && n > 0 {
				err = o.Flush()
			}
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil || !IsOutage(err) {
			return done(ctx, err)
		}
		conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // lost already
		if conn, err = reconnect(ctx, o, err, &snap, fn); err != nil {
			return done(ctx, err)
		}
	}
}

// reconnect connects again after err ended the connection, with backoff,
// listens, and reads what was committed since snap; it returns the new
// connection once it has.
func reconnect(ctx context.Context, o FollowOptions, err error, snap *EventsSnapshot, fn func(*Event) error) (*pgx.Conn, error) {
	since := time.Now()
	wait := followFirstRetry
	for {
		o.Lost(err, wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, followMaxRetry)
		var conn *pgx.Conn
		conn, err = o.Connect(ctx)
		if err != nil {
			if ctx.Err() != nil || !IsOutage(err) {
				return nil, err
			}
			continue
		}
		var n int
		err = listen(ctx, conn)
		if err == nil {
			*snap, err = ListEventsAfter(ctx, conn, o.Filter, *snap, func(e *Event) error {
				n++
				return fn(e)
			})
		}
		if err == nil && n > 0 {
			err = o.Flush()
		}
		if err == nil {
			o.Back(time.Since(since))
			return conn, nil
		}
		conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // failed already
		if ctx.Err() != nil || !IsOutage(err) {
			return nil, err
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
	return strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "conn busy")
}
