package sql

// The index walk: each phase's rows in (key, id) order, batch by batch,
// each batch one statement that finds its last row and deletes up to it.

import (
	"context"
	"math"
	"time"
)

// indexWalk deletes one phase's rows in batches of at most batch rows in
// (key, id) order, each starting where the previous one ended: see
// phase.batchSQL.
type indexWalk struct {
	phase  phase
	query  string
	cutoff time.Time
	batch  int
	after  batchEnd
	audit  batchAudit
}

func (w *indexWalk) next(ctx context.Context, db PurgeDB) ([]deletedRows, bool, error) {
	var (
		n, events int64
		key       *time.Time
		id        *int64
	)
	args := append(append([]any{w.cutoff, w.after.key, w.after.id, w.batch - 1}, w.audit.args()...), eventTime(w.cutoff))
	err := retry(ctx, func() error {
		return db.QueryRow(ctx, inSchema(w.query), args...).Scan(&n, &key, &id, &events)
	})
	deleted := []deletedRows{{w.phase, n}}
	if err != nil || key == nil || id == nil {
		return deleted, false, err
	}
	w.after = batchEnd{*key, *id}
	return deleted, true, nil
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
func (t phase) batchSQL() string {
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

// batchEventSQL inserts the retention.batch event of a batch of the
// phase, with the count n of CTE counted; nothing when the batch deleted no
// rows. The actor, via, client address and run id are parameters $5 to $8,
// the cutoff as eventTime writes it $9.
// The event is part of the batch's statement, so it commits if and only if
// the rows it counts are deleted; the statement's result reads it, so that
// no engine skips it. recordBatch writes the same event for a table walk.
func (t phase) batchEventSQL() string {
	return "    INSERT INTO system.session_events (event, actor, username, via, client_addr, detail)\n" +
		"    SELECT '" + EventRetentionBatch + "', $5, '', $6, $7,\n" +
		"        jsonb_build_object('run', $8::TEXT, 'table', '" + t.table + "', 'cutoff', $9::TEXT, '" + t.detailKey + "', n)\n" +
		"    FROM counted WHERE n > 0\n" +
		"    RETURNING 1"
}

// batchEnd is the (key, id) of a batch's last row, where the next one starts.
type batchEnd struct {
	key time.Time
	id  int64
}

// walkStart is below every (key, id), so the first batch starts at the
// beginning of the index; the year 1 is a timestamp both engines accept.
var walkStart = batchEnd{time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), math.MinInt64}
