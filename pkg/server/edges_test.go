package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/server"
)

// A cookie planted by another site or a sibling domain must not lock the
// user out: each session cookie presented is tried, up to a bound.
func TestEverySessionCookieIsTried(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	s := f.newSession(t, user, "pw")
	other := f.newSession(t, user, "pw")
	revoked := f.newSession(t, user, "pw")
	if r := f.asHeader(t, revoked, "POST", "/api/v2/logout/"); r.status != 200 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	c := func(values ...string) string {
		var parts []string
		for _, v := range values {
			parts = append(parts, auth.CookieName+"="+v)
		}
		return strings.Join(parts, "; ")
	}
	for _, tt := range []struct {
		name, cookie string
		wantStatus   int
		wantSession  string
	}{
		{"garbage first", c("garbage", s.value), 200, s.id},
		{"revoked first", c(revoked.value, s.value), 200, s.id},
		{"two valid: the first wins", c(other.value, s.value), 200, other.id},
		{"another cookie between", c("x") + "; theme=dark; " + c(s.value), 200, s.id},
		{"only bad ones", c("garbage", revoked.value), 401, ""},
		{"the valid one past the bound", c("a", "b", "c", "d", s.value), 401, ""},
	} {
		r := f.do(t, "GET", "/api/v2/whoami", nil, "Cookie", tt.cookie)
		if r.status != tt.wantStatus || tt.wantSession != "" && !strings.Contains(r.body, `"session_id":"`+tt.wantSession+`"`) {
			t.Errorf("%s: %d %s; want %d for session %s", tt.name, r.status, r.body, tt.wantStatus, tt.wantSession)
		}
	}
}

// Cross-site requests that change state are refused on every route; curl
// and other clients that send neither Origin nor Sec-Fetch-Site are not.
func TestCrossOriginStateChangesAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	s := f.newSession(t, user, "pw")
	for _, tt := range []struct {
		name, method, path string
		body               io.Reader
		header             []string
	}{
		{"login from evil.example", "POST", "/api/v2/login/", strings.NewReader("username=" + user + "&password=pw"),
			[]string{"Origin", "https://evil.example", "Content-Type", "application/x-www-form-urlencoded"}},
		{"logout from evil.example", "POST", "/api/v2/logout/", nil,
			[]string{"Origin", "https://evil.example", "Cookie", auth.CookieName + "=" + s.value}},
		{"logout-all, Sec-Fetch-Site cross-site", "POST", "/api/v1/auth/logout-all", nil,
			[]string{"Sec-Fetch-Site", "cross-site", "Cookie", auth.CookieName + "=" + s.value, "X-Requested-With", "x"}},
		{"revoke from evil.example", "DELETE", "/api/v1/auth/sessions/" + s.id, nil,
			[]string{"Origin", "https://evil.example", auth.HeaderName, s.value}},
	} {
		r := f.do(t, tt.method, tt.path, tt.body, tt.header...)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "cross-origin") {
			t.Errorf("%s: %d %s; want 403 cross-origin", tt.name, r.status, r.body)
		}
	}
	if !f.works(t, s) {
		t.Fatal("a refused cross-origin request revoked the session")
	}
	// Same origin and no origin at all still work.
	host := strings.TrimPrefix(f.url, "http://")
	if r := f.login(t, loginForm(user, "pw"), "Origin", "http://"+host, "Sec-Fetch-Site", "same-origin"); r.status != 200 {
		t.Errorf("same-origin login: %d %s", r.status, r.body)
	}
	if r := f.login(t, loginForm(user, "pw")); r.status != 200 {
		t.Errorf("login without Origin (curl): %d %s", r.status, r.body)
	}
	// A cross-site GET changes nothing and is answered.
	if r := f.do(t, "GET", "/api/v2/whoami", nil, "Origin", "https://evil.example", auth.HeaderName, s.value); r.status != 200 {
		t.Errorf("cross-origin GET: %d, want 200", r.status)
	}
}

func TestStrictTransportSecurityOverTLS(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv, err := server.New(server.Config{Pool: f.pool, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(ts.Close)
	resp, err := ts.Client().Get(ts.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Errorf("over TLS: Strict-Transport-Security %q, want max-age=...", hsts)
	}
	if r := f.do(t, "GET", "/health", nil); r.header.Get("Strict-Transport-Security") != "" {
		t.Errorf("over plain HTTP: Strict-Transport-Security %q, want none", r.header.Get("Strict-Transport-Security"))
	}
}
