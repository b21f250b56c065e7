package cli

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/sql"
)

// Flags of serve's background purge.
const (
	flagPurgeInterval  = "purge-interval"
	flagPurgeOlderThan = "purge-older-than"
	flagPurgePace      = "purge-pace"

	defaultPurgeInterval = "1h"
	// defaultPurgePace keeps the background purge busy at most half the
	// time: bench/purgelatency measured the whoami p99 during an unpaced
	// purge at over twice the idle p99 on 2 CPUs.
	defaultPurgePace = "1"
	// minPurgeInterval: a run reads the database clock and walks two
	// indexes even when there is nothing to delete, so running back to back
	// costs without purging anything sooner.
	minPurgeInterval = time.Second
	// purgeJitter spreads each wait over ±10% of the interval, so that
	// servers started together do not purge together.
	purgeJitter = 0.1
)

func init() {
	registerServeJob(serveJob{flags: servePurgeFlags, configure: configureServePurge})
}

func servePurgeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagPurgeInterval, Value: defaultPurgeInterval,
			Usage: "purge old sessions and audit events in the background about every `D` (±10%), as the purge command does; 0 turns it off"},
		olderThanFlag(flagPurgeOlderThan),
		paceFlag(flagPurgePace, defaultPurgePace),
		eventsRetentionFlag(),
	}
}

// configureServePurge reads the background purge's flags.
func configureServePurge(c *cli.Context) (startServeJob, error) {
	opts, err := servePurgeOptions(c.String(flagPurgeInterval), c.String(flagPurgeOlderThan), c.String(flagPurgePace), c.String(flagEventsRetention))
	if err != nil || opts.Interval == 0 {
		return nil, err
	}
	return func(deps serveDeps) func(ctx context.Context) {
		opts.Purge.Audit = sql.PurgeAudit{Via: "serve", ClientAddr: hostname(deps.Env)}
		opts.Logger = deps.Log.With("job", "purge")
		return func(ctx context.Context) { runServePurge(ctx, deps, opts) }
	}, nil
}

// servePurgeOptions parses the flags' values as the purge command parses
// its own; every value is checked, also when the interval turns the purge
// off, so that a typo fails now rather than when someone turns it on.
func servePurgeOptions(interval, olderThan, pace, eventsRetention string) (sql.PurgeLoopOptions, error) {
	opts := sql.PurgeLoopOptions{Jitter: purgeJitter, Purge: sql.PurgeOptions{Batch: sql.DefaultPurgeBatch}}
	var err error
	if opts.Interval, err = parseDurationOrZero(flagPurgeInterval, interval, minPurgeInterval, "turn the background purge off"); err != nil {
		return opts, err
	}
	if opts.Purge.OlderThan, err = parseDuration(flagPurgeOlderThan, olderThan, time.Second); err != nil {
		return opts, err
	}
	if opts.Purge.EventsOlderThan, err = parseRetention(flagEventsRetention, eventsRetention); err != nil {
		return opts, err
	}
	if opts.Purge.Pace, err = parsePace(flagPurgePace, pace); err != nil {
		return opts, err
	}
	return opts, nil
}

// runServePurge runs the purge loop until shutdown. The loop logs one line
// per run with its counts, never a session's secret or id.
func runServePurge(ctx context.Context, deps serveDeps, opts sql.PurgeLoopOptions) {
	opts.Logger.Info("purging in the background", "interval", opts.Interval, "older_than", opts.Purge.OlderThan,
		"events_retention", opts.Purge.EventsOlderThan)
	if err := sql.RunPurgeLoop(ctx, deps.Pool, opts); err != nil {
		// The flags were checked before the server started; this is a bug.
		opts.Logger.Error("background purge not started", "err", err)
	}
}
