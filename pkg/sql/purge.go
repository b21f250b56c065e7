package sql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"
)

// Purge defaults and limits, shared by the purge command and serve.
const (
	// DefaultPurgeOlderThan is how long an expired or revoked session stays
	// visible (to list, to an audit) before it may be purged, as
	// cockroach's server.web_session.purge.ttl.
	DefaultPurgeOlderThan = time.Hour
	// DefaultPurgeBatch is how many rows one purge transaction deletes.
	DefaultPurgeBatch = 1000
	// MaxPurgeBatch bounds a batch so one transaction stays short.
	MaxPurgeBatch = 100_000
	// DefaultEventsRetention is how long audit events are kept.
	DefaultEventsRetention = 30 * 24 * time.Hour
)

// The audit events of a purge, so that a gap in the trail is explained by
// the retention policy rather than left unexplained. EventRetentionBatch is
// written by each batch that deleted rows, in the batch's own statement,
// with its counts: every deleted row is accounted for, even when the run is
// killed half-way. EventRetentionPurged sums up a run that deleted
// anything, once it ends; both carry the run's id.
const (
	EventRetentionBatch  = "retention.batch"
	EventRetentionPurged = "retention.purged"
)

// stopGrace is how long a batch in flight may still run once the purge's
// context is canceled. Stopping between batches rather than in the middle
// of one keeps the connection usable, so the run can still report and
// record what it deleted.
const stopGrace = 5 * time.Second

// PurgeDB is what Purge needs: a *pgxpool.Pool or a *pgx.Conn. Each batch
// of a purge is its own transaction: a pgx.Tx would make the whole purge
// one transaction.
type PurgeDB interface {
	DBTX
	TxBeginner
}

// MaxPurgePace bounds PurgeOptions.Pace: a purge busy 1% of the time.
const MaxPurgePace = 100

// PurgeOptions say what Purge deletes.
type PurgeOptions struct {
	// OlderThan: sessions that expired or were revoked more than this long
	// ago, by the database clock, are purged. Must be positive.
	OlderThan time.Duration
	// Batch is the most rows one transaction deletes, 1 to MaxPurgeBatch;
	// when the purge walks the table's pages rather than its indexes (see
	// walker), each transaction covers the pages that held about Batch rows
	// when the table was last analyzed.
	Batch int
	// DryRun counts what would be purged and deletes nothing.
	DryRun bool
	// EventsOlderThan: audit events older than this are purged too; 0
	// keeps every event.
	EventsOlderThan time.Duration
	// Pace makes the purge yield to the live path: after each batch it
	// waits Pace times as long as the batch took, so 1 keeps it busy at
	// most half the time. 0 runs batches back to back.
	Pace float64
	// Audit says who purges, for the event the run records.
	Audit PurgeAudit
}

// PurgeAudit describes who runs a purge, for its retention.purged event.
type PurgeAudit struct {
	// Actor is the admin running the purge; empty means the connected user.
	Actor string
	// Via is how the purge was started: "cli" or "serve".
	Via string
	// ClientAddr is the host the purge runs on.
	ClientAddr string
}

// PurgePhase names what a purge batch deletes.
type PurgePhase string

// The phases of a purge, in the order they run.
const (
	PhaseExpiredSessions PurgePhase = "expired sessions"
	PhaseRevokedSessions PurgePhase = "revoked sessions"
	PhaseEvents          PurgePhase = "audit events"
)

// PurgeResult counts what a purge deleted, or would delete in a dry run.
type PurgeResult struct {
	// ExpiredSessions counts sessions purged because they expired before
	// SessionsCutoff, revoked or not.
	ExpiredSessions int64
	// RevokedSessions counts the other sessions purged: revoked before
	// SessionsCutoff but expiring after it (when another purge runs at the
	// same time, also some that expired before it).
	RevokedSessions int64
	// Events counts audit events purged.
	Events int64
	// Batches counts the transactions that deleted rows; 0 in a dry run.
	Batches int
	// SessionsCutoff is the database's now() minus OlderThan, taken once
	// at the start, so that the run ends however fast rows expire.
	SessionsCutoff time.Time
	// EventsCutoff is now() minus EventsOlderThan; zero when events are kept.
	EventsCutoff time.Time
	// DryRun is true when the counts are what would have been deleted.
	DryRun bool
}

// Sessions returns how many sessions were purged.
func (r PurgeResult) Sessions() int64 { return r.ExpiredSessions + r.RevokedSessions }

// Total returns how many rows were purged.
func (r PurgeResult) Total() int64 { return r.Sessions() + r.Events }

// PurgeProgress is reported after each committed batch, once for each phase
// it deleted rows of (in a dry run, after each phase's count).
type PurgeProgress struct {
	// Phase is what the batch deleted.
	Phase PurgePhase
	// Rows is how many rows the batch deleted.
	Rows int64
	// Result holds the totals so far.
	Result PurgeResult
}

// purgeTarget is one phase: the rows of a table to purge and the indexed
// timestamp the batches walk, in (key, id) order.
type purgeTarget struct {
	phase PurgePhase
	// detailKey names the phase's count in the purge's events.
	detailKey string
	table     string
	key       string
	// where selects the rows the phase deletes, with the cutoff as $1.
	where string
	// countWhere selects the rows a dry run counts for the phase: those of
	// where that no earlier phase takes.
	countWhere string
	count      func(*PurgeResult) *int64
}

// The predicates of the phases; each names only its own index's column, so
// the planner has no other index to wander to.
const (
	expiredBeforeCutoff = "expires_at < $1"
	revokedBeforeCutoff = "revoked_at < $1"
	eventBeforeCutoff   = "at < $1"
)

// Sessions that expired long ago go first, revoked or not; by the time the
// second phase runs, the sessions revoked long ago that are left are those
// that have not expired as long, so each row is counted in one phase.
var purgeTargets = []purgeTarget{
	{PhaseExpiredSessions, "expired_sessions", "system.web_sessions", "expires_at", expiredBeforeCutoff, expiredBeforeCutoff,
		func(r *PurgeResult) *int64 { return &r.ExpiredSessions }},
	{PhaseRevokedSessions, "revoked_sessions", "system.web_sessions", "revoked_at", revokedBeforeCutoff,
		revokedBeforeCutoff + " AND NOT (" + expiredBeforeCutoff + ")",
		func(r *PurgeResult) *int64 { return &r.RevokedSessions }},
	{PhaseEvents, "events", "system.session_events", "at", eventBeforeCutoff, eventBeforeCutoff,
		func(r *PurgeResult) *int64 { return &r.Events }},
}

// countSQL counts the rows the phase would purge.
func (t purgeTarget) countSQL() string {
	return "SELECT count(*) FROM " + t.table + " WHERE " + t.countWhere
}

// batchSQL deletes one batch: the rows after ($2, $3) in (key, id) order up
// to and including the ($4+1)-th, or all of them when fewer are left. It
// returns how many rows it deleted and the (key, id) of the batch's last
// row, NULL when it reached the end. For expired sessions it reads:
//
//	WITH bound AS (
//	    SELECT expires_at, id FROM system.web_sessions
//	    WHERE expires_at < $1 AND (expires_at, id) > ($2, $3)
//	    ORDER BY expires_at, id OFFSET $4 LIMIT 1
//	), deleted AS (
//	    DELETE FROM system.web_sessions
//	    WHERE expires_at >= $2 AND expires_at <= COALESCE((SELECT expires_at FROM bound), $1)
//	      AND (expires_at, id) > ($2, $3)
//	      AND (expires_at, id) <= (COALESCE((SELECT expires_at FROM bound), $1),
//	                               COALESCE((SELECT id FROM bound), 9223372036854775807))
//	      AND expires_at < $1
//	    RETURNING 1
//	), counted AS (
//	    SELECT count(*) AS n FROM deleted
//	), event AS (
//	    INSERT INTO system.session_events ... (the batch's retention.batch event, see batchEventSQL)
//	)
//	SELECT (SELECT n FROM counted), (SELECT expires_at FROM bound), (SELECT id FROM bound),
//	    (SELECT count(*) FROM event)
//
// Both parts walk the (key, id) index from where the previous batch ended
// rather than from its start: index entries of rows deleted by earlier
// batches stay until vacuum (in CockroachDB, MVCC tombstones until GC), and
// rescanning them would make each batch slower than the last. The id breaks
// ties, so a batch stays bounded when thousands of rows share a timestamp.
// Finding the batch's last row first (from the index alone, where the
// visibility map allows) and then deleting a key range visits each row
// once, where collecting ids and deleting them by primary key visits it
// twice: bench/purge measured the range twice as fast. Rows cannot enter a
// range below the cutoff (new sessions expire, and new events happen, after
// it), so a batch deletes at most $4+1 rows. The bounds on the key alone
// repeat the row comparisons for the planner, whose estimates of row
// comparisons could otherwise send the DELETE through another index.
//
// The DELETE takes no locks before it deletes. A row another purge is
// deleting makes it wait for that batch to commit, then pass over the row
// (PostgreSQL re-reads it and finds it gone): neither fails, and each row is
// counted by the purge that deleted it. Concurrent purges thus take turns
// on the same ranges rather than share them; a logout or revoke touching a
// dead row waits for one batch at most. Both engines accept every part.
func (t purgeTarget) batchSQL() string {
	lastKey := "COALESCE((SELECT " + t.key + " FROM bound), $1)"
	after := "(" + t.key + ", id) > ($2, $3)"
	return "WITH bound AS (\n" +
		"    SELECT " + t.key + ", id FROM " + t.table + "\n" +
		"    WHERE " + t.where + " AND " + after + "\n" +
		"    ORDER BY " + t.key + ", id OFFSET $4 LIMIT 1\n" +
		"), deleted AS (\n" +
		"    DELETE FROM " + t.table + "\n" +
		"    WHERE " + t.key + " >= $2 AND " + t.key + " <= " + lastKey + "\n" +
		"      AND " + after + "\n" +
		"      AND (" + t.key + ", id) <= (" + lastKey + ",\n" +
		"                               COALESCE((SELECT id FROM bound), 9223372036854775807))\n" +
		"      AND " + t.where + "\n" +
		"    RETURNING 1\n" +
		"), counted AS (\n" +
		"    SELECT count(*) AS n FROM deleted\n" +
		"), event AS (\n" +
		t.batchEventSQL() + "\n" +
		")\n" +
		"SELECT (SELECT n FROM counted), (SELECT " + t.key + " FROM bound), (SELECT id FROM bound),\n" +
		"    (SELECT count(*) FROM event)"
}

// batchEventSQL inserts the retention.batch event of a batch of target's
// phase, with the count n of CTE counted; nothing when the batch deleted no
// rows. The actor, via, client address and run id are parameters $5 to $8,
// the cutoff as eventTime writes it $9.
// The event is part of the batch's statement, so it commits if and only if
// the rows it counts are deleted; the statement's result reads it, so that
// no engine skips it. recordBatch writes the same event for a table walk.
func (t purgeTarget) batchEventSQL() string {
	return "    INSERT INTO system.session_events (event, actor, username, via, client_addr, detail)\n" +
		"    SELECT '" + EventRetentionBatch + "', $5, '', $6, $7,\n" +
		"        jsonb_build_object('run', $8::TEXT, 'table', '" + t.table + "', 'cutoff', $9::TEXT, '" + t.detailKey + "', n)\n" +
		"    FROM counted WHERE n > 0\n" +
		"    RETURNING 1"
}

// recordBatch writes the retention.batch event of a batch that deleted the
// rows counted in deleted, in the batch's transaction tx.
func recordBatch(ctx context.Context, tx DBTX, audit batchAudit, cutoff time.Time, deleted []deletedRows) error {
	detail := map[string]any{"run": audit.run, "table": deleted[0].target.table, "cutoff": eventTime(cutoff)}
	for _, d := range deleted {
		detail[d.target.detailKey] = d.rows
	}
	return RecordEvent(ctx, tx, Event{Event: EventRetentionBatch, Actor: audit.actor, Via: audit.via,
		ClientAddr: audit.clientAddr, Detail: detail})
}

// batchEnd is the (key, id) of a batch's last row, where the next one starts.
type batchEnd struct {
	key time.Time
	id  int64
}

// walkStart is below every (key, id), so the first batch starts at the
// beginning of the index; the year 1 is a timestamp both engines accept.
var walkStart = batchEnd{time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), math.MinInt64}

// Both cutoffs come from one reading of the database clock, so rows the
// client's clock would misjudge are never purged early. The last column says
// whether the server can walk a table's pages: TID range scans came with
// PostgreSQL 14, and CockroachDB (which reports version 13) has no pages.
const purgeCutoffs = `SELECT now() - $1::BIGINT * INTERVAL '1 microsecond',
    now() - $2::BIGINT * INTERVAL '1 microsecond', current_user,
    current_setting('server_version_num')::INT >= 140000 AND version() NOT LIKE '%CockroachDB%'`

// Purge deletes the sessions that expired or were revoked more than
// opts.OlderThan ago, then the audit events older than opts.EventsOlderThan,
// in batches of about opts.Batch rows (see walker), each its own transaction
// retried on serialization failures. progress, when not nil, is called after
// each committed batch, once for each phase it deleted rows of. A run that
// deleted anything records one EventRetentionPurged event.
//
// Live sessions are never touched: a session qualifies only once it expired
// or was revoked before the cutoff, which is taken once, at the start, from
// the database clock. Every committed batch stays deleted, so an
// interrupted purge resumes where it stopped when run again, and several
// purges, or a purge and the live path, can run at once.
//
// When ctx is canceled, the batch in flight may finish (for a few seconds at
// most) and Purge returns what it deleted so far with ctx's error.
func Purge(ctx context.Context, db PurgeDB, opts PurgeOptions, progress func(PurgeProgress)) (PurgeResult, error) {
	res := PurgeResult{DryRun: opts.DryRun}
	if err := opts.validate(); err != nil {
		return res, err
	}
	var (
		actor  string
		heapOK bool
	)
	err := db.QueryRow(ctx, inSchema(purgeCutoffs), opts.OlderThan.Microseconds(), opts.EventsOlderThan.Microseconds()).
		Scan(&res.SessionsCutoff, &res.EventsCutoff, &actor, &heapOK)
	if err != nil {
		return res, fmt.Errorf("read the database clock: %w", err)
	}
	if opts.EventsOlderThan == 0 {
		res.EventsCutoff = time.Time{}
	}
	if opts.Audit.Actor == "" {
		opts.Audit.Actor = actor
	}
	audit := batchAudit{actor: storable(opts.Audit.Actor), via: opts.Audit.Via,
		clientAddr: storable(opts.Audit.ClientAddr), run: newRunID()}
	if progress == nil {
		progress = func(PurgeProgress) {}
	}
	for _, targets := range purgeTables() {
		t := targets[0]
		cutoff := res.SessionsCutoff
		if t.phase == PhaseEvents {
			if res.EventsCutoff.IsZero() {
				break
			}
			cutoff = res.EventsCutoff
		}
		if opts.DryRun {
			err = countTargets(ctx, db, targets, cutoff, &res, progress)
		} else {
			err = purgeTable(ctx, db, targets, cutoff, heapOK, opts, audit, &res, progress)
		}
		if err != nil {
			break
		}
	}
	if !res.DryRun && res.Total() > 0 {
		err = errors.Join(err, recordPurge(ctx, db, opts, audit.run, res, err))
	}
	return res, err
}

func (o PurgeOptions) validate() error {
	switch {
	case o.OlderThan <= 0:
		return fmt.Errorf("purge: OlderThan is %v, want a positive duration", o.OlderThan)
	case o.Batch < 1 || o.Batch > MaxPurgeBatch:
		return fmt.Errorf("purge: Batch is %d, want 1 to %d", o.Batch, MaxPurgeBatch)
	case o.EventsOlderThan < 0:
		return fmt.Errorf("purge: EventsOlderThan is %v, want 0 (keep) or a positive duration", o.EventsOlderThan)
	case o.Pace < 0 || o.Pace > MaxPurgePace:
		return fmt.Errorf("purge: Pace is %v, want 0 (flat out) to %d", o.Pace, MaxPurgePace)
	}
	return nil
}

// countTargets counts what the phases would purge.
func countTargets(ctx context.Context, db DBTX, targets []purgeTarget, cutoff time.Time, res *PurgeResult, progress func(PurgeProgress)) error {
	for _, t := range targets {
		n := t.count(res)
		if err := db.QueryRow(ctx, inSchema(t.countSQL()), cutoff).Scan(n); err != nil {
			return fmt.Errorf("count %s: %w", t.phase, err)
		}
		progress(PurgeProgress{Phase: t.phase, Rows: *n, Result: *res})
	}
	return nil
}

// purgeTable deletes the rows of the phases on one table: walking the
// table's pages once for all of them, or each phase's index in turn, as
// planHeapWalk decides.
func purgeTable(ctx context.Context, db PurgeDB, targets []purgeTarget, cutoff time.Time, heapOK bool, opts PurgeOptions, audit batchAudit, res *PurgeResult, progress func(PurgeProgress)) error {
	var heap *heapWalk
	if heapOK {
		var err error
		if heap, err = planHeapWalk(ctx, db, targets, cutoff, opts.Batch); err != nil {
			return fmt.Errorf("purge %s: %w", targets[0].table, err)
		}
	}
	if heap != nil {
		heap.audit = audit
		if err := purgeBatches(ctx, db, heap, opts, res, progress); err != nil {
			return fmt.Errorf("purge %s: %w", targets[0].table, err)
		}
		return nil
	}
	for _, t := range targets {
		w := &indexWalk{target: t, query: t.batchSQL(), cutoff: cutoff, batch: opts.Batch, after: walkStart, audit: audit}
		if err := purgeBatches(ctx, db, w, opts, res, progress); err != nil {
			return fmt.Errorf("purge %s: %w", t.phase, err)
		}
	}
	return nil
}

// purgeBatches deletes the walk's rows batch by batch.
func purgeBatches(ctx context.Context, db PurgeDB, w walker, opts PurgeOptions, res *PurgeResult, progress func(PurgeProgress)) error {
	for ctx.Err() == nil {
		began := time.Now()
		deleted, more, err := purgeBatch(ctx, db, w)
		if err != nil {
			return err
		}
		if opts.Pace > 0 && more {
			pause(ctx, time.Duration(opts.Pace*float64(time.Since(began))))
		}
		// A batch finds nothing when another purge deleted its rows first,
		// or, walking the table, when its pages hold none to purge.
		var rows int64
		for _, d := range deleted {
			rows += d.rows
		}
		if rows > 0 {
			res.Batches++
		}
		for _, d := range deleted {
			if d.rows > 0 {
				*d.target.count(res) += d.rows
				progress(PurgeProgress{Phase: d.target.phase, Rows: d.rows, Result: *res})
			}
		}
		if !more {
			return nil
		}
	}
	return ctx.Err()
}

// purgeBatch deletes the walk's next batch. It may finish for a short while
// after ctx is canceled: see stopGrace.
func purgeBatch(ctx context.Context, db PurgeDB, w walker) ([]deletedRows, bool, error) {
	bctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(stopGrace, func() { cancel(context.Cause(ctx)) })
	})
	defer stop()
	return w.next(bctx, db)
}

// recordPurge records the run's EventRetentionPurged event, also after a
// failed or interrupted run, since what it deleted stays deleted.
func recordPurge(ctx context.Context, db DBTX, opts PurgeOptions, run string, res PurgeResult, runErr error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
	defer cancel()
	detail := map[string]any{
		"run":              run,
		"expired_sessions": res.ExpiredSessions,
		"revoked_sessions": res.RevokedSessions,
		"events":           res.Events,
		"batches":          res.Batches,
		"older_than":       opts.OlderThan.String(),
		"sessions_cutoff":  eventTime(res.SessionsCutoff),
		"complete":         runErr == nil,
	}
	if !res.EventsCutoff.IsZero() {
		detail["events_older_than"] = opts.EventsOlderThan.String()
		detail["events_cutoff"] = eventTime(res.EventsCutoff)
	}
	return RecordEvent(ctx, db, Event{
		Event: EventRetentionPurged, Actor: opts.Audit.Actor, Via: opts.Audit.Via,
		ClientAddr: opts.Audit.ClientAddr, Detail: detail,
	})
}

// eventTime writes a time in the purge's events: RFC 3339 in UTC.
func eventTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// newRunID names one run of Purge in its events.
func newRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// pause waits for d or until ctx is done.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
