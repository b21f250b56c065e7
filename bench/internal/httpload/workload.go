package httpload

import (
	"context"
	"fmt"
	"time"
)

// Workload is one kind of request and the latencies measured for it.
type Workload struct {
	Name      string
	Op        func(ctx context.Context, i int) error
	Latencies []time.Duration
}

// Stats summarises the workload's latencies, measured over d in all.
func (w *Workload) Stats(d time.Duration) Stats {
	return Summarize(w.Latencies, d)
}

// Warm runs each workload, unmeasured, for d at concurrency.
func Warm(ctx context.Context, workloads []Workload, concurrency int, d time.Duration) error {
	for _, w := range workloads {
		if _, err := (Load{Concurrency: concurrency, Duration: d}).Run(ctx, w.Op); err != nil {
			return fmt.Errorf("%s: %w", w.Name, err)
		}
	}
	return nil
}

// Round runs the workloads in turn, in reverse order when reverse is set,
// each for d at concurrency, and appends the latencies to each. Rounds of
// short runs, rather than one long run of each, make whatever else the
// machine does in the meantime weigh on all of them alike.
func Round(ctx context.Context, workloads []Workload, concurrency int, d time.Duration, reverse bool) error {
	for j := range workloads {
		i := j
		if reverse {
			i = len(workloads) - 1 - j
		}
		latencies, err := (Load{Concurrency: concurrency, Duration: d}).Run(ctx, workloads[i].Op)
		if err != nil {
			return fmt.Errorf("%s: %w", workloads[i].Name, err)
		}
		workloads[i].Latencies = append(workloads[i].Latencies, latencies...)
	}
	return nil
}

// Rounds say how Measure runs workloads.
type Rounds struct {
	Concurrency int
	// Warmup is each workload's unmeasured run before the first round.
	Warmup time.Duration
	// Count rounds, in each of which every workload runs for Slice.
	Count int
	Slice time.Duration
	// Alternate runs every other round in reverse order, since a workload
	// run right after another kind can measure slower.
	Alternate bool
}

// Measure warms each workload up, then runs them in r.Count rounds.
func (r Rounds) Measure(ctx context.Context, workloads []Workload) error {
	if err := Warm(ctx, workloads, r.Concurrency, r.Warmup); err != nil {
		return err
	}
	for round := range r.Count {
		if err := Round(ctx, workloads, r.Concurrency, r.Slice, r.Alternate && round%2 == 1); err != nil {
			return err
		}
	}
	return nil
}
