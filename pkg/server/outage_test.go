package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/sqltest"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/outage"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// loadResult is what the load saw, by status, and when it first got a 200
// after a moment the test sets.
type loadResult struct {
	mu        sync.Mutex
	byStatus  map[int]int
	errors    int
	after     time.Time // set by the test; zero until then
	first200  time.Time
	statusLog []string
}

func (l *loadResult) record(status int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errors++
		return
	}
	l.byStatus[status]++
	if status == 200 && !l.after.IsZero() && l.first200.IsZero() {
		l.first200 = time.Now()
	}
}

// TestOutageUnderLoad stops PostgreSQL for six seconds while clients keep
// calling whoami, then starts it again on the same port, and checks the
// bounds of issue "calm during a database outage": 503s at once and no
// other errors, a few connection attempts a second (counted by the test's
// own dialer, beneath the server's), a few log lines, and 200s again from
// the first connection attempt after the database accepts connections (that
// one comes within 500 ms: TestAdmitBacksOff in pkg/outage).
func TestOutageUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and restarts a PostgreSQL of its own for 6 s")
	}
	// Its PostgreSQL and its pool are its own, and it asserts no seconds:
	// the other tests may run during its outage.
	t.Parallel()
	ctx := context.Background()
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{StopWithProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Remove() }) //nolint:errcheck
	dbURL := cluster.SuperURL("postgres")

	poolCfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// Dials counted, and those that ended after the restart counted apart.
	var dials, dialsBack, failedBack atomic.Int64
	var back atomic.Bool
	dial := poolCfg.ConnConfig.DialFunc
	poolCfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		conn, err := dial(ctx, network, addr)
		if back.Load() {
			dialsBack.Add(1)
			if err != nil {
				failedBack.Add(1)
			}
		}
		return conn, err
	}
	poolCfg.ConnConfig.ConnectTimeout = 2 * time.Second
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	guard := outage.New(log)
	guard.Install(poolCfg)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := sql.Migrate(ctx, pool, sql.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	session, err := sql.NewStore(pool).Login(ctx, sql.NewSession{Username: cluster.SuperUser,
		HashedSecret: auth.HashSecret(secret), ExpireAfter: time.Hour}, sql.Actor{}, sql.LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cookie := auth.EncodeValue(session.ID, secret)

	srv, err := server.New(server.Config{Pool: pool, Log: log, Outage: guard})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	res := &loadResult{byStatus: map[int]int{}}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var load sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}
	for range 8 {
		load.Go(func() {
			for loadCtx.Err() == nil {
				req, _ := http.NewRequestWithContext(loadCtx, "GET", ts.URL+"/api/v2/whoami", nil)
				req.Header.Set(auth.HeaderName, cookie)
				resp, err := client.Do(req)
				if loadCtx.Err() != nil {
					return
				}
				if err == nil {
					io.Copy(io.Discard, resp.Body) //nolint:errcheck
					resp.Body.Close()
					res.record(resp.StatusCode, nil)
				} else {
					res.record(0, err)
				}
			}
		})
	}
	t.Cleanup(func() { stopLoad(); load.Wait() })

	// Some 200s before the outage; the deadline is only against a hang.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		res.mu.Lock()
		warm := res.byStatus[200]
		res.mu.Unlock()
		if warm >= 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d 200s in 30 s before the outage; want 100", warm)
		}
	}
	dialsAtStop := dials.Load()
	logsAtStop := len(logs.String())
	stopped := time.Now()
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	// Longer than the 5 s between the guard's summaries, so that one is
	// logged and counted; the backoff reaches its 500 ms in under a second.
	const outageFor = 6 * time.Second
	time.Sleep(outageFor)

	restarted, err := pgcluster.Start(ctx, pgcluster.Options{Dir: cluster.Dir, Port: cluster.Port, StopWithProcess: true})
	if err != nil {
		t.Fatalf("restart PostgreSQL on port %d: %v", cluster.Port, err)
	}
	t.Cleanup(func() { restarted.Stop() }) //nolint:errcheck
	accepting := time.Now()
	back.Store(true)
	res.mu.Lock()
	res.after = accepting
	res.mu.Unlock()
	outageDials := dials.Load() - dialsAtStop
	down := accepting.Sub(stopped)

	// Only against a hang: what is asserted is what happened.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res.mu.Lock()
		done := !res.first200.IsZero()
		res.mu.Unlock()
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	stopLoad()
	load.Wait()

	res.mu.Lock()
	defer res.mu.Unlock()
	outageLogs := logs.String()[logsAtStop:]
	var errorLines, otherLines, accessLines int // accessLines: requests answered 503
	for _, line := range strings.Split(strings.TrimSpace(outageLogs), "\n") {
		switch {
		case strings.Contains(line, `msg="http request"`):
			if strings.Contains(line, "status=503") {
				accessLines++
			}
		case strings.Contains(line, "level=ERROR"):
			errorLines++
		default:
			otherLines++
		}
	}
	perSecond := float64(outageDials) / down.Seconds()
	t.Logf("lines logged other than requests:\n%s", nonRequestLines(outageLogs))
	t.Logf("outage of %s: %d connection attempts (%.1f/s), %d ERROR lines, %d other lines, %d request lines; statuses %v, %d client errors",
		down.Round(time.Millisecond), outageDials, perSecond, errorLines, otherLines, accessLines, res.byStatus, res.errors)
	if res.first200.IsZero() {
		t.Fatalf("no 200 within 30 s of the database accepting connections again; logs:\n%s", outageLogs)
	}
	recovery := res.first200.Sub(accepting)
	t.Logf("first 200 %s after the database accepted connections, %d connection attempts ended since (%d failed)",
		recovery.Round(time.Millisecond), dialsBack.Load(), failedBack.Load())

	for status, n := range res.byStatus {
		if status != 200 && status != 503 {
			t.Errorf("%d responses with status %d; want only 200 and 503", n, status)
		}
	}
	if res.errors > 0 {
		t.Errorf("%d requests failed without a response", res.errors)
	}
	if res.byStatus[503] == 0 {
		t.Errorf("no 503 during the outage: %v", res.byStatus)
	}
	// Backoff from 50 ms to 500 ms makes about 2 a second, after the burst
	// of the pool's connections failing at once.
	if maxDials := int64(3*down.Seconds()) + int64(poolCfg.MaxConns); outageDials > maxDials {
		t.Errorf("%d connection attempts in %s of outage, want at most %d", outageDials, down.Round(time.Millisecond), maxDials)
	}
	// The start and at most one summary per 5 s, and the end.
	if maxLines := 2 + int(down/(5*time.Second)) + 1; errorLines != 1 || errorLines+otherLines > maxLines {
		t.Errorf("%d ERROR and %d other lines logged during the outage, want 1 and at most %d in all:\n%s",
			errorLines, otherLines, maxLines, outageLogs)
	}
	if accessLines > 2*int(poolCfg.MaxConns) {
		t.Errorf("%d request lines logged during the outage, want its 503s counted, not logged", accessLines)
	}
	// Once the database accepts connections, the next attempt connects and
	// ends the outage: nothing left over from the outage fails once more.
	if n := failedBack.Load(); n > 0 {
		t.Errorf("%d of %d connection attempts that ended after the database accepted connections failed; want none",
			n, dialsBack.Load())
	}
	if !strings.Contains(outageLogs, "database available again") {
		t.Errorf("the end of the outage was not logged:\n%s", outageLogs)
	}
}

func nonRequestLines(logs string) string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if line != "" && !strings.Contains(line, `msg="http request"`) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestDeadFirstHostIsNoOutage: with a URL listing two servers, the first
// gone (as after a failover), each new connection tries the dead one first
// and then connects to the other. That is a connection made, not an
// outage: no request is refused and nothing is logged as unavailable.
func TestDeadFirstHostIsNoOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	migrated := sqltest.Migrated.NewPool(t)
	poolCfg, err := pgxpool.ParseConfig(migrated.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: the old primary.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cc := poolCfg.ConnConfig
	cc.Fallbacks = append([]*pgconn.FallbackConfig{{Host: cc.Host, Port: cc.Port, TLSConfig: cc.TLSConfig}}, cc.Fallbacks...)
	cc.Host, cc.Port = "127.0.0.1", deadPort
	poolCfg.MaxConns = 8
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	guard := outage.New(log)
	guard.Install(poolCfg)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	session, err := sql.NewStore(migrated).Login(ctx, sql.NewSession{Username: "postgres",
		HashedSecret: auth.HashSecret(secret), ExpireAfter: time.Hour}, sql.Actor{}, sql.LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cookie := auth.EncodeValue(session.ID, secret)
	srv, err := server.New(server.Config{Pool: pool, Log: log, Outage: guard})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	// Bursts, the pool's connections closed before each: every new
	// connection dials the dead server first.
	var mu sync.Mutex
	byStatus := map[int]int{}
	var burst sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for i := range 64 {
		if i%16 == 0 {
			burst.Wait()
			pool.Reset()
		}
		burst.Go(func() {
			for range 10 {
				req, _ := http.NewRequest("GET", ts.URL+"/api/v2/whoami", nil)
				req.Header.Set(auth.HeaderName, cookie)
				status := 0
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body) //nolint:errcheck
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				byStatus[status]++
				mu.Unlock()
			}
		})
	}
	burst.Wait()
	if byStatus[200] != 640 {
		t.Errorf("answers by status %v; want 640 200s", byStatus)
	}
	if strings.Contains(logs.String(), "unavailable") {
		t.Errorf("a dead first server was logged as an outage:\n%s", nonRequestLines(logs.String()))
	}
}
