package server_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// serveOn runs srv on ln, as serve does, until the test ends, and returns
// its base URL; Serve must then return nil.
func serveOn(t *testing.T, srv *server.Server, ln net.Listener) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel: %v; want nil", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// scrape is what one GET of the metrics endpoint returned, by metric name.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics GETs url, as Prometheus does, and parses the text format.
func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s; want 200 in the text format", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return families
}

// value sums the series of name whose labels include labels (name, value
// pairs): a counter's or gauge's value, a histogram's count. A series not
// exported yet counts 0.
func (s scrape) value(name string, labels ...string) float64 {
	family := s[name]
	if family == nil {
		return 0
	}
	var sum float64
	for _, m := range family.Metric {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.Label {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// moved is what one series is expected to have moved by.
type moved struct {
	name   string
	labels []string
	by     float64
}

func wantMoved(t *testing.T, before, after scrape, want []moved) {
	t.Helper()
	for _, w := range want {
		if got := after.value(w.name, w.labels...) - before.value(w.name, w.labels...); got != w.by {
			t.Errorf("%s%v moved by %v, want %v", w.name, w.labels, got, w.by)
		}
	}
}

// sessionID is the id a session value carries.
func sessionID(t *testing.T, value string) int64 {
	t.Helper()
	id, _, err := auth.DecodeValue(value)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestMetricsCountAScriptedSequence runs a real server and scrapes its
// /metrics with a real GET before and after logins of every outcome it can
// be led to, whoami with sessions of every check outcome, revocations by
// the session limit and by their owner, and a request no route answers:
// each series moves by what the sequence did, no more. Then the background
// purge deletes one session, and its counters say so.
func TestMetricsCountAScriptedSequence(t *testing.T) {
	t.Parallel()
	f, srv := newFixtureServer(t, func(c *server.Config) {
		pin(c, sql.SettingMaxSessionsPerUser, "2")
		pin(c, sql.SettingIdleTimeout, "1h")
		pinLimits(c, sql.LoginLimits{PerUserAddress: 2, PerAddress: 100, Window: 15 * time.Minute})
		c.Purge = &sql.PurgeLoopOptions{Interval: 20 * time.Millisecond,
			Purge: sql.PurgeOptions{OlderThan: time.Hour, Batch: sql.BackgroundPurgeBatch}}
	})
	f.url = serveOn(t, srv, listenLoopback(t))
	metricsURL := f.url + server.MetricsPath
	alice, bob, guesser, locked := f.newRole(t, "pw-a"), f.newRole(t, "pw-b"), f.newRole(t, "pw-g"), f.newRole(t, "pw-l")
	_, err := sql.NewStore(f.pool).Revoke(context.Background(), sql.OfUsers(locked),
		sql.RevokeOptions{By: sql.Actor{Name: "test", Via: "cli"}, Lock: &sql.LockSpec{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := scrapeMetrics(t, metricsURL)

	login := func(user, password string, want int) string {
		t.Helper()
		r := f.login(t, loginForm(user, password))
		if r.status != want {
			t.Fatalf("login as %s: %d %s; want %d", user, r.status, r.body, want)
		}
		if want != http.StatusOK {
			return ""
		}
		return r.json(t)["session"]
	}
	whoami := func(what, value string, want int) {
		t.Helper()
		var r response
		if value == "" {
			r = f.do(t, http.MethodGet, "/api/v2/whoami", nil)
		} else {
			r = f.whoami(t, value)
		}
		if r.status != want {
			t.Errorf("whoami with %s: %d %s; want %d", what, r.status, r.body, want)
		}
	}

	first := login(alice, "pw-a", http.StatusOK)
	expiring := login(alice, "pw-a", http.StatusOK)
	// The third of alice's sessions revokes her least recently used.
	current := login(alice, "pw-a", http.StatusOK)
	login(guesser, "wrong", http.StatusUnauthorized)
	login(guesser, "wrong again", http.StatusUnauthorized)
	login(guesser, "pw-g", http.StatusTooManyRequests)
	idle := login(bob, "pw-b", http.StatusOK)
	login(locked, "pw-l", http.StatusUnauthorized)

	whoami("a valid session", current, http.StatusOK)
	whoami("a session the limit revoked", first, http.StatusUnauthorized)
	whoami("no session", "", http.StatusUnauthorized)
	whoami("a malformed value", "garbage", http.StatusUnauthorized)
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	whoami("an unknown id", auth.EncodeValue(123456789, secret), http.StatusUnauthorized)
	whoami("a wrong secret", auth.EncodeValue(sessionID(t, current), secret), http.StatusUnauthorized)
	f.mustExec(t, "UPDATE system.web_sessions SET expires_at = now() - interval '1 second' WHERE id = $1", sessionID(t, expiring))
	whoami("an expired session", expiring, http.StatusUnauthorized)
	// Idle for the timeout (1h), not for the timeout plus the purge's
	// older-than (2h): at two hours the background purge, every 20 ms,
	// could delete the session before the next whoami, which then counted
	// it unknown instead of role_invalid.
	f.mustExec(t, "UPDATE system.web_sessions SET last_used_at = now() - interval '90 minutes' WHERE id = $1", sessionID(t, idle))
	whoami("an idle session", idle, http.StatusUnauthorized)
	f.mustExec(t, "UPDATE system.web_sessions SET last_used_at = now() WHERE id = $1", sessionID(t, idle))
	f.mustExec(t, "ALTER ROLE "+bob+" NOLOGIN")
	whoami("a session of a NOLOGIN role", idle, http.StatusUnauthorized)

	r := f.do(t, http.MethodDelete, "/api/v1/auth/sessions/"+strconv.FormatInt(sessionID(t, current), 10), nil,
		"Cookie", auth.CookieName+"="+current, "X-Requested-With", "test")
	if r.status != http.StatusOK {
		t.Fatalf("revoke own session: %d %s", r.status, r.body)
	}
	whoami("a session its owner revoked", current, http.StatusUnauthorized)
	if r := f.do(t, http.MethodGet, "/no/such/route/12345", nil); r.status != http.StatusNotFound {
		t.Errorf("an unknown path: %d, want 404", r.status)
	}

	after := scrapeMetrics(t, metricsURL)
	const whoamiRoute = "GET /api/v2/whoami"
	const loginRoute = "POST /api/v2/login/{$}"
	wantMoved(t, before, after, []moved{
		{"auth_session_logins_total", []string{"outcome", "ok"}, 4},
		{"auth_session_logins_total", []string{"outcome", "wrong_password"}, 2},
		{"auth_session_logins_total", []string{"outcome", "throttled"}, 1},
		{"auth_session_logins_total", []string{"outcome", "locked"}, 1},
		{"auth_session_logins_total", []string{"outcome", "refused"}, 0},
		{"auth_session_logins_total", nil, 8},

		// The valid ones: the whoami and the revocation's own check.
		{"auth_session_session_checks_total", []string{"outcome", "valid"}, 2},
		{"auth_session_session_checks_total", []string{"outcome", "revoked"}, 2},
		{"auth_session_session_checks_total", []string{"outcome", "absent"}, 1},
		{"auth_session_session_checks_total", []string{"outcome", "malformed"}, 1},
		{"auth_session_session_checks_total", []string{"outcome", "unknown"}, 1},
		{"auth_session_session_checks_total", []string{"outcome", "wrong_secret"}, 1},
		{"auth_session_session_checks_total", []string{"outcome", "expired"}, 1},
		{"auth_session_session_checks_total", []string{"outcome", "idle"}, 1},
		{"auth_session_session_checks_total", []string{"outcome", "role_invalid"}, 1},
		{"auth_session_session_checks_total", []string{"outcome", "unavailable"}, 0},
		{"auth_session_session_checks_total", nil, 11},

		{"auth_session_sessions_revoked_total", []string{"path", "session_limit"}, 1},
		{"auth_session_sessions_revoked_total", []string{"path", "own_session"}, 1},
		{"auth_session_sessions_revoked_total", nil, 2},

		{"auth_session_http_requests_total", []string{"route", whoamiRoute, "status", "200"}, 1},
		{"auth_session_http_requests_total", []string{"route", whoamiRoute, "status", "401"}, 9},
		{"auth_session_http_request_duration_seconds", []string{"route", whoamiRoute}, 10},
		{"auth_session_http_requests_total", []string{"route", loginRoute, "status", "200"}, 4},
		{"auth_session_http_requests_total", []string{"route", loginRoute, "status", "401"}, 3},
		{"auth_session_http_requests_total", []string{"route", loginRoute, "status", "429"}, 1},
		{"auth_session_http_requests_total", []string{"route", "DELETE /api/v1/auth/sessions/{id}", "status", "200"}, 1},
		{"auth_session_http_requests_total", []string{"route", "unrouted", "status", "404"}, 1},
		// The first scrape, answered before the second began.
		{"auth_session_http_requests_total", []string{"route", "GET /metrics", "status", "200"}, 1},
		{"auth_session_http_requests_total", nil, 21},
	})
	// Labels hold patterns, never a path, a name or an id.
	for _, family := range after {
		for _, m := range family.Metric {
			for _, l := range m.Label {
				for _, leak := range []string{alice, bob, guesser, locked, strconv.FormatInt(sessionID(t, current), 10), "/no/such"} {
					if strings.Contains(l.GetValue(), leak) {
						t.Errorf("%s has label %s=%q, naming %q", family.GetName(), l.GetName(), l.GetValue(), leak)
					}
				}
			}
		}
	}
	if after.value("auth_session_db_pool_max_connections", "pool", "primary") != float64(f.pool.Config().MaxConns) ||
		after.value("auth_session_db_pool_acquires_total", "pool", "primary") <= before.value("auth_session_db_pool_acquires_total", "pool", "primary") {
		t.Errorf("pool metrics: max %v, acquires %v then %v; want the pool's %d and a rise",
			after.value("auth_session_db_pool_max_connections"), before.value("auth_session_db_pool_acquires_total"),
			after.value("auth_session_db_pool_acquires_total"), f.pool.Config().MaxConns)
	}
	if after.value("auth_session_db_down", "pool", "primary") != 0 || after.value("auth_session_db_outages_total") != 0 {
		t.Errorf("an outage counted while the database answered")
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if after[name] == nil {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}

	// The first session, revoked, expired two hours ago: the purge
	// (older than an hour) deletes it, and only it.
	// Scraped before the change: a purge run may start as soon as it is
	// made.
	beforePurge := scrapeMetrics(t, metricsURL)
	f.mustExec(t, "UPDATE system.web_sessions SET expires_at = now() - interval '2 hours' WHERE id = $1", sessionID(t, first))
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := scrapeMetrics(t, metricsURL)
		if m.value("auth_session_purge_deleted_total") > beforePurge.value("auth_session_purge_deleted_total") && m.value("auth_session_purge_runs_total", "result", "ok") > beforePurge.value("auth_session_purge_runs_total", "result", "ok")+1 {
			wantMoved(t, beforePurge, m, []moved{
				{"auth_session_purge_deleted_total", []string{"phase", "expired_sessions"}, 1},
				{"auth_session_purge_deleted_total", nil, 1},
				{"auth_session_purge_runs_total", []string{"result", "failed"}, 0},
			})
			if m.value("auth_session_purge_last_success_timestamp_seconds") < float64(time.Now().Add(-time.Hour).Unix()) {
				t.Errorf("purge_last_success_timestamp_seconds %v: want the time of a run just done", m.value("auth_session_purge_last_success_timestamp_seconds"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no purge run deleted the session within 30s; logs:\n%s", f.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsOnTheirOwnListener: with MetricsListener (serve
// --metrics-addr) the metrics are there and the main listener answers
// /metrics 404, while still counting its own requests.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	metricsLn := listenLoopback(t)
	f, srv := newFixtureServer(t, func(c *server.Config) { c.MetricsListener = metricsLn })
	f.url = serveOn(t, srv, listenLoopback(t))
	metricsURL := "http://" + metricsLn.Addr().String() + server.MetricsPath

	if r := f.do(t, http.MethodGet, server.MetricsPath, nil); r.status != http.StatusNotFound {
		t.Errorf("GET /metrics on the main listener: %d %s, want 404", r.status, r.body)
	}
	if r := f.do(t, http.MethodGet, "/health", nil); r.status != http.StatusOK {
		t.Errorf("GET /health: %d %s", r.status, r.body)
	}
	m := scrapeMetrics(t, metricsURL)
	if got := m.value("auth_session_http_requests_total", "route", "unrouted", "status", "404"); got != 1 {
		t.Errorf("the main listener's /metrics counted %v times as unrouted 404, want 1", got)
	}
	if got := m.value("auth_session_http_requests_total", "route", "GET /health", "status", "200"); got != 1 {
		t.Errorf("GET /health counted %v times, want 1", got)
	}
	if got := m.value("auth_session_http_requests_total", "route", "GET /metrics"); got != 0 {
		t.Errorf("scrapes of the metrics listener counted as routes of the main one: %v", got)
	}
	// The metrics listener serves nothing else.
	resp, err := http.Get("http://" + metricsLn.Addr().String() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /health on the metrics listener: %d, want 404", resp.StatusCode)
	}
}

// TestMetricsDisabled: DisableMetrics (serve --metrics=false) serves no
// /metrics, and refuses a metrics listener it would leave empty.
func TestMetricsDisabled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { c.DisableMetrics = true })
	if r := f.do(t, http.MethodGet, server.MetricsPath, nil); r.status != http.StatusNotFound {
		t.Errorf("GET /metrics with metrics off: %d, want 404", r.status)
	}
	if r := f.do(t, http.MethodGet, "/health", nil); r.status != http.StatusOK {
		t.Errorf("GET /health with metrics off: %d", r.status)
	}
	ln := listenLoopback(t)
	defer ln.Close()
	_, err := server.New(server.Config{Pool: f.pool, DisableMetrics: true, MetricsListener: ln})
	if err == nil || !strings.Contains(err.Error(), "DisableMetrics") {
		t.Errorf("New with a metrics listener and metrics off: %v; want an error naming DisableMetrics", err)
	}
}

// TestMetricsCountAnOutage points the pool where nothing listens: the
// first session check finds the database unreachable, is counted as
// unavailable and answered 503, and the outage shows while it lasts.
func TestMetricsCountAnOutage(t *testing.T) {
	t.Parallel()
	f := newUnreachableFixture(t)
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if r := f.whoami(t, auth.EncodeValue(1, secret)); r.status != http.StatusServiceUnavailable {
		t.Errorf("whoami with the database unreachable: %d %s, want 503", r.status, r.body)
	}
	m := scrapeMetrics(t, f.url+server.MetricsPath)
	for _, w := range []moved{
		{"auth_session_session_checks_total", []string{"outcome", "unavailable"}, 1},
		{"auth_session_session_checks_total", nil, 1},
		{"auth_session_http_requests_total", []string{"route", "GET /api/v2/whoami", "status", "503"}, 1},
		{"auth_session_db_down", []string{"pool", "primary"}, 1},
		{"auth_session_db_outages_total", []string{"pool", "primary"}, 1},
	} {
		if got := m.value(w.name, w.labels...); got != w.by {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.by)
		}
	}
	if m["auth_session_db_outage_seconds"] == nil || m["auth_session_db_down_seconds_total"] == nil {
		t.Error("the outage's durations are not exported")
	}
}

// BenchmarkMetricsCost runs the cheapest request, whoami without a session
// (401, no database), through the whole handler with and without metrics:
// what counting adds to a request, without the network or the database. It
// reports the process's CPU time per request (cpu-ns/op), which other work
// on a shared machine disturbs less than ns/op.
func BenchmarkMetricsCost(b *testing.B) {
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none")
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	for _, disabled := range []bool{false, true} {
		name := "metrics"
		if disabled {
			name = "nometrics"
		}
		b.Run(name, func(b *testing.B) {
			srv, err := server.New(server.Config{Pool: pool, Log: slog.New(slog.DiscardHandler), DisableMetrics: disabled})
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			req := httptest.NewRequest(http.MethodGet, "/api/v2/whoami", nil)
			b.ReportAllocs()
			before := cpuTime(b)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusUnauthorized {
					b.Fatalf("whoami without a session: %d", w.Code)
				}
			}
			b.ReportMetric(float64((cpuTime(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the user and system time the process used so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
