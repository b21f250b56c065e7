// Package outage keeps a server calm while its database is unreachable.
//
// Without it, every request that finds no connection in the pool dials the
// database itself: under load a five-second outage meant about 20,000 dials
// a second and an ERROR line per request. A Guard installed in the pool's
// configuration lets every connection attempt through while the database
// is up. Once an attempt fails, or a request fails in a way that says the
// database is gone, the Guard is down: new connections are refused at once,
// without a dial, except one attempt per backoff step (50 ms doubling to
// 500 ms), shared by all requests. The first connection that succeeds ends
// the outage. Requests meanwhile get their answer (503) at once.
//
// The Guard logs the outage's start, a summary at most every five seconds
// while it lasts, and its end; the requests it failed are counted in those
// lines, not logged one by one.
//
// Only a new connection ends an outage. An error on one existing connection
// (a backend terminated by an admin) puts the Guard down too; while the pool
// needs no new connection it stays down, which costs nothing but a slower
// growth of the pool (one connection per backoff step), and the first new
// connection ends it. A hook on every successful query would end it sooner,
// at a cost on every request.
package outage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrUnavailable is the error of a connection the Guard refused to attempt.
var ErrUnavailable = errors.New("the database is unavailable (waiting to retry the connection)")

// Backoff of connection attempts while down, and how often a summary is
// logged. maxRetry keeps the first 200 within a second of the database
// accepting connections again.
const (
	firstRetry   = 50 * time.Millisecond
	maxRetry     = 500 * time.Millisecond
	summaryEvery = 5 * time.Second
)

// Guard is the state of the database as the server sees it. Create it with
// New; it is safe for concurrent use.
type Guard struct {
	log *slog.Logger
	now func() time.Time // time.Now; a test's clock in the package's tests

	mu          sync.Mutex
	down        bool
	since       time.Time // start of the outage
	nextAttempt time.Time // when the next connection attempt may start
	backoff     time.Duration
	lastSummary time.Time
	// Counts since the last line logged, and over the whole outage.
	failed, attempts           int
	failedTotal, attemptsTotal int
	// Since New: how many outages began, and the time spent down in those
	// that ended.
	outages   int64
	downEnded time.Duration
}

// New returns a Guard that logs to log, in the up state.
func New(log *slog.Logger) *Guard {
	return &Guard{log: log, now: time.Now}
}

// Install makes every connection the pool of cfg opens pass through g. Call
// it before pgxpool.NewWithConfig; hooks cfg already has still run.
func (g *Guard) Install(cfg *pgxpool.Config) {
	before, after := cfg.BeforeConnect, cfg.AfterConnect
	cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
		if err := g.Admit(); err != nil {
			return err
		}
		if before != nil {
			return before(ctx, cc)
		}
		return nil
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if after != nil {
			if err := after(ctx, c); err != nil {
				return err
			}
		}
		g.Connected()
		return nil
	}
	cfg.ConnConfig.DialFunc = g.dialer(cfg.ConnConfig.DialFunc, len(cfg.ConnConfig.Fallbacks) > 0)
}

// Dial wraps dial so that a failed dial puts g down, and a connection to
// itself fails: with the database's port in the ephemeral range and nothing
// listening there, a dial can be given that very port as its own, connect
// to itself, and keep the database from binding its port when it restarts.
//
// With several servers to try (a URL listing hosts), a failed dial is not
// an outage: after a failover each new connection tries the old primary
// first and connects to the next one. Only the whole attempt failing is:
// the request that asked for the connection tells Failed.
func (g *Guard) Dial(dial pgconn.DialFunc) pgconn.DialFunc {
	return g.dialer(dial, false)
}

func (g *Guard) dialer(dial pgconn.DialFunc, severalHosts bool) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err == nil && network == "tcp" && conn.LocalAddr().String() == conn.RemoteAddr().String() {
			conn.Close()
			err = fmt.Errorf("dial %s: connected to itself: nothing listens on that port", addr)
		}
		if err != nil && !severalHosts {
			g.fail(err)
		}
		return conn, err
	}
}

// Admit is asked before a connection attempt: nil while up, and while down
// once per backoff step; ErrUnavailable otherwise.
func (g *Guard) Admit() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.down {
		return nil
	}
	now := g.now()
	if now.Before(g.nextAttempt) {
		g.summarizeLocked(now)
		return ErrUnavailable
	}
	g.attempts++
	g.attemptsTotal++
	g.nextAttempt = now.Add(g.backoff)
	g.backoff = min(2*g.backoff, maxRetry)
	return nil
}

// Connected is told of every connection made: it ends an outage.
func (g *Guard) Connected() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.down {
		return
	}
	g.down = false
	downFor := g.now().Sub(g.since)
	g.downEnded += downFor
	g.log.Info("database available again", "down_for", downFor.Round(time.Millisecond),
		"requests_failed", g.failedTotal, "connection_attempts", g.attemptsTotal)
}

// Failed is told of an error of the database's; it reports whether err
// says the database is unreachable, in which case g is down (if it was not
// already) and counts err in its log lines, so the caller need not log it.
func (g *Guard) Failed(err error) bool {
	if !IsUnavailable(err) {
		return false
	}
	g.fail(err)
	return true
}

// fail puts g down for err, if it was not already, and counts err.
func (g *Guard) fail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if !g.down {
		g.down, g.since, g.lastSummary = true, now, now
		g.outages++
		g.backoff, g.nextAttempt = firstRetry, now.Add(firstRetry)
		g.failed, g.attempts, g.failedTotal, g.attemptsTotal = 0, 0, 0, 0
		g.log.Error("database unavailable: answering 503 and retrying the connection with backoff", "err", err)
	}
	g.failed++
	g.failedTotal++
	g.summarizeLocked(now)
}

// Down reports whether g is down.
func (g *Guard) Down() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.down
}

// Stats are a Guard's state and history, for metrics.
type Stats struct {
	// Down is true during an outage, and DownFor how long it has lasted.
	Down    bool
	DownFor time.Duration
	// Outages counts the outages that began since New, and TotalDown is
	// the time spent down since, the current outage included.
	Outages   int64
	TotalDown time.Duration
}

// Stats returns g's state and history.
func (g *Guard) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := Stats{Down: g.down, Outages: g.outages, TotalDown: g.downEnded}
	if g.down {
		st.DownFor = g.now().Sub(g.since)
		st.TotalDown += st.DownFor
	}
	return st
}

func (g *Guard) summarizeLocked(now time.Time) {
	if now.Sub(g.lastSummary) < summaryEvery {
		return
	}
	g.log.Warn("database still unavailable", "down_for", now.Sub(g.since).Round(time.Second),
		"requests_failed", g.failed, "connection_attempts", g.attempts)
	g.lastSummary, g.failed, g.attempts = now, 0, 0
}

// IsUnavailable reports whether err says the database cannot be reached or
// is not accepting work: a refused or failed connection, a connection cut,
// or a server shutting down or starting up.
//
// A wait that ran out of time on a connection that works is not an outage:
// a statement waiting for a lock (a CREATE INDEX holds one on the table for
// as long as it runs), for a lock_timeout or statement_timeout, or for a
// connection of a busy pool ends with the deadline of its context, a lock
// or cancel error; counting it as an outage would refuse every request
// while the database answers. A connection attempt that timed out is one.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, ErrUnavailable), errors.As(err, &connectErr):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// context.DeadlineExceeded is a net.Error too.
		return false
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case errors.As(err, &pgErr):
		// 08: connection exception; 57P01-57P03: shutting down, crashed,
		// starting up; 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	// pgx reports a connection it found closed in words only.
	return strings.Contains(err.Error(), "conn closed")
}
