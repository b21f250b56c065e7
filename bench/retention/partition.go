package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
)

// Daily partitions: from the day 31 days before today, which holds every
// fill's oldest row, to aheadDays after today, as a job that makes
// partitions in advance (pg_partman's premake) would leave it.
const (
	backDays  = 31
	aheadDays = 4
)

// epoch2020 is where session ids count their milliseconds from.
var epoch2020 = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// idAt is the smallest id the table's default makes at t: ids are the
// milliseconds since 2020 shifted left by 22 bits, so a range of ids is a
// range of creation times.
func idAt(t time.Time) int64 { return t.Sub(epoch2020).Milliseconds() << 22 }

// partitionDDL creates the daily partitions of system.web_sessions_new
// for the days from first, count of them, with autovacuum off as on the
// plain table.
func partitionDDL(table string, first time.Time, count int) []string {
	var stmts []string
	for d := range count {
		day := first.AddDate(0, 0, d)
		stmts = append(stmts, fmt.Sprintf(
			"CREATE TABLE system.web_sessions_p%s PARTITION OF %s FOR VALUES FROM (%d) TO (%d) WITH (autovacuum_enabled = false)",
			day.Format("20060102"), table, idAt(day), idAt(day.AddDate(0, 0, 1))))
	}
	return stmts
}

func today() time.Time { return time.Now().UTC().Truncate(24 * time.Hour) }

// partitionTable turns the sessions table of database name into a table
// RANGE-partitioned by id, one partition a day, with the same columns,
// defaults, constraints, rows (copied in id order), primary key and
// secondary indexes (each created on the parent, so on every partition),
// then vacuums, analyzes and checkpoints as fillPlain does. The primary
// key on id is allowed because id is the partition key; a unique index
// that does not include id would not be.
func partitionTable(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	stmts := []string{
		"SET maintenance_work_mem = '1GB'",
		saveSecondaryIndexes,
		`CREATE TABLE system.web_sessions_new (LIKE system.web_sessions INCLUDING DEFAULTS INCLUDING CONSTRAINTS
    INCLUDING STORAGE INCLUDING COMPRESSION) PARTITION BY RANGE (id)`,
	}
	stmts = append(stmts, partitionDDL("system.web_sessions_new", today().AddDate(0, 0, -backDays), backDays+1+aheadDays)...)
	stmts = append(stmts,
		// Each partition in creation order, as the rows of a day arrive
		// and stay: nothing is inserted into a partition after its day.
		"INSERT INTO system.web_sessions_new SELECT * FROM system.web_sessions ORDER BY id",
		"DROP TABLE system.web_sessions",
		"ALTER TABLE system.web_sessions_new RENAME TO web_sessions",
		"ALTER TABLE system.web_sessions ADD CONSTRAINT web_sessions_pkey PRIMARY KEY (id)",
		buildSecondaryIndexes,
		"REVOKE ALL ON system.web_sessions FROM PUBLIC",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON system.web_sessions TO admin",
		"VACUUM (ANALYZE) system.web_sessions",
		"CHECKPOINT")
	return benchdb.ExecAll(ctx, conn, stmts...)
}

// addPartitions adds empty daily partitions after the last one until the
// table has total of them.
func addPartitions(ctx context.Context, dbURL string, total int) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	have, err := countPartitions(ctx, conn)
	if err != nil {
		return err
	}
	if have >= total {
		return nil
	}
	stmts := partitionDDL("system.web_sessions", today().AddDate(0, 0, have-backDays), total-have)
	stmts = append(stmts, "VACUUM (ANALYZE) system.web_sessions", "CHECKPOINT")
	return benchdb.ExecAll(ctx, conn, stmts...)
}

func countPartitions(ctx context.Context, conn *pgx.Conn) (int, error) {
	var n int
	err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'system.web_sessions'::regclass`).Scan(&n)
	return n, err
}

// droppable are the partitions whose every row is purgeable, oldest
// first, and how many rows they hold. A retention job would know them
// from their bounds alone, where a maximum lifetime makes every session
// older than it expired; the benchmark reads their rows instead, before
// the clock starts, so that it drops only what purge would delete.
func droppable(ctx context.Context, conn *pgx.Conn) (names []string, rows int64, err error) {
	r, err := conn.Query(ctx, `SELECT tableoid::regclass::TEXT, count(*) FROM system.web_sessions
GROUP BY tableoid HAVING bool_and(`+purgeableRow+`) ORDER BY 1`)
	if err != nil {
		return nil, 0, err
	}
	for r.Next() {
		var name string
		var n int64
		if err := r.Scan(&name, &n); err != nil {
			return nil, 0, err
		}
		names, rows = append(names, name), rows+n
	}
	return names, rows, r.Err()
}

// purgeableRow is purgeable for one row, with a NULL revocation false.
var purgeableRow = "COALESCE(" + strings.ReplaceAll(purgeable, "\n", " ") + ", false)"
