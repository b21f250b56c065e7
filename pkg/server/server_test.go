package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/internal/sqltest"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	stopChromium()
	os.Exit(code)
}

// syncBuffer is a log destination that handlers may write concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a server over a migrated database of the test's own.
type fixture struct {
	dbURL string
	pool  *pgxpool.Pool
	logs  *syncBuffer
	url   string
}

func newFixture(t *testing.T, configure ...func(*server.Config)) *fixture {
	t.Helper()
	f, srv := newFixtureServer(t, configure...)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	f.url = ts.URL
	return f
}

// newFixtureServer makes the fixture's database and server, not serving
// yet: f.url is empty.
func newFixtureServer(t *testing.T, configure ...func(*server.Config)) (*fixture, *server.Server) {
	t.Helper()
	pool := sqltest.Migrated.NewPool(t)
	f := &fixture{dbURL: pool.Config().ConnString(), pool: pool, logs: &syncBuffer{}}
	cfg := server.Config{
		Pool: pool,
		Log:  slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, c := range configure {
		c(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f, srv
}

// pin pins setting name to value for the server (Config.PinnedSettings),
// as a flag of serve does.
func pin(c *server.Config, name, value string) {
	if c.PinnedSettings == nil {
		c.PinnedSettings = map[string]string{}
	}
	c.PinnedSettings[name] = value
}

// pinLimits pins the login throttle's settings to l.
func pinLimits(c *server.Config, l sql.LoginLimits) {
	pin(c, sql.SettingLoginFailLimit, strconv.Itoa(l.PerUserAddress))
	pin(c, sql.SettingLoginFailLimitPerAddress, strconv.Itoa(l.PerAddress))
	pin(c, sql.SettingLoginFailWindow, l.Window.String())
}

// defaultPolicy is the policy of the settings' defaults.
func defaultPolicy(t testing.TB) sql.Policy {
	t.Helper()
	p, err := sql.PolicyOf(sql.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) mustExec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// newRole creates a login role with password, dropped after the test.
func (f *fixture) newRole(t *testing.T, password string) string {
	t.Helper()
	name := pgtest.UniqueName("web_user")
	f.mustExec(t, "CREATE ROLE "+name+" LOGIN PASSWORD '"+password+"'")
	t.Cleanup(func() {
		f.pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+name) //nolint:errcheck
	})
	return name
}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) json(t *testing.T) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q is not a JSON object of strings: %v", r.body, err)
	}
	return m
}

func (f *fixture) do(t *testing.T, method, path string, body io.Reader, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (f *fixture) login(t *testing.T, form url.Values, header ...string) response {
	t.Helper()
	header = append(header, "Content-Type", "application/x-www-form-urlencoded")
	return f.do(t, http.MethodPost, "/api/v2/login/", strings.NewReader(form.Encode()), header...)
}

func (f *fixture) whoami(t *testing.T, value string) response {
	t.Helper()
	return f.do(t, http.MethodGet, "/api/v2/whoami", nil, "Cookie", auth.CookieName+"="+value)
}

// events returns "event username via client_addr user_agent" for each event.
func (f *fixture) events(t *testing.T) []string {
	t.Helper()
	var out []string
	err := sql.ListEvents(context.Background(), f.pool, sql.EventFilter{}, func(e *sql.Event) error {
		out = append(out, strings.Join([]string{e.Event, e.Username, e.Via, e.ClientAddr, e.UserAgent}, " "))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func loginForm(username, password string) url.Values {
	return url.Values{"username": {username}, "password": {password}}
}

func wantUnauthorized(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusUnauthorized || r.body != auth.UnauthorizedBody+"\n" {
		t.Errorf("got %d %q; want 401 %q", r.status, r.body, auth.UnauthorizedBody)
	}
	wantChallenge(t, r)
}

// wantChallenge checks that a 401 carries the Bearer challenge.
func wantChallenge(t *testing.T, r response) {
	t.Helper()
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="auth-session"` {
		t.Errorf("WWW-Authenticate %q; want the Bearer challenge", got)
	}
}

// loginRefusedBody is the body of every refused API login, whatever the
// reason: it says the credentials were refused, not that a cookie is
// missing.
const loginRefusedBody = `{"error":"the username and password were refused"}` + "\n"

func wantLoginRefused(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusUnauthorized || r.body != loginRefusedBody {
		t.Errorf("got %d %q; want 401 %q", r.status, r.body, loginRefusedBody)
	}
	wantChallenge(t, r)
}

func TestLoginWithRightPassword(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { c.SessionLifetime = 90 * time.Minute })
	user := f.newRole(t, "s3cret pass")

	r := f.login(t, loginForm(user, "s3cret pass"), "User-Agent", "server-test/1.0")
	if r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	body := r.json(t)
	if body["username"] != user || body["session"] == "" || body["session_id"] == "" {
		t.Fatalf("login body %v", body)
	}
	sessionID, _, err := auth.DecodeValue(body["session"])
	if err != nil || strconv.FormatInt(sessionID, 10) != body["session_id"] {
		t.Errorf("session value decodes to id %d (%v); body says %s", sessionID, err, body["session_id"])
	}

	setCookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"session=" + body["session"], "Path=/", "Max-Age=5400", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %q", setCookie, want)
		}
	}

	who := f.whoami(t, body["session"])
	if who.status != http.StatusOK {
		t.Fatalf("whoami with the new session: %d %s", who.status, who.body)
	}
	if got := who.json(t); got["username"] != user || got["session_id"] != body["session_id"] || got["expires_at"] != body["expires_at"] {
		t.Errorf("whoami %v; login said %v", got, body)
	}

	var lifetime time.Duration
	var via, addr, agent string
	err = f.pool.QueryRow(context.Background(), `SELECT extract(epoch FROM expires_at - created_at)::BIGINT * 1000000000,
		audit_info->>'via', audit_info->>'client_addr', audit_info->>'user_agent' FROM system.web_sessions WHERE id = $1`, sessionID).
		Scan(&lifetime, &via, &addr, &agent)
	if err != nil {
		t.Fatal(err)
	}
	if lifetime != 90*time.Minute || via != "http" || addr != "127.0.0.1" || agent != "server-test/1.0" {
		t.Errorf("row: lifetime %v, audit via %q addr %q agent %q", lifetime, via, addr, agent)
	}
	if got, want := f.events(t), []string{"session.created " + user + " http 127.0.0.1 server-test/1.0"}; !slices.Equal(got, want) {
		t.Errorf("events %q; want %q", got, want)
	}
	if strings.Contains(f.logs.String(), "s3cret") || strings.Contains(f.logs.String(), body["session"]) {
		t.Errorf("log leaks a secret:\n%s", f.logs)
	}
}

func TestLoginInsecureCookieHasNoSecure(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { c.InsecureCookies = true })
	user := f.newRole(t, "pw")
	r := f.login(t, loginForm(user, "pw"))
	if r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	if sc := r.header.Get("Set-Cookie"); strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Errorf("Set-Cookie %q: want HttpOnly without Secure", sc)
	}
}

func TestLoginMultipartForm(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("username", user) //nolint:errcheck
	w.WriteField("password", "pw") //nolint:errcheck
	w.Close()
	r := f.do(t, http.MethodPost, "/api/v2/login", &body, "Content-Type", w.FormDataContentType())
	if r.status != http.StatusOK {
		t.Fatalf("multipart login: %d %s", r.status, r.body)
	}
}

func TestLoginRefusalsAreUniform(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name string
		// form returns the form to send, having set up the case, and the
		// username a login.failed event must name ("" for none).
		form func(t *testing.T) (url.Values, string)
		// event is the event the refusal records, login.failed unless set.
		event string
	}{
		{"wrong password", func(t *testing.T) (url.Values, string) {
			user := f.newRole(t, "right")
			return loginForm(user, "wrong"), user
		}, ""},
		{"unknown user", func(t *testing.T) (url.Values, string) {
			user := pgtest.UniqueName("nobody")
			return loginForm(user, "whatever"), user
		}, ""},
		{"NOLOGIN role with its password", func(t *testing.T) (url.Values, string) {
			user := f.newRole(t, "pw")
			f.mustExec(t, "ALTER ROLE "+user+" NOLOGIN")
			return loginForm(user, "pw"), user
		}, ""},
		{"role past VALID UNTIL with its password", func(t *testing.T) (url.Values, string) {
			user := f.newRole(t, "pw")
			f.mustExec(t, "ALTER ROLE "+user+" VALID UNTIL '2001-01-01'")
			return loginForm(user, "pw"), user
		}, ""},
		{"locked user with its password", func(t *testing.T) (url.Values, string) {
			user := f.newRole(t, "pw")
			store := sql.NewStore(f.pool)
			if _, err := store.Revoke(context.Background(), sql.OfUsers(user), sql.RevokeOptions{Lock: &sql.LockSpec{}}, nil); err != nil {
				t.Fatal(err)
			}
			return loginForm(user, "pw"), user
		}, sql.EventLoginLocked},
		{"name longer than any role's", func(t *testing.T) (url.Values, string) {
			return loginForm(strings.Repeat("a", 64), "pw"), ""
		}, ""},
		{"password cut short by a NUL", func(t *testing.T) (url.Values, string) {
			user := f.newRole(t, "pw")
			return loginForm(user, "pw\x00more"), ""
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			form, wantEventUser := tt.form(t)
			r := f.login(t, form)
			wantLoginRefused(t, r)
			if r.header.Get("Set-Cookie") != "" {
				t.Errorf("a refused login set a cookie: %q", r.header.Get("Set-Cookie"))
			}
			if wantEventUser == "" {
				return
			}
			event := tt.event
			if event == "" {
				event = sql.EventLoginFailed
			}
			found := false
			for _, e := range f.events(t) {
				found = found || strings.HasPrefix(e, event+" "+wantEventUser+" http 127.0.0.1")
			}
			if !found {
				t.Errorf("no %s event for %s in %q", event, wantEventUser, f.events(t))
			}
		})
	}
}

func TestLoginBadRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		wantStatus  int
	}{
		{"no username", http.MethodPost, "/api/v2/login/", "password=x", form, http.StatusBadRequest},
		{"no password", http.MethodPost, "/api/v2/login/", "username=x", form, http.StatusBadRequest},
		{"empty body", http.MethodPost, "/api/v2/login/", "", form, http.StatusBadRequest},
		{"fields in the query string only", http.MethodPost, "/api/v2/login/?username=x&password=y", "", form, http.StatusBadRequest},
		{"body over the limit", http.MethodPost, "/api/v2/login/", "username=x&password=" + strings.Repeat("y", 70<<10), form, http.StatusRequestEntityTooLarge},
		{"GET", http.MethodGet, "/api/v2/login/", "", "", http.StatusMethodNotAllowed},
		{"unknown path", http.MethodPost, "/api/v2/login/extra", "username=x&password=y", form, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, tt.method, tt.path, strings.NewReader(tt.body), "Content-Type", tt.contentType)
			if r.status != tt.wantStatus {
				t.Errorf("got %d %q; want %d", r.status, r.body, tt.wantStatus)
			}
		})
	}
	if events := f.events(t); len(events) != 0 {
		t.Errorf("bad requests wrote events: %q", events)
	}
}

func TestLogoutRevokesTheCallingSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	first := f.login(t, loginForm(user, "pw")).json(t)["session"]
	second := f.login(t, loginForm(user, "pw")).json(t)["session"]

	r := f.do(t, http.MethodPost, "/api/v2/logout/", nil, auth.HeaderName, first)
	if r.status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "session=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("logout Set-Cookie %q does not delete the cookie", sc)
	}
	if got := r.json(t); got["revoked_at"] == "" || got["session_id"] == "" {
		t.Errorf("logout body %v", got)
	}
	wantUnauthorized(t, f.whoami(t, first))
	wantUnauthorized(t, f.do(t, http.MethodPost, "/api/v2/logout", nil, auth.HeaderName, first))
	if who := f.whoami(t, second); who.status != http.StatusOK {
		t.Errorf("the user's other session stopped working: %d", who.status)
	}
	revoked := 0
	for _, e := range f.events(t) {
		if strings.HasPrefix(e, "session.revoked "+user+" http 127.0.0.1") {
			revoked++
		}
	}
	if revoked != 1 {
		t.Errorf("%d session.revoked events; want 1: %q", revoked, f.events(t))
	}
}

func TestLogoutNeedsASession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	wantUnauthorized(t, f.do(t, http.MethodPost, "/api/v2/logout/", nil))
}

func TestHealth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if r := f.do(t, http.MethodGet, "/health", nil); r.status != http.StatusOK || r.json(t)["status"] != "ok" {
		t.Errorf("health: %d %s", r.status, r.body)
	}

	// Nothing listens on port 1.
	dead, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	srv, err := server.New(server.Config{Pool: dead, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("health with the database down: %d %s; want 503", rec.Code, rec.Body)
	}
}

func TestRequestLogLines(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "hunter2")
	value := f.login(t, loginForm(user, "hunter2")).json(t)["session"]
	f.whoami(t, value)
	f.do(t, http.MethodGet, "/api/v2/whoami?token=abc", nil, "Authorization", "Bearer "+value)
	f.whoami(t, "garbage")

	logs := f.logs.String()
	for _, want := range []string{
		`msg="http request" method=POST path=/api/v2/login/ status=200`,
		`msg="http request" method=GET path=/api/v2/whoami status=200`,
		`msg="http request" method=GET path=/api/v2/whoami status=401`,
		"user=" + user,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{value, "hunter2", "token=abc", "garbage"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.Contains(line, "status=401") && strings.Contains(line, "user=") {
			t.Errorf("a refused request is logged with a user: %s", line)
		}
	}
}

// TestPasswordNotCheckedIsRefused points the pool at the test cluster's Unix
// socket, where pgcluster trusts every local connection: a right password
// proves nothing there, so the login must be refused.
func TestPasswordNotCheckedIsRefused(t *testing.T) {
	t.Parallel()
	c := pgtest.Cluster()
	if c == nil {
		t.Skip("needs the throwaway cluster (trust on its Unix socket); AUTH_SESSION_TEST_URL is set")
	}
	tcp := newFixture(t)
	user := tcp.newRole(t, "pw")
	u, _ := url.Parse(tcp.dbURL)
	q := u.Query()
	q.Set("host", c.SocketDir)
	u.RawQuery = q.Encode()
	socketPool, err := pgxpool.New(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer socketPool.Close()
	logs := &syncBuffer{}
	srv, err := server.New(server.Config{Pool: socketPool, Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	trusting := &fixture{dbURL: u.String(), pool: socketPool, logs: logs, url: ts.URL}

	wantLoginRefused(t, trusting.login(t, loginForm(user, "pw")))
	if !strings.Contains(logs.String(), "without checking a password") {
		t.Errorf("log does not warn about the unchecked password:\n%s", logs)
	}
	// The same role and password over TCP, where SCRAM checks it, works.
	if r := tcp.login(t, loginForm(user, "pw")); r.status != http.StatusOK {
		t.Errorf("login over TCP with SCRAM: %d %s", r.status, r.body)
	}
}

func TestServeShutsDownCleanly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jobStopped := make(chan struct{})
	srv, err := server.New(server.Config{Pool: f.pool, Log: slog.New(slog.DiscardHandler),
		BackgroundJobs: []func(context.Context){func(ctx context.Context) {
			<-ctx.Done()
			close(jobStopped)
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("health while serving: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v; want nil", err)
	}
	select {
	case <-jobStopped:
	default:
		t.Error("Serve returned before its background job")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/health"); err == nil {
		t.Error("still serving after shutdown")
	}
}
