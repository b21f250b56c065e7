package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/cmdbench"
	"github.com/auth-session/auth-session/pkg/sql"
)

// rawPurge deletes what purge deletes with its defaults: the sessions that
// expired or were revoked more than an hour ago.
const rawPurge = `DELETE FROM system.web_sessions
WHERE expires_at < now() - INTERVAL '1 hour' OR revoked_at < now() - INTERVAL '1 hour'`

// purgeBatches are the batch sizes measured against the raw DELETE.
var purgeBatches = []int{1000, 10000}

// purgeRunsBudget is about how many rows a round's purges may delete in
// all, each method's runs together: a round runs each method
// purgeRuns(rows) times.
const purgeRunsBudget = 3_000_000

// purgeRuns is how many times a round runs each purge method on a table of
// n rows: 5 at 100k, 3 at 1M, 1 at 10M. One run of a small table takes a
// tenth of a second, within the machine's noise; a copy of a large one
// takes a minute.
func purgeRuns(n int64) int {
	return int(max(1, min(5, purgeRunsBudget/max(1, n))))
}

// purges measures, in one round, one raw DELETE and purge with each batch
// size, as whole processes, each run on its own copy of the filled
// database (CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY, then sync),
// so that each deletes the same rows from the same state: purgeRuns times
// each, the methods alternating and their order turning with the round and
// the run. The round's figure of each method is the median of its runs.
func (s *sizeRun) purges(ctx context.Context, round int) error {
	copyName := s.template + "_purge"
	copyURL := benchdb.URL(s.o.url, copyName)
	type method struct {
		batch int // 0: the raw DELETE
		runs  []cmdbench.Run
		left  []int64
		load  float64
	}
	methods := []*method{{}}
	for _, b := range purgeBatches {
		methods = append(methods, &method{batch: b})
	}
	runs := purgeRuns(s.shape.rows)
	for r := range runs {
		for j := range methods {
			m := methods[(j+round+r)%len(methods)]
			if err := benchdb.CopyDatabase(ctx, s.o.url, s.template, copyName); err != nil {
				return err
			}
			if len(m.runs) == 0 {
				m.load = loadAverage()
			}
			var run cmdbench.Run
			var err error
			if m.batch == 0 {
				run, err = cmdbench.Exec(ctx, nil, s.o.psql, cmdbench.PsqlArgs(copyURL, "-c", rawPurge)...)
			} else {
				run, err = cmdbench.Exec(ctx, nil, s.o.bin, "purge", "--batch", strconv.Itoa(m.batch), "--format", "tsv", "--url", copyURL)
			}
			if err != nil {
				return err
			}
			left, err := countSessions(ctx, copyURL)
			if err != nil {
				return err
			}
			m.runs, m.left = append(m.runs, run), append(m.left, left)
			if err := benchdb.DropDatabase(ctx, s.o.url, copyName); err != nil {
				return err
			}
		}
	}
	raw := methods[0]
	rawTime := cmdbench.Median(raw.runs).Seconds()
	what := "whole processes (raw time / ours)"
	if runs > 1 {
		what = fmt.Sprintf("whole processes, median of %d (raw time / ours)", runs)
	}
	for _, m := range methods {
		for _, left := range m.left {
			s.purged = append(s.purged, float64(s.shape.rows-left))
		}
	}
	for _, m := range methods[1:] {
		for i, left := range m.left {
			if left != raw.left[i] {
				// Sessions turn purgeable as the clock passes the fill's
				// hour (fillSessions): the round compares unlike work.
				progress("warning: purge --batch %d left %d sessions, the raw DELETE %d", m.batch, left, raw.left[i])
			}
		}
		ours := cmdbench.Median(m.runs).Seconds()
		name := fmt.Sprintf("`purge --batch %d`", m.batch)
		if m.batch == sql.DefaultPurgeBatch {
			name += " (the default)"
		}
		s.report.measure(fmt.Sprintf("%s vs one raw `DELETE` of the same rows, %s", name, what),
			seconds, 0.8, true).add(ours, rawTime, rawTime/ours, m.load)
	}
	return nil
}

func countSessions(ctx context.Context, dbURL string) (int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, "SELECT count(*) FROM system.web_sessions").Scan(&n)
	return n, err
}
