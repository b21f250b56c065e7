package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// forward asks the forward-auth route with the session cookie value (none
// when empty) and extra headers.
func (f *fixture) forward(t *testing.T, method, query, value string, header ...string) response {
	t.Helper()
	if value != "" {
		header = append(header, "Cookie", auth.CookieName+"="+value)
	}
	req, err := http.NewRequest(method, f.url+server.ForwardAuthPath+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// A redirect is the answer under test, not followed.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func wantForwardRefused(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != http.StatusUnauthorized || r.body != "" || r.header.Get("Location") != "" {
		t.Errorf("%s: %d %q Location %q; want 401 without a body or Location", what, r.status, r.body, r.header.Get("Location"))
	}
}

// TestForwardAuthRunsTheSessionCheck: the route answers 200 with the
// identity headers and no body for a valid session, however presented,
// and 401 without a body for none, a wrong one, a revoked one (at once), an
// idle one and one whose role may no longer log in; it touches last_used_at
// as whoami does.
func TestForwardAuthRunsTheSessionCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { pin(c, sql.SettingIdleTimeout, "1h") })
	user := f.newRole(t, "pw")
	s := f.newSession(t, user, "pw")

	for _, method := range []string{"GET", "HEAD", "POST", "PUT"} {
		r := f.forward(t, method, "", s.value)
		if r.status != http.StatusOK || r.body != "" ||
			r.header.Get(server.DefaultForwardUserHeader) != user || r.header.Get(server.DefaultForwardSessionHeader) != s.id {
			t.Errorf("%s with a valid cookie: %d %q %v; want 200, no body, user %s, session %s", method, r.status, r.body, r.header, user, s.id)
		}
	}
	for name, header := range map[string][]string{"X-Auth-Session": {auth.HeaderName, s.value}, "Bearer": {"Authorization", "Bearer " + s.value}} {
		if r := f.forward(t, "GET", "", "", header...); r.status != http.StatusOK || r.header.Get(server.DefaultForwardUserHeader) != user {
			t.Errorf("session in %s: %d %v", name, r.status, r.header)
		}
	}
	// A proxy's sub-request carries the original request's Origin; a GET
	// is never refused as cross-origin, a state change never made.
	if r := f.forward(t, "GET", "", s.value, "Origin", "https://app.example", "Sec-Fetch-Site", "cross-site"); r.status != http.StatusOK {
		t.Errorf("GET sub-request with a cross-site Origin: %d", r.status)
	}

	wantForwardRefused(t, "no session", f.forward(t, "GET", "", ""))
	wantForwardRefused(t, "a spoofed identity header and no session", f.forward(t, "GET", "", "", server.DefaultForwardUserHeader, user))
	other := f.newSession(t, user, "pw")
	wantForwardRefused(t, "the id of one session with the secret of another",
		f.forward(t, "GET", "", strings.Replace(other.value, other.value[:12], s.value[:12], 1)))

	// The touch, as whoami's.
	f.mustExec(t, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '10 minutes' WHERE id = $1", s.id)
	if r := f.forward(t, "GET", "", s.value); r.status != http.StatusOK {
		t.Fatalf("forward after aging last_used_at: %d", r.status)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var recent bool
		if err := f.pool.QueryRow(context.Background(), "SELECT last_used_at > now() - INTERVAL '1 minute' FROM system.web_sessions WHERE id = $1",
			s.id).Scan(&recent); err != nil {
			t.Fatal(err)
		}
		if recent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("last_used_at not written within 10s of a forward-auth request")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Idle: refused as whoami refuses it.
	f.mustExec(t, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '61 minutes' WHERE id = $1", other.id)
	wantForwardRefused(t, "an idle session", f.forward(t, "GET", "", other.value))

	// Revoked: refused on the next request.
	if r := f.do(t, "POST", "/api/v2/logout/", nil, "Cookie", auth.CookieName+"="+s.value); r.status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	wantForwardRefused(t, "a revoked session", f.forward(t, "GET", "", s.value))

	// The role may no longer log in.
	third := f.newSession(t, user, "pw")
	f.mustExec(t, "ALTER ROLE "+user+" NOLOGIN")
	wantForwardRefused(t, "a session of a NOLOGIN role", f.forward(t, "GET", "", third.value))
	if !strings.Contains(f.logs.String(), "path="+server.ForwardAuthPath+" status=401") {
		t.Errorf("no request log line for the refusals:\n%s", f.logs)
	}
	if strings.Contains(f.logs.String(), s.value) {
		t.Error("the log holds a session value")
	}
}

// TestForwardAuthHeaderNames: the identity headers are named as configured,
// and a role name outside printable ASCII arrives percent-encoded.
func TestForwardAuthHeaderNames(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *server.Config) {
		c.ForwardAuth = server.ForwardAuth{UserHeader: "Remote-User", SessionHeader: "Remote-Session"}
	})
	user := f.newRole(t, "pw")
	odd := user + " é%"
	f.mustExec(t, `ALTER ROLE `+user+` RENAME TO "`+odd+`"`)
	f.mustExec(t, `ALTER ROLE "`+odd+`" PASSWORD 'pw'`)
	t.Cleanup(func() { f.pool.Exec(context.Background(), `DROP ROLE IF EXISTS "`+odd+`"`) }) //nolint:errcheck
	s := f.newSession(t, odd, "pw")
	r := f.forward(t, "GET", "", s.value)
	wantUser := user + "%20%C3%A9%25"
	if r.status != http.StatusOK || r.header.Get("Remote-User") != wantUser || r.header.Get("Remote-Session") != s.id ||
		r.header.Get(server.DefaultForwardUserHeader) != "" {
		t.Errorf("got %d %v; want Remote-User %q and Remote-Session %s only", r.status, r.header, wantUser, s.id)
	}
	if decoded, err := url.PathUnescape(r.header.Get("Remote-User")); err != nil || decoded != odd {
		t.Errorf("Remote-User decodes to %q (%v); want %q", decoded, err, odd)
	}
}

// TestForwardAuthLoginRedirect: with a login URL, a refused GET carries a
// Location to it with the path asked for; ?redirect=true makes it a 302;
// the return address is only ever a local path, and non-GET requests get a
// plain 401.
func TestForwardAuthLoginRedirect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { c.ForwardAuth = server.ForwardAuth{LoginURL: "https://login.example/in?app=1"} })
	const login = "https://login.example/in?app=1&return_to="
	for _, tt := range []struct {
		name, query  string
		header       []string
		wantStatus   int
		wantLocation string
	}{
		{"nginx's sub-request", "", []string{"X-Original-URI", "/app/page?x=1"}, 401, login + "%2Fapp%2Fpage%3Fx%3D1"},
		{"Caddy's, asking for the redirect", "?redirect=true", []string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/a b"}, 302, login + "%2Fa+b"},
		{"an original HEAD", "?redirect=true", []string{"X-Forwarded-Method", "HEAD", "X-Forwarded-Uri", "/"}, 302, login + "%2F"},
		{"no original URI", "?redirect=true", nil, 302, "https://login.example/in?app=1"},
		{"a URI naming another host", "?redirect=true", []string{"X-Forwarded-Uri", "//evil.example/x"}, 302, "https://login.example/in?app=1"},
		{"a URI with a backslash host", "", []string{"X-Forwarded-Uri", `/\evil.example`}, 401, "https://login.example/in?app=1"},
		{"an absolute URI", "", []string{"X-Forwarded-Uri", "https://evil.example/"}, 401, "https://login.example/in?app=1"},
		{"a URI with a line break", "", []string{"X-Original-URI", "/a%0d%0aSet-Cookie:x"}, 401, login + "%2Fa%250d%250aSet-Cookie%3Ax"},
		{"an original POST", "?redirect=true", []string{"X-Forwarded-Method", "POST", "X-Forwarded-Uri", "/form"}, 401, ""},
		{"an original DELETE, nginx", "", []string{"X-Original-Method", "DELETE"}, 401, ""},
		{"redirect=false", "?redirect=false", []string{"X-Forwarded-Uri", "/p"}, 401, login + "%2Fp"},
	} {
		r := f.forward(t, "GET", tt.query, "", tt.header...)
		if r.status != tt.wantStatus || r.header.Get("Location") != tt.wantLocation || r.body != "" {
			t.Errorf("%s: %d Location %q body %q; want %d Location %q", tt.name, r.status, r.header.Get("Location"), r.body, tt.wantStatus, tt.wantLocation)
		}
	}
	if r := f.forward(t, "GET", "?redirect=maybe", ""); r.status != http.StatusBadRequest || !strings.Contains(r.body, `redirect=\"maybe\"`) {
		t.Errorf("redirect=maybe: %d %s; want 400 naming the value", r.status, r.body)
	}
	// A valid session is let through with or without the redirect.
	user := f.newRole(t, "pw")
	s := f.newSession(t, user, "pw")
	if r := f.forward(t, "GET", "?redirect=true", s.value); r.status != http.StatusOK || r.header.Get("Location") != "" {
		t.Errorf("valid session asking for the redirect: %d %v", r.status, r.header)
	}
}

// TestForwardAuthConfigRefused: settings the route cannot use are refused
// when the server is built, naming the value.
func TestForwardAuthConfigRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg  server.ForwardAuth
		want string
	}{
		{server.ForwardAuth{UserHeader: "X User"}, `user header "X User"`},
		{server.ForwardAuth{SessionHeader: "Cookie"}, `session header "Cookie": that header has a meaning`},
		{server.ForwardAuth{UserHeader: "x-auth-session"}, `"x-auth-session": that header has a meaning`},
		{server.ForwardAuth{UserHeader: "A", SessionHeader: "a"}, `both "A"`},
		{server.ForwardAuth{LoginURL: "//evil.example/login"}, `login URL "//evil.example/login"`},
		{server.ForwardAuth{LoginURL: "javascript:alert(1)"}, `login URL "javascript:alert(1)"`},
		{server.ForwardAuth{LoginURL: "login"}, `login URL "login": want a path`},
		{server.ForwardAuth{LoginURL: "/login#top"}, "no #fragment"},
		{server.ForwardAuth{LoginURL: "https://u:p@login.example/"}, "no user info"},
	} {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v; want an error containing %q", tt.cfg, err, tt.want)
		}
	}
	for _, ok := range []server.ForwardAuth{{}, {LoginURL: "/login"}, {LoginURL: "http://127.0.0.1:9/in?a=b"}, {UserHeader: "Remote-User"}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	if _, err := server.New(server.Config{Pool: unconnectedPool(t), ForwardAuth: server.ForwardAuth{UserHeader: "bad header"}}); err == nil ||
		!strings.Contains(err.Error(), `"bad header"`) {
		t.Errorf("server.New with a bad header name: %v", err)
	}
}

// unconnectedPool is a pool that has not connected, and never will: enough
// for server.New to refuse its configuration.
func unconnectedPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
