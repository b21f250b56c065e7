package sql

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Following the audit trail (events --follow): every statement that writes
// an event also notifies eventsChannel, which PostgreSQL delivers when, and
// only if, its transaction commits, in commit order. A follower LISTENs,
// and on each notification reads the events committed since its last read.
// The writers notify only while a follower is enrolled (event_followers,
// schema/0007): PostgreSQL makes the commits of notifying transactions
// wait for each other, WAL flush included, which cut the commits per
// second of 8 concurrent writers 5 to 10 times with fsync on. A follower
// renews its enrolment as it polls, and removes it when it ends.
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

// notifyEvents wakes the followers of the trail, if any is enrolled, when
// the transaction it runs in commits. It follows every write of an event:
// RecordEvents' and the throttle's statements, and purge's batches
// (batchEventSQL). Notifications of one transaction with the same channel
// and payload are delivered once.
const notifyEvents = `SELECT pg_notify('` + eventsChannel + `', '')
WHERE EXISTS (SELECT 1 FROM system.event_followers WHERE until > now())`

// enrollFollower enrolls follower $1 until $2 microseconds from now, or
// renews its enrolment; dropExpiredFollowers deletes the enrolments of
// followers that died; leaveFollowers deletes follower $1's.
const (
	enrollFollower = `INSERT INTO system.event_followers (id, until)
VALUES ($1, now() + $2::BIGINT * INTERVAL '1 microsecond')
ON CONFLICT (id) DO UPDATE SET until = EXCLUDED.until`
	dropExpiredFollowers = `DELETE FROM system.event_followers WHERE until < now()`
	leaveFollowers       = `DELETE FROM system.event_followers WHERE id = $1`
)

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

// snapshotXip returns the transactions running when snap was taken: its
// xip list, of "xmin:xmax:xip,xip,...".
func snapshotXip(snap EventsSnapshot) []string {
	parts := strings.SplitN(string(snap), ":", 3)
	if len(parts) < 3 || parts[2] == "" {
		return nil
	}
	return strings.Split(parts[2], ",")
}

// stillRunning returns those of xids that were running when snap was
// taken. Each began before snap was (they were running at an earlier
// one), so one not in snap's xip list had ended.
func stillRunning(xids []string, snap EventsSnapshot) []string {
	if len(xids) == 0 {
		return nil
	}
	running := snapshotXip(snap)
	var out []string
	for _, x := range xids {
		if slices.Contains(running, x) {
			out = append(out, x)
		}
	}
	return out
}
