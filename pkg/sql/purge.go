package sql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Purge defaults and limits, shared by the purge command and serve.
const (
	// DefaultPurgeOlderThan is how long an expired or revoked session stays
	// visible (to list, to an audit) before it may be purged, as
	// cockroach's server.web_session.purge.ttl.
	DefaultPurgeOlderThan = time.Hour
	// DefaultPurgeBatch is how many rows one transaction of the purge
	// command deletes. An operator's purge runs flat out to clear a
	// backlog: at 10,000 it deleted 1.5 times as many rows a second as at
	// 1,000 (bench/purgelatency, a million expired sessions), and the p99
	// of whoami meanwhile was no worse within the noise.
	DefaultPurgeBatch = 10_000
	// BackgroundPurgeBatch is how many rows one transaction of serve's
	// background purge deletes: it runs paced (--purge-pace) beside the
	// traffic it serves, where smaller transactions held whoami's p99 closer
	// to its p99 without a purge (1.17 against 1.77 at 10,000, pooled over
	// three rounds), and it usually finds less than a batch to delete.
	BackgroundPurgeBatch = 1000
	// MaxPurgeBatch bounds a batch so one transaction stays short.
	MaxPurgeBatch = 100_000
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
	// SendBatch sends statements together, as one implicit transaction.
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
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
	// IdleTimeout is the idle timeout serve refuses sessions by (see
	// CheckPolicy): a session neither revoked nor expired but not used for
	// IdleTimeout plus OlderThan has been refused as idle for OlderThan
	// already, and is purged too. 0 purges no live session.
	IdleTimeout time.Duration
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
	PhaseIdleSessions    PurgePhase = "idle sessions"
	PhaseEvents          PurgePhase = "audit events"
	PhaseLogouts         PurgePhase = "logout records"
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
	// IdleSessions counts the sessions purged because they were not used
	// since IdleCutoff, neither revoked nor expired.
	IdleSessions int64
	// Events counts audit events purged.
	Events int64
	// Logouts counts the logout records purged: those of
	// web_session_logouts that no session left predates (see
	// purgeLogouts).
	Logouts int64
	// Batches counts the transactions that deleted rows; 0 in a dry run.
	Batches int
	// SessionsCutoff is the database's now() minus OlderThan, taken once
	// at the start, so that the run ends however fast rows expire.
	SessionsCutoff time.Time
	// IdleCutoff is SessionsCutoff minus IdleTimeout, from the same
	// reading of the clock; zero without an idle timeout.
	IdleCutoff time.Time
	// EventsCutoff is now() minus EventsOlderThan; zero when events are kept.
	EventsCutoff time.Time
	// DryRun is true when the counts are what would have been deleted.
	DryRun bool
}

// Sessions returns how many sessions were purged.
func (r PurgeResult) Sessions() int64 { return r.ExpiredSessions + r.RevokedSessions + r.IdleSessions }

// Total returns how many rows were purged.
func (r PurgeResult) Total() int64 { return r.Sessions() + r.Events + r.Logouts }

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

// phase is one step of a purge: the rows of a table to purge and the
// indexed timestamp the batches walk, in (key, id) order.
type phase struct {
	name PurgePhase
	// detailKey names the phase's count in the purge's events.
	detailKey string
	table     string
	key       string
	// where selects the rows the phase deletes by key, with the cutoff as
	// $1.
	where string
	// filter, when not empty, is what a row must also be for the phase to
	// take it, beyond where: the key alone does not say it.
	filter string
	// countWhere selects the rows a dry run counts for the phase: those of
	// where (and filter) that no earlier phase takes.
	countWhere string
	count      func(*PurgeResult) *int64
}

// andFilter is the phase's filter as a further condition of a WHERE, or
// nothing when the phase has none.
func (t phase) andFilter() string {
	if t.filter == "" {
		return ""
	}
	return " AND " + t.filter
}

// The predicates of the phases; each names only its own index's column, so
// the planner has no other index to wander to.
const (
	expiredBeforeCutoff = "expires_at < $1"
	revokedBeforeCutoff = "revoked_at < $1"
	unusedBeforeCutoff  = "last_used_at < $1"
	eventBeforeCutoff   = "at < $1"
	// A live session: neither revoked (whenever it was: a session revoked
	// lately stays, as the revoked phase keeps it, for OlderThan after its
	// revocation) nor expired (one that expired lately stays until the
	// expired phase takes it). A session revoked only by a logout record
	// (see joinLogouts: a login that was in flight) counts as live here; it
	// was refused as idle for OlderThan anyway. It is the idle phase's
	// filter, checked on the rows of its key's range, not a predicate the
	// planner should find rows by.
	isLive = "revoked_at IS NULL AND expires_at > now()"
)

// The phases, each the rows of one table before the cutoff by one indexed
// timestamp. Sessions that expired long ago go first, revoked or not; by
// the time the second phase runs, the sessions revoked long ago that are
// left are those that have not expired as long, so each row is counted in
// one phase. The idle phase takes only live sessions, which neither of
// the others takes, before its own cutoff: IdleTimeout before theirs.
var (
	expiredSessions = phase{name: PhaseExpiredSessions, detailKey: "expired_sessions", table: "system.web_sessions", key: "expires_at",
		where: expiredBeforeCutoff, countWhere: expiredBeforeCutoff,
		count: func(r *PurgeResult) *int64 { return &r.ExpiredSessions }}
	revokedSessions = phase{name: PhaseRevokedSessions, detailKey: "revoked_sessions", table: "system.web_sessions", key: "revoked_at",
		where: revokedBeforeCutoff, countWhere: revokedBeforeCutoff + " AND NOT (" + expiredBeforeCutoff + ")",
		count: func(r *PurgeResult) *int64 { return &r.RevokedSessions }}
	idleSessions = phase{name: PhaseIdleSessions, detailKey: "idle_sessions", table: "system.web_sessions", key: "last_used_at",
		where: unusedBeforeCutoff, filter: isLive, countWhere: unusedBeforeCutoff + " AND " + isLive,
		count: func(r *PurgeResult) *int64 { return &r.IdleSessions }}
	oldEvents = phase{name: PhaseEvents, detailKey: "events", table: "system.session_events", key: "at",
		where: eventBeforeCutoff, countWhere: eventBeforeCutoff,
		count: func(r *PurgeResult) *int64 { return &r.Events }}
)

// purgeTables are the tables a purge goes through, in order, each with its
// phases in the order they run: a heap walk takes a table's phases in one
// pass. The idle phase has a cutoff of its own, so it is a pass of its
// own, after the phases that take the sessions it must not count.
var purgeTables = [][]phase{
	{expiredSessions, revokedSessions},
	{idleSessions},
	{oldEvents},
}

// cutoff returns the instant the rows of phase t must be older than, by its
// key; zero when the run skips the phase.
func (r PurgeResult) cutoff(t phase) time.Time {
	switch t.name {
	case PhaseIdleSessions:
		return r.IdleCutoff
	case PhaseEvents:
		return r.EventsCutoff
	}
	return r.SessionsCutoff
}

// countSQL counts the rows the phase would purge.
func (t phase) countSQL() string {
	return "SELECT count(*) FROM " + t.table + " WHERE " + t.countWhere
}

// A purge deletes a table's rows one batch at a time, each batch one
// transaction the database runs on its own (no BEGIN and COMMIT round
// trips). It finds them in one of two ways, chosen per table as a planner
// chooses between an index scan and a sequential scan:
//
//   - walking each phase's (key, id) index in turn, in batches of at most
//     Batch rows: the right way when the purge takes a small share of the
//     table, as a purge that keeps up does every hour;
//   - walking the table's pages in disk order once for all its phases
//     (PostgreSQL 14 and later), in batches of the pages that held about
//     Batch rows when the table was last analyzed: the right way to catch
//     up when most of the table goes, where the index walks read every row
//     through an index, in index order, at a fifth to a third of the speed
//     of one DELETE's sequential scan.
type walker interface {
	// next deletes the next batch and returns how many rows of each phase
	// it deleted and whether batches are left after it.
	next(ctx context.Context, db PurgeDB) (deleted []deletedRows, more bool, err error)
}

// deletedRows counts the rows of one phase a batch deleted.
type deletedRows struct {
	phase phase
	rows  int64
}

// batchAudit are the parameters of a batch's retention.batch event: see
// batchEventSQL.
type batchAudit struct {
	actor, via, clientAddr, run string
}

func (a batchAudit) args() []any {
	return []any{a.actor, a.via, a.clientAddr, a.run}
}

// Both cutoffs come from one reading of the database clock, so rows the
// client's clock would misjudge are never purged early. The last column says
// whether the server can walk a table's pages: TID range scans came with
// PostgreSQL 14, and CockroachDB (which reports version 13) has no pages.
const purgeCutoffs = `SELECT now() - $1::BIGINT * INTERVAL '1 microsecond',
    now() - $2::BIGINT * INTERVAL '1 microsecond', current_user,
    current_setting('server_version_num')::INT >= 140000 AND version() NOT LIKE '%CockroachDB%'`

// Purge deletes the sessions that expired or were revoked more than
// opts.OlderThan ago, then, with an idle timeout, the live sessions not used
// for opts.IdleTimeout plus opts.OlderThan, then the audit events older than
// opts.EventsOlderThan, in batches of about opts.Batch rows (see walker),
// each its own transaction retried on serialization failures. progress,
// when not nil, is called after each committed batch, once for each phase
// it deleted rows of. A run that deleted anything records one
// EventRetentionPurged event.
//
// No other live session is touched: a session qualifies only once it
// expired, was revoked or was last used before its cutoff, which is taken
// once, at the start, from the database clock; each batch checks the
// condition again as it deletes, so a session used meanwhile stays. Every
// committed batch stays deleted, so an interrupted purge resumes where it
// stopped when run again, and several purges, or a purge and the live path,
// can run at once.
//
// When ctx is canceled, the batches in flight may finish (for a few seconds
// at most; a table walk sends one ahead, see pipelineDepth) and Purge
// returns what it deleted so far with ctx's error.
func Purge(ctx context.Context, db PurgeDB, opts PurgeOptions, progress func(PurgeProgress)) (PurgeResult, error) {
	res := PurgeResult{DryRun: opts.DryRun}
	if err := opts.validate(); err != nil {
		return res, err
	}
	var (
		actor  string
		heapOK bool
	)
	err := db.QueryRow(ctx, inSchema(db, purgeCutoffs), opts.OlderThan.Microseconds(), opts.EventsOlderThan.Microseconds()).
		Scan(&res.SessionsCutoff, &res.EventsCutoff, &actor, &heapOK)
	if err != nil {
		return res, fmt.Errorf("read the database clock: %w", err)
	}
	if opts.EventsOlderThan == 0 {
		res.EventsCutoff = time.Time{}
	}
	if opts.IdleTimeout > 0 {
		res.IdleCutoff = res.SessionsCutoff.Add(-opts.IdleTimeout)
	}
	if opts.Audit.Actor == "" {
		opts.Audit.Actor = actor
	}
	audit := batchAudit{actor: storable(opts.Audit.Actor), via: opts.Audit.Via,
		clientAddr: storable(opts.Audit.ClientAddr), run: newRunID()}
	if progress == nil {
		progress = func(PurgeProgress) {}
	}
	for _, phases := range purgeTables {
		cutoff := res.cutoff(phases[0])
		if cutoff.IsZero() {
			continue
		}
		if opts.DryRun {
			err = countPhases(ctx, db, phases, cutoff, &res, progress)
		} else {
			err = purgeTable(ctx, db, phases, cutoff, heapOK, opts, audit, &res, progress)
		}
		if err != nil {
			break
		}
	}
	if err == nil {
		err = purgeLogouts(ctx, db, res.SessionsCutoff, opts, &res, progress)
	}
	if !res.DryRun && res.Total() > 0 {
		err = errors.Join(err, recordPurge(ctx, db, opts, audit.run, res, err))
	}
	return res, err
}

// A logout record (web_session_logouts) refuses the sessions of its user,
// or of everyone for ”, created at or before its instant that its UPDATE
// could not see: logins in flight. Once no session that old is left, and
// no login transaction can still be open from before it (a day and the
// retention have passed), the record refuses nothing and goes. Without
// this the table grows by a row per user ever logged out. Each statement
// deletes at most a batch of records, each checked by an index of the
// sessions: (username, created_at), or created_at for ”.
const (
	logoutsCutoff = `least($1::TIMESTAMPTZ, now() - INTERVAL '1 day')`
	// Two statements rather than one with an OR, which would keep the
	// planner from either index.
	staleUserLogouts = `FROM system.web_session_logouts l
WHERE l.logged_out_at < ` + logoutsCutoff + ` AND l.username <> ''
  AND NOT EXISTS (
    SELECT 1 FROM system.web_sessions s WHERE s.username = l.username AND s.created_at <= l.logged_out_at)`
	staleEveryoneLogout = `FROM system.web_session_logouts l
WHERE l.logged_out_at < ` + logoutsCutoff + ` AND l.username = ''
  AND NOT EXISTS (SELECT 1 FROM system.web_sessions s WHERE s.created_at <= l.logged_out_at)`
)

// staleLogouts are the two kinds of logout records purgeLogouts takes.
var staleLogouts = []string{staleUserLogouts, staleEveryoneLogout}

// purgeLogouts deletes (or, in a dry run, counts) the logout records that
// refuse nothing any more, a batch at a time.
func purgeLogouts(ctx context.Context, db PurgeDB, cutoff time.Time, opts PurgeOptions, res *PurgeResult, progress func(PurgeProgress)) error {
	for _, stale := range staleLogouts {
		if opts.DryRun {
			var n int64
			if err := db.QueryRow(ctx, inSchema(db, `SELECT count(*) `+stale), cutoff).Scan(&n); err != nil {
				return fmt.Errorf("count the logout records to purge: %w", err)
			}
			res.Logouts += n
			progress(PurgeProgress{Phase: PhaseLogouts, Rows: n, Result: *res})
			continue
		}
		for {
			tag, err := db.Exec(ctx, inSchema(db, `DELETE FROM system.web_session_logouts WHERE username IN (SELECT l.username `+stale+` LIMIT $2)`),
				cutoff, opts.Batch)
			if err != nil {
				return fmt.Errorf("purge logout records: %w", err)
			}
			n := tag.RowsAffected()
			res.Logouts += n
			if n > 0 {
				res.Batches++
				progress(PurgeProgress{Phase: PhaseLogouts, Rows: n, Result: *res})
			}
			if n < int64(opts.Batch) {
				break
			}
		}
	}
	return nil
}

func (o PurgeOptions) validate() error {
	switch {
	case o.OlderThan <= 0:
		return fmt.Errorf("purge: OlderThan is %v, want a positive duration", o.OlderThan)
	case o.Batch < 1 || o.Batch > MaxPurgeBatch:
		return fmt.Errorf("purge: Batch is %d, want 1 to %d", o.Batch, MaxPurgeBatch)
	case o.EventsOlderThan < 0:
		return fmt.Errorf("purge: EventsOlderThan is %v, want 0 (keep) or a positive duration", o.EventsOlderThan)
	case o.IdleTimeout < 0:
		return fmt.Errorf("purge: IdleTimeout is %v, want 0 (none) or a positive duration", o.IdleTimeout)
	case o.Pace < 0 || o.Pace > MaxPurgePace:
		return fmt.Errorf("purge: Pace is %v, want 0 (flat out) to %d", o.Pace, MaxPurgePace)
	}
	return nil
}

// countPhases counts what the phases would purge.
func countPhases(ctx context.Context, db DBTX, phases []phase, cutoff time.Time, res *PurgeResult, progress func(PurgeProgress)) error {
	for _, t := range phases {
		n := t.count(res)
		if err := db.QueryRow(ctx, inSchema(db, t.countSQL()), cutoff).Scan(n); err != nil {
			return fmt.Errorf("count %s: %w", t.name, err)
		}
		progress(PurgeProgress{Phase: t.name, Rows: *n, Result: *res})
	}
	return nil
}

// purgeTable deletes the rows of the phases on one table: walking the
// table's pages once for all of them, or each phase's index in turn, as
// planHeapWalk decides.
func purgeTable(ctx context.Context, db PurgeDB, phases []phase, cutoff time.Time, heapOK bool, opts PurgeOptions, audit batchAudit, res *PurgeResult, progress func(PurgeProgress)) error {
	var heap *heapWalk
	if heapOK {
		var err error
		if heap, err = planHeapWalk(ctx, db, phases, cutoff, opts.Batch); err != nil {
			return fmt.Errorf("purge %s: %w", phases[0].table, err)
		}
	}
	if heap != nil {
		heap.audit = audit
		var err error
		if opts.Pace > 0 {
			// A paced purge waits after each batch: a pipeline gains nothing.
			err = purgeBatches(ctx, db, heap, opts, res, progress)
		} else {
			err = purgePipelined(ctx, db, heap, res, progress)
		}
		if err != nil {
			return fmt.Errorf("purge %s: %w", phases[0].table, err)
		}
		return nil
	}
	for _, t := range phases {
		if err := purgeBatches(ctx, db, newIndexWalk(t, cutoff, opts.Batch, audit), opts, res, progress); err != nil {
			return fmt.Errorf("purge %s: %w", t.name, err)
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
		countBatch(deleted, res, progress)
		if !more {
			return nil
		}
	}
	return ctx.Err()
}

// countBatch adds what a committed batch deleted to res and reports it.
func countBatch(deleted []deletedRows, res *PurgeResult, progress func(PurgeProgress)) {
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
			*d.phase.count(res) += d.rows
			progress(PurgeProgress{Phase: d.phase.name, Rows: d.rows, Result: *res})
		}
	}
}

// purgeBatch deletes the walk's next batch. It may finish for a short while
// after ctx is canceled: see batchContext.
func purgeBatch(ctx context.Context, db PurgeDB, w walker) ([]deletedRows, bool, error) {
	bctx, cancel := batchContext(ctx)
	defer cancel()
	return w.next(bctx, db)
}

// batchContext is the context of batches in flight: canceled stopGrace
// after ctx is.
func batchContext(ctx context.Context) (context.Context, context.CancelFunc) {
	bctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(stopGrace, func() { cancel(context.Cause(ctx)) })
	})
	return bctx, func() {
		stop()
		cancel(nil)
	}
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
		"idle_sessions":    res.IdleSessions,
		"events":           res.Events,
		"logouts":          res.Logouts,
		"batches":          res.Batches,
		"older_than":       opts.OlderThan.String(),
		"sessions_cutoff":  eventTime(res.SessionsCutoff),
		"complete":         runErr == nil,
	}
	if !res.IdleCutoff.IsZero() {
		detail["idle_timeout"] = opts.IdleTimeout.String()
		detail["idle_cutoff"] = eventTime(res.IdleCutoff)
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
