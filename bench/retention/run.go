package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/tablesize"
)

// fillRun is the benchmark on one size filled one way.
type fillRun struct {
	o    options
	n    int
	fill fillKind
	// plain, part and year are the filled databases, never changed: today's
	// table, the same rows partitioned by day, and that with a year of
	// daily partitions ("" when the lookups do not run on this fill).
	plain, part, year string
	plainShape        shape
	partBytes         int64
	partitions        int
	filled            time.Duration
	removals          [][]removal // by method, then round
	keys              []int64
	users             []int // user numbers whose sessions the by-name lookup reads
	tables            []*table
	lookupNames       []string
	lookupResults     [][]lookupResult // by workload, then round
}

func runFill(ctx context.Context, out io.Writer, o options, n int, f fillKind) (err error) {
	r := &fillRun{o: o, n: n, fill: f, removals: make([][]removal, len(methods))}
	prefix := "retention_" + f.name + "_" + strings.ToLower(tablesize.Name(n))
	r.plain, r.part = prefix+"_plain", prefix+"_part"
	lookups := f.name == o.lookupFill
	if lookups && o.yearDays > 0 {
		r.year = prefix + "_year"
	}
	for _, db := range []string{r.plain, r.part, r.year} {
		if db != "" {
			defer func() { err = errors.Join(err, benchdb.DropDatabase(ctx, o.url, db)) }()
		}
	}
	progress("%s %s: filling today's table", tablesize.Name(n), f.name)
	began := time.Now()
	if err := fillPlain(ctx, o.url, r.plain, n, f, o.scatter); err != nil {
		return err
	}
	r.filled = time.Since(began)
	progress("%s %s: filled in %v; partitioning a copy", tablesize.Name(n), f.name, r.filled.Round(time.Second))
	if err := benchdb.CopyDatabase(ctx, o.url, r.plain, r.part); err != nil {
		return err
	}
	if err := partitionTable(ctx, benchdb.URL(o.url, r.part)); err != nil {
		return err
	}
	if err := r.readShapes(ctx); err != nil {
		return err
	}
	if r.year != "" {
		progress("%s %s: a copy with %d daily partitions", tablesize.Name(n), f.name, o.yearDays)
		if err := benchdb.CopyDatabase(ctx, o.url, r.part, r.year); err != nil {
			return err
		}
		if err := addPartitions(ctx, benchdb.URL(o.url, r.year), o.yearDays); err != nil {
			return err
		}
	}
	if err := benchdb.SyncDisks(ctx); err != nil {
		return err
	}
	if lookups {
		if err := r.pickKeys(ctx); err != nil {
			return err
		}
		if err := r.countTableLocks(ctx); err != nil {
			return err
		}
	}
	for round := range o.rounds {
		progress("%s %s: round %d of %d: retention", tablesize.Name(n), f.name, round+1, o.rounds)
		if err := r.retention(ctx, round); err != nil {
			return err
		}
		if lookups {
			progress("%s %s: round %d of %d: lookups", tablesize.Name(n), f.name, round+1, o.rounds)
			if err := r.lookups(ctx, round); err != nil {
				return err
			}
		}
	}
	r.print(out)
	return nil
}

func (r *fillRun) readShapes(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, benchdb.URL(r.o.url, r.plain))
	if err != nil {
		return err
	}
	r.plainShape, err = readShape(ctx, conn)
	conn.Close(ctx)
	if err != nil {
		return err
	}
	conn, err = pgx.Connect(ctx, benchdb.URL(r.o.url, r.part))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if r.partitions, err = countPartitions(ctx, conn); err != nil {
		return err
	}
	return conn.QueryRow(ctx, `SELECT sum(pg_total_relation_size(inhrelid))::BIGINT FROM pg_inherits
WHERE inhparent = 'system.web_sessions'::regclass`).Scan(&r.partBytes)
}

// print writes the fill's tables in markdown.
func (r *fillRun) print(out io.Writer) {
	s := r.plainShape
	fmt.Fprintf(out, "\n### %s sessions, fill %q\n\n%s.\n\n", tablesize.Name(r.n), r.fill.name, r.fill.about)
	fmt.Fprintf(out, "%s sessions, %s purgeable when filled (%s of them revoked more than an hour ago and not expired), %s revoked in all; "+
		"today's table %s with its indexes, filled in %v, its heap %s, purgeable rows on %s of its %s pages; "+
		"the partitioned copy %s in %d daily partitions, each in creation order.\n\n",
		thousands(s.rows), thousands(s.purgeable), thousands(s.revokedPurgeable), thousands(s.revoked),
		mib(s.bytes), r.filled.Round(time.Second), heapOrder(r.o.scatter), thousands(s.purgeablePages), thousands(s.pages), mib(r.partBytes), r.partitions)
	fmt.Fprintf(out, "| retention method | rows removed | of them by dropping (partitions) | statement time | of it, dropping | today's DELETE time / this | VACUUM after | WAL written | WAL of the VACUUM | load |\n")
	fmt.Fprintf(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for k, m := range methods {
		rs := r.removals[k]
		var removed, dropped, parts, total, dropping, ratio, vacuum, wal, vwal, load []float64
		for i, x := range rs {
			removed, dropped, parts = append(removed, float64(x.removed)), append(dropped, float64(x.dropped)), append(parts, float64(x.partitions))
			total, dropping, vacuum = append(total, x.total().Seconds()), append(dropping, x.dropTime.Seconds()), append(vacuum, x.vacuum.Seconds())
			ratio = append(ratio, r.removals[0][i].total().Seconds()/x.total().Seconds())
			wal, vwal, load = append(wal, float64(x.wal)/(1<<20)), append(vwal, float64(x.vacuumWAL)/(1<<20)), append(load, x.load)
		}
		dropCell, droppingCell := "", ""
		if m.drop != "" {
			dropCell = span(dropped, "%.0f") + " (" + span(parts, "%.0f") + ")"
			droppingCell = span(dropping, "%.3f") + " s"
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s s | %s | %s | %s s | %s MiB | %s MiB | %s |\n", m.name, span(removed, "%.0f"), dropCell,
			span(total, "%.3f"), droppingCell, span(ratio, "%.2f"), span(vacuum, "%.2f"), span(wal, "%.1f"), span(vwal, "%.1f"), span(load, "%.1f"))
	}
	if len(r.tables) == 0 {
		return
	}
	fmt.Fprintf(out, "\nLookups: %s ids spread over the table, %d clients, a pool of 16 connections with prepared statements, %v each a round.\n\n",
		thousands(len(r.keys)), r.o.concurrency, r.o.duration)
	fmt.Fprintf(out, "| lookup | req/s | vs the raw SELECT on today's table | p99 | load |\n| --- | ---: | ---: | ---: | ---: |\n")
	for i, name := range r.lookupNames {
		var rate, ratio, p99, load []float64
		for _, x := range r.lookupResults[i] {
			rate, ratio = append(rate, x.rate), append(ratio, x.ratio)
			p99, load = append(p99, float64(x.p99)/float64(time.Millisecond)), append(load, x.load)
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s ms | %s |\n", name, span(rate, "%.0f"), span(ratio, "%.2f"), span(p99, "%.2f"), span(load, "%.1f"))
	}
	fmt.Fprintf(out, "\nRelations of schema system one lookup locks (beyond the 16 fast-path slots), after six executions on its connection:\n\n")
	fmt.Fprintf(out, "| table | partitions | %s |\n| --- | ---: |%s\n", strings.Join(planModes, " | "), strings.Repeat(" --- |", len(planModes)))
	for _, t := range r.tables {
		var cells []string
		for _, mode := range planModes {
			c := t.locks[mode]
			plan := "custom"
			if c.generic {
				plan = "generic"
			}
			cells = append(cells, fmt.Sprintf("%d (%d), %s plan", c.relations, c.slow, plan))
		}
		fmt.Fprintf(out, "| %s | %d | %s |\n", t.name, t.parts, strings.Join(cells, " | "))
	}
}

func heapOrder(scatter bool) string {
	if scatter {
		return "scattered"
	}
	return "in creation order"
}

// span is the range of vs, each written with format: one value when all
// are the same when written.
func span(vs []float64, format string) string {
	if len(vs) == 0 {
		return ""
	}
	lo, hi := fmt.Sprintf(format, slices.Min(vs)), fmt.Sprintf(format, slices.Max(vs))
	if lo == hi {
		return lo
	}
	return lo + "–" + hi
}

func thousands[T int | int64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func mib(b int64) string {
	if b >= 10<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%d MiB", b>>20)
}
