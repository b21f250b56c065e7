package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/cmdbench"
)

// rawPurge deletes what purge deletes with its defaults: the sessions that
// expired or were revoked more than an hour ago.
const rawPurge = `DELETE FROM system.web_sessions
WHERE expires_at < now() - INTERVAL '1 hour' OR revoked_at < now() - INTERVAL '1 hour'`

// purgeBatches are the batch sizes measured against the raw DELETE.
var purgeBatches = []int{1000, 10000}

// purges measures, in one round, one raw DELETE and purge with each batch
// size, as whole processes, each on its own copy of the filled database
// (CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY), so that each deletes
// the same rows from the same state. The order of the methods turns with
// the round.
func (s *sizeRun) purges(ctx context.Context, round int) error {
	copyName := s.template + "_purge"
	copyURL := benchdb.URL(s.o.url, copyName)
	type method struct {
		batch int // 0: the raw DELETE
		run   cmdbench.Run
		left  int64
		load  float64
	}
	methods := []*method{{}}
	for _, b := range purgeBatches {
		methods = append(methods, &method{batch: b})
	}
	for j := range methods {
		m := methods[(j+round)%len(methods)]
		if err := benchdb.CopyDatabase(ctx, s.o.url, s.template, copyName); err != nil {
			return err
		}
		m.load = loadAverage()
		var err error
		if m.batch == 0 {
			m.run, err = cmdbench.Exec(ctx, nil, s.o.psql, cmdbench.PsqlArgs(copyURL, "-c", rawPurge)...)
		} else {
			m.run, err = cmdbench.Exec(ctx, nil, s.o.bin, "purge", "--batch", strconv.Itoa(m.batch), "--format", "tsv", "--url", copyURL)
		}
		if err != nil {
			return err
		}
		if m.left, err = countSessions(ctx, copyURL); err != nil {
			return err
		}
		if err := benchdb.DropDatabase(ctx, s.o.url, copyName); err != nil {
			return err
		}
	}
	raw := methods[0]
	for _, m := range methods {
		s.purged = append(s.purged, float64(s.shape.rows-m.left))
	}
	for _, m := range methods[1:] {
		if m.left != raw.left {
			// Sessions turn purgeable as the clock passes the fill's
			// hour (fillSessions): the round compares unlike work.
			progress("warning: purge --batch %d left %d sessions, the raw DELETE %d", m.batch, m.left, raw.left)
		}
		s.report.measure(fmt.Sprintf("`purge --batch %d` vs one raw `DELETE` of the same rows, whole processes (raw time / ours)", m.batch),
			seconds, 0.8, true).add(m.run.Wall.Seconds(), raw.run.Wall.Seconds(), raw.run.Wall.Seconds()/m.run.Wall.Seconds(), m.load)
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
