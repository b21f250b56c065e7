package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/progress"
	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// defaultOlderThan is purge's --older-than, as the help shows it.
const defaultOlderThan = "1h"

// flagEventsRetention is the name of purge's and serve's flag of the
// setting events-retention.
const flagEventsRetention = sql.SettingEventsRetention

type purgeOptions struct {
	env   *Env
	conn  ConnOptions
	purge sql.PurgeOptions
	// pinned is --events-retention and --idle-timeout, when given (see
	// pinnedFromFlags).
	pinned map[string]string
	format format.Format
}

func purgeCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "purge",
		Usage: "delete sessions that expired, were revoked or went idle long ago, and old audit events",
		Description: "purge deletes the sessions that expired or were revoked more than --older-than\n" +
			"ago by the database clock, then the live sessions not used for the idle\n" +
			"timeout plus --older-than (serve has refused them as idle for --older-than;\n" +
			"none without an idle timeout), then the audit events older than the events\n" +
			"retention (the settings idle-timeout and events-retention; the flags win for\n" +
			"one run), in batches of --batch rows, each its own short transaction: walking\n" +
			"the expiry, revocation and last-use indexes, or, when a fifth of a table or\n" +
			"more goes or its rows lie on 4/5 of its pages (PostgreSQL 14+), its pages in\n" +
			"disk order, each batch the pages that hold about --batch rows to delete. No\n" +
			"other live session is touched. It is safe to interrupt (every finished batch\n" +
			"stays deleted: run it again to finish), to run twice at once, and to run\n" +
			"alongside serve.\n" +
			"It prints one row of counts; on a terminal, a progress bar on stderr.",
		Flags: append(connFlags(), notSQLUserFlag(""),
			olderThanFlag("older-than"),
			&cli.StringFlag{Name: "batch", Value: strconv.Itoa(sql.DefaultPurgeBatch),
				Usage: fmt.Sprintf("delete at most `N` rows per transaction (walking the table: the pages that hold about N rows to delete), 1 to %d", sql.MaxPurgeBatch)},
			&cli.BoolFlag{Name: "dry-run", Usage: "only count what would be purged; delete nothing"},
			paceFlag("pace", "0"),
			idleTimeoutFlag("also purge sessions not used for `DURATION` plus --older-than, as serve --idle-timeout refuses them; 0 for off"),
			eventsRetentionFlag(),
			formatFlag(),
			noHeadersFlag(),
		),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			opts := purgeOptions{env: env, conn: connFromFlags(c), purge: sql.PurgeOptions{DryRun: c.Bool("dry-run")}}
			var err error
			if opts.purge.OlderThan, err = parseDuration("older-than", c.String("older-than"), time.Second); err != nil {
				return err
			}
			if opts.purge.Batch, err = parseBatch(c.String("batch")); err != nil {
				return err
			}
			if opts.pinned, err = pinnedFromFlags(c, flagEventsRetention, flagIdleTimeout); err != nil {
				return err
			}
			if opts.purge.Pace, err = parsePace("pace", c.String("pace")); err != nil {
				return err
			}
			if opts.format, err = formatFromFlags(c, env.IO); err != nil {
				return err
			}
			return runCommand(c.Context, env, opts, runPurge)
		},
	}
}

// parseBatch parses --batch.
func parseBatch(value string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil || n < 1 || n > sql.MaxPurgeBatch {
		return 0, usageErrorf("invalid --batch %q: want a whole number of rows from 1 to %d", value, sql.MaxPurgeBatch)
	}
	return n, nil
}

// paceFlag is purge's --pace and serve's --purge-pace.
func paceFlag(name, value string) cli.Flag {
	return &cli.StringFlag{Name: name, Value: value,
		Usage: fmt.Sprintf("after each batch, wait `F` times as long as the batch took, to leave the database to live traffic: 0 runs flat out, 1 keeps the purge busy at most half the time (0 to %d)", sql.MaxPurgePace)}
}

// parsePace parses a pace flag.
func parsePace(flag, value string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
	if err != nil || f < 0 || f > sql.MaxPurgePace || f != f {
		return 0, usageErrorf("invalid --%s %q: want a number from 0 (flat out) to %d, such as 1", flag, value, sql.MaxPurgePace)
	}
	return f, nil
}

// olderThanFlag is purge's --older-than, and serve's --purge-older-than.
func olderThanFlag(name string) cli.Flag {
	return &cli.StringFlag{Name: name, Value: defaultOlderThan,
		Usage: "purge sessions that expired or were revoked more than `D` ago, or idle past --idle-timeout for more than D, such as 1h or 7d (units: " + durationUnits + ")"}
}

// eventsRetentionFlag is --events-retention, of purge and serve.
func eventsRetentionFlag() cli.Flag {
	return settingFlag(flagEventsRetention, "purge audit events older than `D`, at least 1h; 0 keeps every event")
}

var purgeColumns = []format.Column{
	{Header: "expired sessions", Key: "expired_sessions", Type: format.TypeBigInt},
	{Header: "revoked sessions", Key: "revoked_sessions", Type: format.TypeBigInt},
	{Header: "idle sessions", Key: "idle_sessions", Type: format.TypeBigInt},
	{Header: "events", Key: "events", Type: format.TypeBigInt},
	{Header: "logout records", Key: "logouts", Type: format.TypeBigInt},
	{Header: "batches", Key: "batches", Type: format.TypeBigInt},
	{Header: "dry run", Key: "dry_run", Type: format.TypeBoolean},
}

func runPurge(ctx context.Context, opts purgeOptions) error {
	connect := connectWriter
	if opts.purge.DryRun {
		// A dry run only reads, so it works on a standby.
		connect = connectAdmin
	}
	conn, caller, err := connect(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	policy, err := sql.ReadPolicy(ctx, conn, opts.pinned)
	if err != nil {
		return err
	}
	opts.purge.EventsOlderThan, opts.purge.IdleTimeout = policy.EventsRetention, policy.IdleTimeout
	// Only under an idle timeout does purge delete live sessions: those
	// whose role changed since login are first recorded as revoked, with
	// their reason, rather than deleted as idle. Otherwise it deletes none,
	// and the sweep is left to list, show, revoke and serve.
	sweep := opts.purge.IdleTimeout > 0 && !opts.purge.DryRun
	if err := endChangedCredentials(ctx, opts.env, conn, caller, "purge", !sweep); err != nil {
		return err
	}
	opts.purge.Audit = sql.PurgeAudit{Actor: caller.Username, Via: "cli", ClientAddr: hostname(opts.env)}

	stderr := opts.env.IO.Err
	var bar *progressBar
	if opts.env.IO.ErrIsTerminal && !opts.purge.DryRun {
		// A bar needs a total: a dry run counts with the same predicates,
		// in a fraction of the purge's time.
		count := opts.purge
		count.DryRun = true
		todo, err := sql.Purge(ctx, conn, count, nil)
		if err != nil {
			return err
		}
		bar = newProgressBar(stderr, todo.Total(), opts.env.IO.Width)
	}
	began := opts.env.Now()
	res, err := sql.Purge(ctx, conn, opts.purge, bar.update)
	bar.finish(err)
	if err != nil {
		if res.Total() > 0 {
			fmt.Fprintf(stderr, "purged %s before stopping; finished batches stay deleted: run purge again to finish\n", describePurge(res))
		}
		return err
	}

	var idle, events any
	if opts.purge.IdleTimeout > 0 {
		idle = res.IdleSessions
	}
	if opts.purge.EventsOlderThan > 0 {
		events = res.Events
	}
	w := format.New(opts.format, opts.env.IO.Out, purgeColumns)
	if err := w.WriteRow(res.ExpiredSessions, res.RevokedSessions, idle, events, res.Logouts, res.Batches, res.DryRun); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if opts.env.IO.ErrIsTerminal {
		switch elapsed := opts.env.Now().Sub(began); {
		case res.DryRun:
			fmt.Fprintf(stderr, "dry run: would purge %s; nothing was deleted\n", describePurge(res))
		case res.Total() == 0:
			fmt.Fprintln(stderr, "nothing to purge")
		case elapsed >= time.Second:
			fmt.Fprintf(stderr, "purged %s in %s (%.0f rows/s)\n", describePurge(res), elapsed.Round(time.Millisecond),
				float64(res.Total())/elapsed.Seconds())
		default:
			fmt.Fprintf(stderr, "purged %s\n", describePurge(res))
		}
	}
	return nil
}

// describePurge says what a purge deleted, for people.
func describePurge(r sql.PurgeResult) string {
	idle := ""
	if !r.IdleCutoff.IsZero() {
		idle = fmt.Sprintf(", %d idle", r.IdleSessions)
	}
	s := fmt.Sprintf("%s (%d expired, %d revoked%s) and %s",
		plural(r.Sessions(), "session", "sessions"), r.ExpiredSessions, r.RevokedSessions, idle, plural(r.Events, "audit event", "audit events"))
	if r.Logouts > 0 {
		s += fmt.Sprintf(", and %s that refuse nothing any more", plural(r.Logouts, "logout record", "logout records"))
	}
	return s
}

// progressBar draws a purge's progress on stderr with go-pretty's progress
// writer: the phase, the bar, the percentage, the rows done of the count,
// the rate and the time left.
type progressBar struct {
	p       progress.Writer
	tracker *progress.Tracker
	done    chan struct{} // closed when the writer has drawn its last frame
}

// barRedraw is how often the bar is drawn: a terminal written to faster
// than it can keep up slows the purge down.
const barRedraw = 100 * time.Millisecond

// newProgressBar draws a bar of total rows on w, a terminal width columns
// wide (0: unknown). Every line fits the width, so that each frame redraws
// the last in place: a line the terminal wraps leaves a copy of the bar in
// the scrollback at every redraw. On a narrow terminal the bar shortens,
// then the rate and the time left give way.
func newProgressBar(w io.Writer, total int64, width int) *progressBar {
	p := progress.NewWriter()
	p.SetOutputWriter(w)
	p.SetUpdateFrequency(barRedraw)
	trackerLen, speed, eta := 30, true, true
	if width > 0 {
		// Writing the last column makes some terminals wrap at once.
		usable := width - 1
		p.SetTerminalWidth(usable)
		// Message, percentage and the counts take about 58 columns; the
		// rate 18 more, the time left 13.
		fixed := 58 + 18 + 13
		if usable-fixed < 10 {
			speed, fixed = false, fixed-18
		}
		if usable-fixed < 10 {
			eta, fixed = false, fixed-13
		}
		trackerLen = min(30, max(10, usable-fixed))
	}
	p.SetTrackerLength(trackerLen)
	p.SetMessageLength(16)
	p.SetTrackerPosition(progress.PositionRight)
	p.SetAutoStop(false)
	p.Style().Visibility.ETA = eta
	p.Style().Visibility.Speed = speed
	p.Style().Visibility.ETAOverall = false
	p.Style().Options.TimeInProgressPrecision = time.Second
	tracker := &progress.Tracker{Message: "purging", Total: max(total, 1), Units: rowUnits}
	p.AppendTracker(tracker)
	b := &progressBar{p: p, tracker: tracker, done: make(chan struct{})}
	go func() {
		p.Render()
		close(b.done)
	}()
	return b
}

// rowUnits count rows: 1,234,567 rows, 12,345 rows/s.
var rowUnits = progress.Units{Notation: " rows", NotationPosition: progress.UnitsNotationPositionAfter, Formatter: progress.FormatNumber}

// update shows p.
func (b *progressBar) update(p sql.PurgeProgress) {
	if b == nil {
		return
	}
	b.tracker.UpdateMessage(string(p.Phase))
	done := p.Result.Total()
	// Rows that expire while the purge runs make done overtake the count.
	if done > b.tracker.Total {
		b.tracker.UpdateTotal(done)
	}
	b.tracker.SetValue(done)
}

// finish draws the last frame, the tracker done (or failed), and waits for
// it, so that what follows starts on a line of its own.
func (b *progressBar) finish(err error) {
	if b == nil {
		return
	}
	if err != nil {
		b.tracker.MarkAsErrored()
	} else {
		b.tracker.MarkAsDone()
	}
	b.p.Stop()
	<-b.done
}
