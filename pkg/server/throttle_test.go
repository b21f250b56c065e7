package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// loginFrom posts a login form to baseURL from local address ip.
func loginFrom(t *testing.T, ip, baseURL, username, password string) response {
	t.Helper()
	r, err := tryLoginFrom(ip, baseURL, username, password)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryLoginFrom is loginFrom for goroutines other than the test's.
func tryLoginFrom(ip, baseURL, username, password string) (response, error) {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()
	form := url.Values{"username": {username}, "password": {password}}
	resp, err := client.PostForm(baseURL+"/api/v2/login/", form)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, err
}

func TestLoginThrottleAcrossServers(t *testing.T) {
	t.Parallel()
	limits := sql.LoginLimits{PerUserAddress: 3, PerAddress: 5, Window: time.Minute}
	a := newFixture(t, func(c *server.Config) { pinLimits(c, limits) })
	// A second server over the same database, as behind a load balancer.
	cfgB := server.Config{Pool: a.pool, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	pinLimits(&cfgB, limits)
	srvB, err := server.New(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	b := httptest.NewServer(srvB.Handler())
	t.Cleanup(b.Close)
	user := a.newRole(t, "right-pw")

	for i := range limits.PerUserAddress {
		if r := loginFrom(t, "127.0.0.1", []string{a.url, b.URL}[i%2], user, "wrong"); r.status != 401 {
			t.Fatalf("wrong password %d: %d %s, want 401", i+1, r.status, r.body)
		}
	}
	// The right password is refused too, on either server.
	var throttled []response
	for _, base := range []string{a.url, b.URL} {
		r := loginFrom(t, "127.0.0.1", base, user, "right-pw")
		retry, err := strconv.Atoi(r.header.Get("Retry-After"))
		if r.status != 429 || err != nil || retry < 1 || retry > 60 {
			t.Errorf("right password after %d failures: %d, Retry-After %q; want 429 within the window",
				limits.PerUserAddress, r.status, r.header.Get("Retry-After"))
		}
		throttled = append(throttled, r)
	}
	// Another address is not locked out of the user.
	if r := loginFrom(t, "127.0.0.2", b.URL, user, "right-pw"); r.status != 200 {
		t.Errorf("right password from another address: %d %s, want 200", r.status, r.body)
	}
	// The address may still fail for other names, up to its own limit; then
	// every name gets the very same 429, known or not.
	for i := limits.PerUserAddress; i < limits.PerAddress; i++ {
		if r := loginFrom(t, "127.0.0.1", a.url, "nobody_"+strconv.Itoa(i), "guess"); r.status != 401 {
			t.Fatalf("unknown user %d: %d, want 401", i, r.status)
		}
	}
	unknown := loginFrom(t, "127.0.0.1", b.URL, "nobody_else", "guess")
	if unknown.status != 429 || unknown.body != throttled[0].body {
		t.Errorf("unknown user past the address limit: %d %q; want the 429 a known user gets: %q", unknown.status, unknown.body, throttled[0].body)
	}

	// The three throttled attempts, through both servers, are one
	// login.throttled event of the address, that counts them.
	if events, attempts := waitThrottled(t, a.pool, 3); events != 1 || attempts != 3 {
		t.Errorf("%d login.throttled events counting %d attempts, want 1 counting 3", events, attempts)
	}
	var failedEvents int
	err = a.pool.QueryRow(context.Background(), `SELECT count(*) FROM system.session_events WHERE event = 'login.failed'`).Scan(&failedEvents)
	if err != nil || failedEvents != limits.PerAddress {
		t.Errorf("%d login.failed events (%v), want %d", failedEvents, err, limits.PerAddress)
	}
	if strings.Contains(a.logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", a.logs)
	}
}

func TestLoginThrottleWindowSlides(t *testing.T) {
	t.Parallel()
	limits := sql.LoginLimits{PerUserAddress: 2, Window: time.Minute}
	f := newFixture(t, func(c *server.Config) { pinLimits(c, limits) })
	user := f.newRole(t, "right-pw")
	for range 2 {
		loginFrom(t, "127.0.0.1", f.url, user, "wrong")
	}
	if r := loginFrom(t, "127.0.0.1", f.url, user, "right-pw"); r.status != 429 {
		t.Fatalf("after 2 failures: %d, want 429", r.status)
	}
	// Failures older than the window no longer count, and the next
	// attempt's reservation deletes them.
	f.mustExec(t, `UPDATE system.login_attempts SET at = at - INTERVAL '61 seconds', counts_until = counts_until - INTERVAL '61 seconds'`)
	if r := loginFrom(t, "127.0.0.1", f.url, user, "right-pw"); r.status != 200 {
		t.Errorf("once the failures left the window: %d %s, want 200", r.status, r.body)
	}
	var left int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM system.login_attempts`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d login attempts left (%v); want the old failures deleted, and the login's place given back", left, err)
	}
}

// TestLoginThrottleSurvivesEventPurge: purging the audit trail, however
// short its retention, does not reset the throttle.
func TestLoginThrottleSurvivesEventPurge(t *testing.T) {
	t.Parallel()
	limits := sql.LoginLimits{PerUserAddress: 2, Window: 24 * time.Hour}
	f := newFixture(t, func(c *server.Config) { pinLimits(c, limits) })
	user := f.newRole(t, "right-pw")
	for range limits.PerUserAddress {
		loginFrom(t, "127.0.0.1", f.url, user, "wrong")
	}
	if r := loginFrom(t, "127.0.0.1", f.url, user, "right-pw"); r.status != 429 {
		t.Fatalf("after %d failures: %d, want 429", limits.PerUserAddress, r.status)
	}
	res, err := sql.Purge(context.Background(), f.pool, sql.PurgeOptions{OlderThan: time.Hour, Batch: 100,
		EventsOlderThan: time.Microsecond}, nil)
	if err != nil || res.Events == 0 {
		t.Fatalf("purge the events: %+v, %v; want the login events purged", res, err)
	}
	if r := loginFrom(t, "127.0.0.1", f.url, user, "right-pw"); r.status != 429 {
		t.Errorf("after the audit events were purged: %d %s, want 429 still", r.status, r.body)
	}
}

// waitThrottled waits until the login.throttled events count want attempts
// (servers write them within a second), or 10 s have passed; it returns
// the events and the attempts they count.
func waitThrottled(t *testing.T, pool *pgxpool.Pool, want int) (events, attempts int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := pool.QueryRow(context.Background(), `SELECT count(*), COALESCE(sum((detail->>'attempts')::INT), 0)
FROM system.session_events WHERE event = 'login.throttled'`).Scan(&events, &attempts)
		if err != nil {
			t.Fatal(err)
		}
		if attempts >= want || time.Now().After(deadline) {
			return events, attempts
		}
	}
}
