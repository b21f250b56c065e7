// Package httpload drives auth-session's HTTP interface from the benchmark
// programs: the server started in this process on a loopback port, a lean
// keep-alive client, a load of concurrent clients that records the
// latency of every request, and workloads measured in interleaved rounds.
package httpload

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/pkg/server"
)

// StartServer serves the HTTP interface over pool on a free loopback port,
// logging every request to a temporary file as serve logs to stderr, with
// at most maxLookups session lookup statements at once (0: the server's
// default), and the configuration configure changes. stop shuts the server
// down and removes the log.
func StartServer(ctx context.Context, pool *pgxpool.Pool, maxLookups int, configure ...func(*server.Config)) (addr string, stop func(), err error) {
	logFile, err := os.CreateTemp("", "auth-session-bench-*.log")
	if err != nil {
		return "", nil, err
	}
	removeLog := func() {
		logFile.Close()
		os.Remove(logFile.Name())
	}
	cfg := server.Config{Pool: pool, Log: slog.New(slog.NewTextHandler(logFile, nil)),
		InsecureCookies: true, MaxConcurrentLookups: maxLookups}
	for _, c := range configure {
		c(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		removeLog()
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		removeLog()
		return "", nil, err
	}
	serveCtx, stopServing := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, ln) }()
	return ln.Addr().String(), func() {
		stopServing()
		<-served
		removeLog()
	}, nil
}

// Load says how to run a load.
type Load struct {
	// Concurrency is how many goroutines send requests.
	Concurrency int
	// Duration is how long the load runs at most.
	Duration time.Duration
	// Stop, when not nil, ends the load early once closed.
	Stop <-chan struct{}
	// Rate, when positive, paces the load at about this many requests per
	// second in all, spread evenly over the goroutines; a request sent late
	// because the one before it was slow counts from when it was due, so a
	// stall shows in every request it delayed. 0 runs a closed
	// loop: each goroutine sends its next request when the last returns.
	Rate float64
}

// Run runs op from l.Concurrency goroutines, goroutine g calling it with
// i = g, g+Concurrency, g+2·Concurrency, ..., and returns every latency.
// The first error of op ends the load and is returned.
func (l Load) Run(ctx context.Context, op func(ctx context.Context, i int) error) ([]time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	deadline := start.Add(l.Duration)
	var gap time.Duration
	if l.Rate > 0 {
		gap = time.Duration(float64(time.Second) * float64(l.Concurrency) / l.Rate)
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		all []time.Duration
	)
	for g := range l.Concurrency {
		wg.Go(func() {
			var mine []time.Duration
			// Paced goroutines start spread over one gap, not together.
			due := start.Add(gap * time.Duration(g) / time.Duration(l.Concurrency))
			for i := g; ctx.Err() == nil && !stopped(l.Stop); i += l.Concurrency {
				now := time.Now()
				if gap > 0 {
					// A request sent late counts from when it was due; one
					// sent on time from when it was sent, since the sleep's
					// overshoot is the client's, not the server's.
					if wait := due.Sub(now); wait > 0 {
						time.Sleep(wait)
						now = time.Now()
					} else {
						now = due
					}
					due = due.Add(gap)
				}
				if now.After(deadline) {
					break
				}
				if err := op(ctx, i); err != nil {
					cancel(err)
					return
				}
				mine = append(mine, time.Since(now))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, errors.New("no request completed")
	}
	return all, nil
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// Stats summarise the latencies of a measurement.
type Stats struct {
	// Requests is how many requests were measured.
	Requests int
	// Rate is requests per second over the measurement's length.
	Rate     float64
	P50, P99 time.Duration
}

// Summarize sorts latencies, measured over d, and summarises them.
func Summarize(latencies []time.Duration, d time.Duration) Stats {
	slices.Sort(latencies)
	return Stats{
		Requests: len(latencies),
		Rate:     float64(len(latencies)) / d.Seconds(),
		P50:      latencies[len(latencies)/2],
		P99:      latencies[len(latencies)*99/100],
	}
}
