package sql

// The heap walk: a table's pages in disk order, once for all its phases,
// for a purge that deletes most of the table (PostgreSQL 14 and later only;
// see dialect.go).

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// heapWalk deletes the rows of all the phases on one table on pages [from,
// from+pages), then the next pages, up to end: the table's size when the
// walk started. Rows written after that are new sessions and events, which
// the cutoff spares anyway, or rows a concurrent logout or revoke rewrote,
// which the next run purges. A batch is one statement (see heapBatchSQL),
// sent with JIT off (see queryRowWithoutJIT): one round trip.
type heapWalk struct {
	phases []phase
	// query is the phases' heapBatchSQL.
	query            string
	cutoff           time.Time
	pages, from, end uint32
	audit            batchAudit
}

func (w *heapWalk) next(ctx context.Context, db PurgeDB) ([]deletedRows, bool, error) {
	to := w.from + min(w.pages, w.end-w.from)
	deleted, err := w.deletePages(ctx, db, w.from, to)
	if err != nil {
		return nil, false, err
	}
	w.from = to
	return deleted, w.from < w.end, nil
}

// deletePages runs the walk's batch on pages [from, to), retried on
// serialization failures.
func (w *heapWalk) deletePages(ctx context.Context, db PurgeDB, from, to uint32) ([]deletedRows, error) {
	counts := make([]int64, len(w.phases))
	var events int64
	dest := make([]any, 0, len(counts)+1)
	for i := range counts {
		dest = append(dest, &counts[i])
	}
	dest = append(dest, &events)
	args := append([]any{w.cutoff, pageStart(from), pageStart(to)}, w.audit.args()...)
	args = append(args, eventTime(w.cutoff))
	query := inSchema(db, w.query)
	err := retry(ctx, func() error {
		return queryRowWithoutJIT(ctx, db, query, args, dest...)
	})
	if err != nil {
		return nil, err
	}
	return w.deleted(counts), nil
}

// deleted pairs the counts of a batch's statement with the walk's phases.
func (w *heapWalk) deleted(counts []int64) []deletedRows {
	deleted := make([]deletedRows, len(w.phases))
	for i, t := range w.phases {
		deleted[i] = deletedRows{t, counts[i]}
	}
	return deleted
}

// pageStart is the tuple id before every row of page p: offsets start at 1.
func pageStart(p uint32) pgtype.TID {
	return pgtype.TID{BlockNumber: p, OffsetNumber: 0, Valid: true}
}

// heapBatchSQL deletes the rows of the phases on a range of pages, $2 to
// $3, and writes the batch's event with their counts: for the sessions,
//
//	WITH deleted AS (
//	    DELETE FROM system.web_sessions
//	    WHERE ctid >= $2 AND ctid < $3
//	      AND ((expires_at < $1) OR (revoked_at < $1 AND NOT (expires_at < $1))) IS TRUE
//	    RETURNING (expires_at < $1) IS TRUE AS p0, (revoked_at < $1 AND NOT (expires_at < $1)) IS TRUE AS p1
//	), counted AS (
//	    SELECT count(*) FILTER (WHERE p0) AS n0, count(*) FILTER (WHERE p1) AS n1 FROM deleted
//	), event AS (
//	    INSERT INTO system.session_events ... (the batch's retention.batch event, see batchEventSQL)
//	)
//	SELECT n0, n1, (SELECT count(*) FROM event) FROM counted
//
// which PostgreSQL runs as a TID Range Scan: the pages in disk order, each
// read once, as a sequential scan reads them. IS TRUE (the same as WHERE
// on its own, which drops NULL as it drops false) makes the predicate one
// no index can answer: the planner would otherwise take NOT (expires_at <
// $1) to the expiry index when few rows are live, and one batch would
// delete rows anywhere in the table. It takes each phase's rows as a dry
// run counts them, so the phases take disjoint rows and each deleted row
// is counted in one phase, by what it was when deleted. Finding the revoked
// sessions that did not expire long ago through their index would read the
// table's page of every session revoked long ago, expired or not (a random
// read each, 200-300 ms for 100,000 of them in bench/purge); on pages the
// batch reads anyway it costs a filter.
// A row a concurrent statement deletes or rewrites meanwhile is rechecked
// against the predicate after that statement commits, as in any DELETE; so
// the walk never deletes a live session and concurrent purges delete each
// row once.
//
// One statement rather than a DELETE per phase and then the event: a
// batch is one round trip and one implicit transaction, as the index
// walk's. RETURNING a boolean per phase costs each deleted row one more
// look at its page, which the batch has just read.
func heapBatchSQL(phases []phase) string {
	var where, returning, counts []string
	events := make([]eventCount, len(phases))
	for i, t := range phases {
		p := "p" + strconv.Itoa(i)
		where = append(where, "("+t.countWhere+")")
		returning = append(returning, "("+t.countWhere+") IS TRUE AS "+p)
		counts = append(counts, "count(*) FILTER (WHERE "+p+") AS n"+strconv.Itoa(i))
		events[i] = eventCount{t.detailKey, "n" + strconv.Itoa(i)}
	}
	columns := ""
	for i := range phases {
		columns += "n" + strconv.Itoa(i) + ", "
	}
	table := phases[0].table
	return "WITH deleted AS (\n" +
		"    DELETE FROM " + table + "\n" +
		"    WHERE ctid >= $2 AND ctid < $3 AND (" + strings.Join(where, " OR ") + ") IS TRUE\n" +
		"    RETURNING " + strings.Join(returning, ", ") + "\n" +
		"), counted AS (\n" +
		"    SELECT " + strings.Join(counts, ", ") + " FROM deleted\n" +
		"), event AS (\n" +
		batchEventSQL(table, events, 4) + "\n" +
		")\n" +
		"SELECT " + columns + "(SELECT count(*) FROM event) FROM counted"
}

// heapWalkShare is the share of a table's rows its phases must delete to walk
// the table rather than the index. Measured on a 1M-row table (bench/purge,
// PostgreSQL 15, data cached): walking the pages costs about 0.15 µs for
// each row of the table plus 0.55 µs for each row deleted, the index walk
// about 1.2 µs for each row deleted; they break even near a fifth.
const heapWalkShare = 0.2

// heapWalkSpread is the share of a table's pages that must hold rows to
// purge to walk the table rather than the index, however few the rows.
// Measured at 0.98 (issue 21's table: a tenth of the rows, on every page),
// where walking the table read the pages the index walk read, each once;
// below, the index walk reads fewer pages, and where it stops paying is
// unmeasured, hence a margin.
const heapWalkSpread = 0.8

// samplePages is about how many of a table's pages planHeapWalk reads to
// see where the rows to purge lie: the share of pages that hold some is
// then known to within about 0.06.
const samplePages = 64

// tableSampleSQL reads what the planner knows of the phases' table $2, from
// its last vacuum or analyze (its rows and pages), its size now, in pages,
// and, on a sample of about samplePages of its pages (TABLESAMPLE SYSTEM
// picks whole pages), how many rows there are and how many the phases
// delete, with the cutoff $1, and how many pages hold any of each.
func tableSampleSQL(phases []phase) string {
	where := make([]string, len(phases))
	for i, t := range phases {
		where[i] = "(" + t.countWhere + ")"
	}
	pages := "pg_relation_size($2::REGCLASS) / current_setting('block_size')::BIGINT"
	return "SELECT c.reltuples::FLOAT8, c.relpages::BIGINT, " + pages + ",\n" +
		"    s.rows, s.matching, s.pages, s.matching_pages\n" +
		"FROM pg_catalog.pg_class c, (\n" +
		"    SELECT COALESCE(sum(rows), 0) AS rows, COALESCE(sum(matching), 0) AS matching,\n" +
		"        count(*)::FLOAT8 AS pages, (count(*) FILTER (WHERE matching > 0))::FLOAT8 AS matching_pages\n" +
		"    FROM (SELECT count(*)::FLOAT8 AS rows, (count(*) FILTER (WHERE " + strings.Join(where, " OR ") + "))::FLOAT8 AS matching\n" +
		"        FROM " + phases[0].table + " TABLESAMPLE SYSTEM (least(100, " + strconv.Itoa(100*samplePages) + ".0 / greatest(1, " + pages + "))::FLOAT4)\n" +
		"        GROUP BY (ctid::TEXT::POINT)[0]) p) s\n" +
		"WHERE c.oid = $2::REGCLASS"
}

// planHeapWalk returns the walk of the table's pages for the phases on it,
// or nil when the phases should walk their indexes. The table's pages are
// the better walk when the phases delete heapWalkShare of its rows or more,
// or when heapWalkSpread of its pages hold rows to delete: walking the indexes
// would then visit about every page too, in the keys' order rather than
// the disk's, as many times as batches find rows on it. Both are read from
// a sample of about samplePages pages. It is for PostgreSQL 14 and later
// (see dialect.go), not CockroachDB, whose rows have no place on a page.
func planHeapWalk(ctx context.Context, db PurgeDB, phases []phase, cutoff time.Time, batch int) (*heapWalk, error) {
	table := phases[0].table
	var (
		tuples                                                 float64
		pages, end                                             int64
		sampledRows, matchingRows, sampledPages, matchingPages float64
	)
	// The sample's size is unknown when it is planned: PostgreSQL expects a
	// tenth of the table, whose cost made it compile the statement with
	// JIT (half a second at 10 million sessions) to read 64 pages.
	err := queryRowWithoutJIT(ctx, db, inSchema(db, tableSampleSQL(phases)), []any{cutoff, inSchema(db, table)},
		&tuples, &pages, &end, &sampledRows, &matchingRows, &sampledPages, &matchingPages)
	if err != nil {
		return nil, fmt.Errorf("sample %s: %w", table, err)
	}
	// A table never vacuumed nor analyzed has no statistics (reltuples -1).
	if tuples <= 0 || pages <= 0 || end <= 0 {
		return nil, nil
	}
	// A batch smaller than a page's rows stays with the index: one page
	// could hold several times the batch the user asked for.
	if float64(batch)*float64(pages)/tuples < 1 {
		return nil, nil
	}
	if matchingRows == 0 {
		return nil, nil
	}
	share, spread := matchingRows/sampledRows, matchingPages/sampledPages
	if share < heapWalkShare && spread < heapWalkSpread {
		return nil, nil
	}
	// A batch is the pages that hold about batch rows to delete, by how
	// many the pages that hold some hold on average.
	perBatch := float64(batch) * matchingPages / matchingRows
	// A bloated table, a few rows on many pages, could ask for more pages
	// per batch than the table has.
	pagesPerBatch := uint32(max(1, min(perBatch, float64(end))))
	return &heapWalk{phases: phases, query: heapBatchSQL(phases), cutoff: cutoff, pages: pagesPerBatch, end: uint32(end)}, nil
}
