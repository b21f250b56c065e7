package sql

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// PurgeLoopOptions configure RunPurgeLoop.
type PurgeLoopOptions struct {
	// Purge says what each run deletes.
	Purge PurgeOptions
	// BeforeRun, when set, may change each run's copy of Purge: a server
	// sets the events retention its settings say at the time.
	BeforeRun func(*PurgeOptions)
	// Interval is the mean time between runs; 0 disables the loop.
	Interval time.Duration
	// Jitter spreads the runs: each wait is drawn uniformly from
	// Interval × [1-Jitter, 1+Jitter], so that servers started together do
	// not purge together. 0 to 1.
	Jitter float64
	// Logger receives one line per run; nil means slog.Default().
	Logger *slog.Logger
	// Progress, when set, is told of each batch a run commits (see
	// PurgeProgress), and Ran of each run's end, with its totals and its
	// error (nil when it completed): for a server's metrics.
	Progress func(PurgeProgress)
	Ran      func(PurgeResult, error)
}

// RunPurgeLoop runs Purge every opts.Interval (jittered) until ctx is
// canceled, logging what each run deleted; a failed run is logged and the
// next one tried at the next interval. The first run comes after one
// interval, not at once, so that a restarting fleet does not purge in step.
// It returns nil when ctx is canceled or Interval is 0, and an error only for
// invalid options, before any run.
func RunPurgeLoop(ctx context.Context, db PurgeDB, opts PurgeLoopOptions) error {
	switch {
	case opts.Interval < 0:
		return fmt.Errorf("purge loop: Interval is %v, want 0 (off) or a positive duration", opts.Interval)
	case opts.Jitter < 0 || opts.Jitter > 1:
		return fmt.Errorf("purge loop: Jitter is %v, want 0 to 1", opts.Jitter)
	case opts.Interval == 0:
		return nil
	}
	if err := opts.Purge.validate(); err != nil {
		return err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	timer := time.NewTimer(jittered(opts.Interval, opts.Jitter))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		began := time.Now()
		run := opts.Purge
		if opts.BeforeRun != nil {
			opts.BeforeRun(&run)
		}
		res, err := Purge(ctx, db, run, opts.Progress)
		if opts.Ran != nil {
			opts.Ran(res, err)
		}
		attrs := []any{
			"expired_sessions", res.ExpiredSessions, "revoked_sessions", res.RevokedSessions, "idle_sessions", res.IdleSessions,
			"events", res.Events, "logouts", res.Logouts, "batches", res.Batches, "duration", time.Since(began).Round(time.Millisecond),
		}
		switch {
		case err != nil && ctx.Err() != nil:
			log.Info("purge interrupted by shutdown", attrs...)
			return nil
		case err != nil:
			log.Error("purge failed; deleted rows stay deleted, the next run continues", append(attrs, "err", err)...)
		case res.Total() > 0:
			log.Info("purged old sessions and events", attrs...)
		default:
			log.Debug("purge found nothing to delete", attrs...)
		}
		timer.Reset(jittered(opts.Interval, opts.Jitter))
	}
}

// jittered returns d scaled by a random factor in [1-jitter, 1+jitter].
func jittered(d time.Duration, jitter float64) time.Duration {
	return time.Duration(float64(d) * (1 + jitter*(2*rand.Float64()-1)))
}
