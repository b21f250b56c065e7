package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// countedServers are servers over one database, each with a pool of its
// own, as several serve processes are; dials counts every connection
// attempt to the database, the pools' own and the password checks'.
type countedServers struct {
	urls  []string
	pools []*pgxpool.Pool
	dials atomic.Int64
}

func newCountedServers(t *testing.T, n int, limits sql.LoginLimits) *countedServers {
	t.Helper()
	ctx := context.Background()
	dbURL := pgtest.NewDB(t)
	c := &countedServers{}
	for range n {
		cfg, err := pgxpool.ParseConfig(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		// The password checker copies the pool's connection settings,
		// this dialer with them.
		dial := cfg.ConnConfig.DialFunc
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.dials.Add(1)
			return dial(ctx, network, addr)
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if _, err := sql.Migrate(ctx, pool, sql.MigrateOptions{}); err != nil {
			t.Fatal(err)
		}
		srvCfg := server.Config{Pool: pool, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		pinLimits(&srvCfg, limits)
		srv, err := server.New(srvCfg)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(ts.Close)
		c.urls, c.pools = append(c.urls, ts.URL), append(c.pools, pool)
	}
	return c
}

// checkerDials is the connection attempts made other than the pools' own:
// those of the password checks.
func (c *countedServers) checkerDials() int64 {
	n := c.dials.Load()
	for _, p := range c.pools {
		n -= p.Stat().NewConnsCount()
	}
	return n
}

// TestLoginBurstIsThrottled sends 300 wrong passwords for one user from one
// address all at once, through two servers over one database, with the
// right password among them: at most the limit's password checks may reach
// PostgreSQL, and once the limit is reached the right password is refused.
func TestLoginBurstIsThrottled(t *testing.T) {
	t.Parallel()
	limits := defaultPolicy(t).LoginLimits
	c := newCountedServers(t, 2, limits)
	f := &fixture{pool: c.pools[0]}
	user := f.newRole(t, "right-pw")
	dialsBefore := c.checkerDials()

	const burst = 300
	statuses := make([]int, burst+1)
	var wg sync.WaitGroup
	for i := range burst + 1 {
		password := "wrong"
		if i == burst/2 {
			password = "right-pw"
		}
		wg.Go(func() {
			r, err := tryLoginFrom("127.0.0.1", c.urls[i%2], user, password)
			if err != nil {
				t.Error(err)
			}
			statuses[i] = r.status
		})
	}
	wg.Wait()

	byStatus := map[int]int{}
	for _, s := range statuses {
		byStatus[s]++
	}
	var failed, created int
	err := f.pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE event = 'login.failed'),
    count(*) FILTER (WHERE event = 'session.created') FROM system.session_events`).Scan(&failed, &created)
	if err != nil {
		t.Fatal(err)
	}
	dials := c.checkerDials() - dialsBefore
	t.Logf("burst of %d: statuses %v; %d login.failed and %d session.created events; %d connection attempts by the password checker",
		burst+1, byStatus, failed, created, dials)
	// A check that made a session gives its place back (a right password
	// is no guess, and an office behind one address must not throttle
	// itself by logging in): so the bound is on the failed checks, and the
	// right password, when checked before the limit was reached, is one
	// more.
	if failed > limits.PerUserAddress || created > 1 {
		t.Errorf("%d password checks recorded (%d failed, %d succeeded), want at most %d failed and 1 succeeded", failed+created, failed, created, limits.PerUserAddress)
	}
	// A right password costs two connections: it, then a random one that
	// must fail.
	if maxDials := int64(failed + 2*created); dials > maxDials {
		t.Errorf("%d connection attempts by the password checker, want at most %d", dials, maxDials)
	}
	if byStatus[401] != failed || byStatus[200] != created || byStatus[429] != burst+1-failed-created {
		t.Errorf("statuses %v; want a 401 per failure, a 200 per session and 429 for the rest", byStatus)
	}
	// The right password, checked while the wrong ones held places and
	// then giving its own back, can leave the count one short of the
	// limit: then the next attempt is checked, as it should be.
	want := http.StatusTooManyRequests
	if failed < limits.PerUserAddress {
		want = http.StatusOK
	}
	if r := loginFrom(t, "127.0.0.1", c.urls[1], user, "right-pw"); r.status != want {
		t.Errorf("the right password after the burst (%d failures counted): %d %s, want %d", failed, r.status, r.body, want)
	}
}

// TestThrottledFloodIsBounded sends 200 throttled attempts from 4 clients at
// once: the audit trail records them as one login.throttled row for the
// address that counts them, not a row each.
func TestThrottledFloodIsBounded(t *testing.T) {
	t.Parallel()
	limits := sql.LoginLimits{PerUserAddress: 2, PerAddress: 100, Window: time.Minute}
	f := newFixture(t, func(c *server.Config) { pinLimits(c, limits) })
	user := f.newRole(t, "right-pw")
	for range limits.PerUserAddress {
		if r := loginFrom(t, "127.0.0.1", f.url, user, "wrong"); r.status != 401 {
			t.Fatalf("wrong password: %d, want 401", r.status)
		}
	}
	const clients, each = 4, 50
	var wg sync.WaitGroup
	var other atomic.Int64
	for range clients {
		wg.Go(func() {
			for range each {
				if r, err := tryLoginFrom("127.0.0.1", f.url, user, "guess"); err != nil || r.status != 429 {
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if other.Load() != 0 {
		t.Errorf("%d of %d throttled attempts not answered 429", other.Load(), clients*each)
	}
	events, attempts := waitThrottled(t, f.pool, clients*each)
	var rows int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM system.session_events`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d throttled attempts: %d events in all, %d of them login.throttled, counting %d attempts", clients*each, rows, events, attempts)
	if events != 1 || rows != limits.PerUserAddress+1 || attempts != clients*each {
		t.Errorf("%d login.throttled events counting %d attempts, %d events in all; want one login.throttled row counting %d besides the %d login.failed",
			events, attempts, rows, clients*each, limits.PerUserAddress)
	}
}
