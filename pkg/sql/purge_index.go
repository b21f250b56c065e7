package sql

// The index walk: each phase's rows in (key, id) order, batch by batch,
// each batch one statement that deletes up to the row the statement before
// it found, and finds where the next batch ends.

import (
	"context"
	"math"
	"strconv"
	"time"
)

// indexWalk deletes one phase's rows in batches of at most batch rows in
// (key, id) order, each starting where the previous one ended: see
// phase.batchSQL. Each statement deletes the rows in (after, upTo], which the
// statement before it counted, and finds where the next batch ends; the first
// deletes nothing and finds where the first batch ends.
type indexWalk struct {
	phase       phase
	query       string
	cutoff      time.Time
	batch       int
	after, upTo batchEnd
	// last says that the batch up to upTo takes the last rows before the
	// cutoff: fewer than batch were left.
	last  bool
	audit batchAudit
}

// newIndexWalk returns the walk of phase t's rows before cutoff, from the
// start of its index.
func newIndexWalk(t phase, cutoff time.Time, batch int, audit batchAudit) *indexWalk {
	return &indexWalk{phase: t, query: t.batchSQL(), cutoff: cutoff, batch: batch, after: walkStart, upTo: walkStart, audit: audit}
}

func (w *indexWalk) next(ctx context.Context, db PurgeDB) ([]deletedRows, bool, error) {
	var (
		n, found, events int64
		key              *time.Time
		id               *int64
	)
	query, args := w.statement(db)
	err := retry(ctx, func() error {
		return queryBatch(ctx, db, query, args, &n, &found, &key, &id, &events)
	})
	deleted := []deletedRows{{w.phase, n}}
	if err != nil || w.last || found == 0 || key == nil || id == nil {
		return deleted, false, err
	}
	w.after, w.upTo = w.upTo, batchEnd{*key, *id}
	w.last = found < int64(w.batch)
	return deleted, true, nil
}

// statement returns the walk's next batch statement, in db's schema, and
// its arguments.
func (w *indexWalk) statement(db any) (string, []any) {
	args := append([]any{w.cutoff, w.after.key, w.after.id, w.batch}, w.audit.args()...)
	return inSchema(db, w.query), append(args, eventTime(w.cutoff), w.upTo.key, w.upTo.id)
}

// queryBatch runs a batch's statement, with JIT off, and scans its one row
// into dest.
func queryBatch(ctx context.Context, db PurgeDB, query string, args []any, dest ...any) error {
	return queryRowWithoutJIT(ctx, db, query, args, dest...)
}

// batchSQL deletes one batch: the rows after ($2, $3) in (key, id) order up
// to and including ($10, $11), which the previous batch's statement found.
// It returns how many rows it deleted, and how many rows of the next batch
// it found (the $4 after ($10, $11), or fewer when fewer are left) and the
// (key, id) of the last of them, where the next batch ends. For expired
// sessions it reads:
//
//	WITH next AS (
//	    SELECT expires_at, id FROM system.web_sessions
//	    WHERE expires_at < $1 AND (expires_at, id) > ($10, $11)
//	    ORDER BY expires_at, id LIMIT $4
//	), deleted AS (
//	    DELETE FROM system.web_sessions
//	    WHERE expires_at > $2 AND expires_at < $10 AND expires_at < $1
//	       OR expires_at = $2 AND id > $3
//	          AND id <= CASE WHEN $2 = $10 THEN $11 ELSE 9223372036854775807 END
//	       OR expires_at = $10 AND id <= $11
//	          AND id > CASE WHEN $2 = $10 THEN $3 ELSE -9223372036854775808 END AND expires_at < $1
//	    RETURNING 1
//	), counted AS (
//	    SELECT count(*) AS n FROM deleted
//	), event AS (
//	    INSERT INTO system.session_events ... (the batch's retention.batch event, see batchEventSQL)
//	), bound AS (
//	    SELECT expires_at, id FROM next ORDER BY expires_at DESC, id DESC LIMIT 1
//	)
//	SELECT (SELECT n FROM counted), (SELECT count(*) FROM next),
//	    (SELECT expires_at FROM bound), (SELECT id FROM bound), (SELECT count(*) FROM event)
//
// Both parts walk the (key, id) index from where the previous batch ended
// rather than from its start: index entries of rows deleted by earlier
// batches stay until vacuum (in CockroachDB, MVCC tombstones until GC), and
// rescanning them would make each batch slower than the last. The id breaks
// ties, so a batch stays bounded when thousands of rows share a timestamp.
// Finding the next batch's last row (from the index alone, where the
// visibility map allows) and then deleting a key range visits each row
// once, where collecting ids and deleting them by primary key visits it
// twice: bench/purge measured the range twice as fast. Rows cannot enter a
// range below the cutoff (new sessions expire and are used, and new events
// happen, after it; a session used again leaves its range), so a batch
// deletes at most $4 rows, although its range was counted by an earlier
// statement, and a batch that found fewer than $4 rows for the next one
// found the last.
//
// The range's ends are parameters, not the result of a subquery, so that the
// planner reads the rows between them from the column's statistics (ending
// the last batch at its last row rather than at the cutoff keeps the range
// off the keys between, which the statistics may count): with the end a
// subquery's, unknown when planning, it expected a third of the rows
// before the cutoff in every batch (354,000 for a batch of 1,000 at 10
// million sessions, 40% of them purgeable), and the plan's cost made
// PostgreSQL compile each batch with JIT. The range is written as the keys
// strictly between its ends, or one of its ends' keys with the id past it:
// the planner multiplies the selectivity of each row comparison as if it
// were independent of the rest, which would put the estimate at a fraction
// of the rows. Each part is one range of the (key, id) index: the keys
// strictly between the ends, the rows of the first end's key past its id,
// and those of the last end's key up to its id; when both ends share a key
// (thousands of sessions revoked at once), the last two are the same range,
// the ids between the ends, so that a batch never reads the rest of the tie
// beyond them. The planner folds the CASEs of a custom plan into constants
// and estimates the rows of a tie from the ids' statistics. The middle part
// and the last name the phase's predicate, though every row in range is
// before the cutoff, in case the ends are not; the first needs none, its key
// being the end of an earlier batch, found before the cutoff. Were it named
// in all three, PostgreSQL would take it out
// of them as a condition of its own and multiply the estimate by its share
// of the table again.
//
// A phase's filter (the idle phase's: the session is live) is left out of
// next, which finds where the next batch ends from the index alone, as for
// the other phases: a batch's range is then $4 entries of the index
// whatever the rows they point to, so its cost stays bounded when many rows
// in a row are not the phase's, and a batch deletes at most $4 rows. (With
// the filter, which the index cannot answer, next read every row up to the
// cutoff and sorted them when the planner expected few.) The DELETE names
// the filter in every part, since the key's range does not imply it: a
// row in range may never have been the phase's, or been revoked since.
// PostgreSQL takes it out of the parts as a condition of its own and
// multiplies the estimate by its share of the table, as it should.
// Together with the key's range, it makes the DELETE check again what the
// earlier statement counted: a session used since (its last_used_at now
// past the range) or revoked since stays.
//
// The DELETE takes no locks before it deletes. A row another purge is
// deleting makes it wait for that batch to commit, then pass over the row
// (PostgreSQL re-reads it and finds it gone): neither fails, and each row is
// counted by the purge that deleted it. Concurrent purges thus take turns
// on the same ranges rather than share them; a logout or revoke touching a
// dead row waits for one batch at most. Both engines accept every part.
func (t phase) batchSQL() string {
	return "WITH next AS (\n" +
		"    SELECT " + t.key + ", id FROM " + t.table + "\n" +
		"    WHERE " + t.where + " AND (" + t.key + ", id) > ($10, $11)\n" +
		"    ORDER BY " + t.key + ", id LIMIT $4\n" +
		"), deleted AS (\n" +
		"    DELETE FROM " + t.table + "\n" +
		"    WHERE " + t.key + " > $2 AND " + t.key + " < $10 AND " + t.where + t.andFilter() + "\n" +
		"       OR " + t.key + " = $2 AND id > $3\n" +
		"          AND id <= CASE WHEN $2 = $10 THEN $11 ELSE 9223372036854775807 END" + t.andFilter() + "\n" +
		"       OR " + t.key + " = $10 AND id <= $11\n" +
		"          AND id > CASE WHEN $2 = $10 THEN $3 ELSE -9223372036854775808 END AND " + t.where + t.andFilter() + "\n" +
		"    RETURNING 1\n" +
		"), counted AS (\n" +
		"    SELECT count(*) AS n FROM deleted\n" +
		"), event AS (\n" +
		batchEventSQL(t.table, []eventCount{{t.detailKey, "n"}}, 5) + "\n" +
		"), bound AS (\n" +
		"    SELECT " + t.key + ", id FROM next ORDER BY " + t.key + " DESC, id DESC LIMIT 1\n" +
		")\n" +
		"SELECT (SELECT n FROM counted), (SELECT count(*) FROM next), (SELECT " + t.key + " FROM bound), (SELECT id FROM bound),\n" +
		"    (SELECT count(*) FROM event)"
}

// batchEventSQL inserts the retention.batch event of a batch on table,
// whose counts are the columns of CTE counted: each detail key of counts
// with its column. Nothing is inserted when the batch deleted no rows. The
// actor, via, client address and run id are parameters $first to
// $first+3, the cutoff as eventTime writes it $first+4.
// The event is part of the batch's statement, so it commits if and only if
// the rows it counts are deleted; the statement's result reads it, so that
// no engine skips it; its RETURNING wakes the trail's followers (see
// notifyEvents).
func batchEventSQL(table string, counts []eventCount, first int) string {
	param := func(i int) string { return "$" + strconv.Itoa(first+i) }
	detail, sum := "", ""
	for i, c := range counts {
		detail += ", '" + c.detailKey + "', " + c.column
		if i > 0 {
			sum += " + "
		}
		sum += c.column
	}
	return "    INSERT INTO system.session_events (event, actor, username, via, client_addr, detail)\n" +
		"    SELECT '" + EventRetentionBatch + "', " + param(0) + ", '', " + param(1) + ", " + param(2) + ",\n" +
		"        jsonb_build_object('run', " + param(3) + "::TEXT, 'table', '" + table + "', 'cutoff', " + param(4) + "::TEXT" + detail + ")\n" +
		"    FROM counted WHERE " + sum + " > 0\n" +
		"    RETURNING (" + notifyEvents + ")"
}

// eventCount is one count of a batch's event: the detail key of a phase
// and the column of CTE counted that holds its rows.
type eventCount struct {
	detailKey, column string
}

// batchEnd is the (key, id) of a batch's last row, where the next one starts.
type batchEnd struct {
	key time.Time
	id  int64
}

// walkStart is below every (key, id), so the first batch starts at the
// beginning of the index; the year 1 is a timestamp both engines accept.
var walkStart = batchEnd{time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), math.MinInt64}
