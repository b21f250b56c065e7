package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// newSettingsFixture is a server whose settings the test changes in the
// database and applies with refresh, as the serving loop does.
func newSettingsFixture(t *testing.T, configure ...func(*server.Config)) (f *fixture, set func(name, value string), refresh func()) {
	t.Helper()
	f, srv := newFixtureServer(t, configure...)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	f.url = ts.URL
	set = func(name, value string) {
		t.Helper()
		if _, err := sql.NewStore(f.pool).SetSetting(context.Background(), name, value, sql.Actor{Name: "ops", Via: "cli"}); err != nil {
			t.Fatal(err)
		}
	}
	refresh = func() {
		t.Helper()
		if err := srv.RefreshSettings(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	refresh()
	return f, set, refresh
}

// TestSettingsApplyWithoutRestart: idle-timeout set in the database
// applies, once the server refreshes its settings, to the session check,
// the self-service listing and the admin listing's idle state; reset, the
// idle session is accepted again.
func TestSettingsApplyWithoutRestart(t *testing.T) {
	t.Parallel()
	f, set, refresh := newSettingsFixture(t)
	_, admin := f.newAdmin(t)
	user := f.newRole(t, "pw")
	idle, fresh := f.newSession(t, user, "pw"), f.newSession(t, user, "pw")
	// No request presents idle before the idle timeout applies: one would
	// write its last use.
	f.mustExec(t, `UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '61 minutes' WHERE id = $1`, idle.id)
	idleState := url.Values{"state": {sql.StatusIdle}}
	if r := f.asHeader(t, admin, http.MethodGet, adminSessionsPath+"?"+idleState.Encode()); r.status != http.StatusBadRequest {
		t.Errorf("admin listing of idle sessions without an idle timeout: %d %s; want 400", r.status, r.body)
	}
	if own := f.asHeader(t, fresh, http.MethodGet, "/api/v1/auth/sessions"); !strings.Contains(own.body, `"`+idle.id+`"`) {
		t.Errorf("own sessions without an idle timeout: %d %s; want the session unused for 61 minutes among them", own.status, own.body)
	}

	set(sql.SettingIdleTimeout, "1h")
	refresh()
	if got := f.adminList(t, admin, idleState).ids(); !slices.Equal(got, []string{idle.id}) {
		t.Errorf("admin listing of idle sessions: %v; want %s", got, idle.id)
	}
	own := f.asHeader(t, fresh, http.MethodGet, "/api/v1/auth/sessions")
	if own.status != http.StatusOK || strings.Contains(own.body, `"`+idle.id+`"`) || !strings.Contains(own.body, `"`+fresh.id+`"`) {
		t.Errorf("own sessions: %d %s; want the fresh one and not the idle one", own.status, own.body)
	}
	if f.works(t, idle) {
		t.Error("the idle session accepted after idle-timeout 1h was set and refreshed")
	}
	if !f.works(t, fresh) {
		t.Error("the session in use refused")
	}

	if _, err := sql.NewStore(f.pool).ResetSetting(context.Background(), sql.SettingIdleTimeout, sql.Actor{Name: "ops", Via: "cli"}); err != nil {
		t.Fatal(err)
	}
	refresh()
	if !f.works(t, idle) {
		t.Error("the idle session refused after idle-timeout was reset")
	}
	for _, want := range []string{
		"msg=setting name=idle-timeout value=0 origin=default\n",
		"msg=\"setting changed\" name=idle-timeout old=0 value=1h origin=database\n",
		"msg=\"setting changed\" name=idle-timeout old=1h value=0 origin=default\n",
	} {
		if strings.Count(f.logs.String(), want) != 1 {
			t.Errorf("the log does not say %q once:\n%s", want, f.logs)
		}
	}
}

// TestPinnedSettingWinsOverTheDatabase: a setting pinned for the process,
// as serve's flag pins it, keeps its value whatever the database says;
// the change is logged once, not at every refresh.
func TestPinnedSettingWinsOverTheDatabase(t *testing.T) {
	t.Parallel()
	f, set, refresh := newSettingsFixture(t, func(c *server.Config) { pin(c, sql.SettingIdleTimeout, "0") })
	user := f.newRole(t, "pw")
	s := f.newSession(t, user, "pw")
	set(sql.SettingIdleTimeout, "1h")
	refresh()
	refresh()
	f.mustExec(t, `UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '61 minutes' WHERE id = $1`, s.id)
	if !f.works(t, s) {
		t.Error("a session unused for 61 minutes refused: the database's idle-timeout won over the pinned 0")
	}
	log := f.logs.String()
	if want := "msg=setting name=idle-timeout value=0 origin=flag database=0\n"; !strings.Contains(log, want) {
		t.Errorf("the log does not say %q:\n%s", want, log)
	}
	want := "msg=\"setting changed in the database; this process keeps its flag's value\" name=idle-timeout database=1h value=0\n"
	if strings.Count(log, want) != 1 {
		t.Errorf("the log does not say %q once:\n%s", want, log)
	}
}

// TestSessionLimitAndThrottleFromSettings: max-sessions-per-user and the
// login throttle's limits set in the database are what the API login
// applies.
func TestSessionLimitAndThrottleFromSettings(t *testing.T) {
	t.Parallel()
	f, set, refresh := newSettingsFixture(t)
	user := f.newRole(t, "pw")
	set(sql.SettingMaxSessionsPerUser, "1")
	set(sql.SettingLoginFailLimit, "2")
	refresh()
	first := f.newSession(t, user, "pw")
	second := f.newSession(t, user, "pw")
	if f.works(t, first) || !f.works(t, second) {
		t.Error("with max-sessions-per-user 1, the second login did not revoke the first alone")
	}
	for range 2 {
		loginFrom(t, "127.0.0.1", f.url, user, "wrong")
	}
	if r := loginFrom(t, "127.0.0.1", f.url, user, "pw"); r.status != http.StatusTooManyRequests {
		t.Errorf("after 2 failures under login-fail-limit 2: %d; want 429", r.status)
	}
}

// TestTrustedProxiesFromSettings: the trusted proxies set in the database
// name the client from the forwarding header; before, the header is
// ignored.
func TestTrustedProxiesFromSettings(t *testing.T) {
	t.Parallel()
	f, set, refresh := newSettingsFixture(t)
	user := f.newRole(t, "pw")
	f.newSession(t, user, "pw", "X-Forwarded-For", "203.0.113.7")
	set(sql.SettingTrustedProxies, "127.0.0.1,::1")
	refresh()
	f.newSession(t, user, "pw", "X-Forwarded-For", "203.0.113.7")
	var addrs []string
	for _, e := range f.eventsOf(t, sql.EventSessionCreated) {
		addrs = append(addrs, e.ClientAddr)
	}
	if len(addrs) != 2 || addrs[0] == "203.0.113.7" || addrs[1] != "203.0.113.7" {
		t.Errorf("the logins' client addresses: %v; want the peer's, then the header's", addrs)
	}
}

// TestSettingsRefreshFailureKeepsValues: a value the database holds that
// its setting refuses (written there by hand) fails the refresh, which
// keeps the values in force and logs once, however many refreshes fail.
func TestSettingsRefreshFailureKeepsValues(t *testing.T) {
	t.Parallel()
	f, srv := newFixtureServer(t)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	f.url = ts.URL
	ctx := context.Background()
	if _, err := sql.NewStore(f.pool).SetSetting(ctx, sql.SettingIdleTimeout, "1h", sql.Actor{Name: "ops", Via: "cli"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.RefreshSettings(ctx); err != nil {
		t.Fatal(err)
	}
	f.mustExec(t, `UPDATE system.settings SET value = 'soon' WHERE name = $1`, sql.SettingIdleTimeout)
	for range 3 {
		err := srv.RefreshSettings(ctx)
		if err == nil || !strings.Contains(err.Error(), `invalid value "soon" for idle-timeout`) {
			t.Fatalf("refresh over a bad value: %v; want an error naming it", err)
		}
	}
	user := f.newRole(t, "pw")
	s := f.newSession(t, user, "pw")
	f.mustExec(t, `UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '61 minutes' WHERE id = $1`, s.id)
	if f.works(t, s) {
		t.Error("the idle timeout in force was dropped by failed refreshes")
	}
	f.mustExec(t, `UPDATE system.settings SET value = '2h' WHERE name = $1`, sql.SettingIdleTimeout)
	if err := srv.RefreshSettings(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.works(t, s) {
		t.Error("the session unused for 61 minutes refused under idle-timeout 2h")
	}
	log := f.logs.String()
	if n := strings.Count(log, "cannot read the settings"); n != 1 {
		t.Errorf("the failure logged %d times; want once:\n%s", n, log)
	}
	if !strings.Contains(log, "the settings can be read again") {
		t.Errorf("the recovery is not logged:\n%s", log)
	}
}

// TestServingPicksUpSettings: a serving Server applies a setting changed
// in the database by its own refresh, without a call from outside: once
// idle-timeout is set, the admin listing finds the idle session and the
// session check refuses it. The test polls the listing, which does not
// present the idle session (a request that did would write its last use),
// as long as it takes up to a generous bound, and logs how long that was.
func TestServingPicksUpSettings(t *testing.T) {
	t.Parallel()
	f, srv := newFixtureServer(t)
	if err := srv.RefreshSettings(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.url = serveOn(t, srv, listenLoopback(t))
	_, admin := f.newAdmin(t)
	user := f.newRole(t, "pw")
	s := f.newSession(t, user, "pw")
	f.mustExec(t, `UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '61 minutes' WHERE id = $1`, s.id)
	listIdle := func() response {
		return f.asHeader(t, admin, http.MethodGet, adminSessionsPath+"?state="+sql.StatusIdle)
	}
	if r := listIdle(); r.status != http.StatusBadRequest {
		t.Fatalf("idle sessions listed before any idle timeout: %d %s; want 400", r.status, r.body)
	}
	set := time.Now()
	if _, err := sql.NewStore(f.pool).SetSetting(context.Background(), sql.SettingIdleTimeout, "1h", sql.Actor{Name: "ops", Via: "cli"}); err != nil {
		t.Fatal(err)
	}
	deadline := set.Add(10 * server.SettingsRefreshInterval)
	for listIdle().status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("idle-timeout not applied %s after it was set", time.Since(set).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("a serving server applied idle-timeout %s after it was set (refresh interval %s)",
		time.Since(set).Round(time.Millisecond), server.SettingsRefreshInterval)
	if f.works(t, s) {
		t.Error("the idle session accepted once the listing applies the idle timeout")
	}
}
