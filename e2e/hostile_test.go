package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"
)

// curl runs real curl with args and the status line appended.
func curl(t *testing.T, args ...string) result {
	t.Helper()
	return runIn(t, "", exec.Command("curl", append([]string{"-sS", "-w", "\nHTTP %{http_code}\n"}, args...)...))
}

// apiLogin logs in over the API as user and returns the session value.
func apiLogin(t *testing.T, srv *serveProc, user, password string) string {
	t.Helper()
	r := curl(t, "-d", "username="+user, "-d", "password="+password, srv.url+"/api/v2/login/")
	wantStatus(t, "login as "+user, r, 200)
	var body struct{ Session string }
	if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &body); err != nil || body.Session == "" {
		t.Fatalf("login as %s: no session in %s", user, r)
	}
	return body.Session
}

// TestLoginWithHostileUserAgentIsAuditedAndRevealsNothing sends the User-Agent
// that once made the audit insert fail: the wrong password was then a 401
// with no trace, and the right one a 503, a password oracle.
func TestLoginWithHostileUserAgentIsAuditedAndRevealsNothing(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	login := srv.url + "/api/v2/login/"
	for _, ua := range []string{"\xc3\x28", "bad \xff\xfe bytes", strings.Repeat("é", 5000)} {
		r := curl(t, "-H", "User-Agent: "+ua, "-d", "username="+s.user, "-d", "password=GUESS", login)
		wantStatus(t, "wrong password", r, 401)
		r = curl(t, "-H", "User-Agent: "+ua, "-d", "username="+s.user, "-d", "password="+s.password, login)
		wantStatus(t, "right password", r, 200)
	}
	var failed, created int
	var allValid bool
	var longest int
	s.query(t, `SELECT count(*) FILTER (WHERE event = 'login.failed'), count(*) FILTER (WHERE event = 'session.created'),
    max(octet_length(user_agent)), bool_and(user_agent NOT LIKE '%' || chr(65533) || '%' OR event IS NOT NULL)
FROM system.session_events WHERE username = $1`, []any{s.user}, &failed, &created, &longest, &allValid)
	if failed != 3 || created != 3 {
		t.Errorf("%d login.failed and %d session.created events, want 3 of each", failed, created)
	}
	if longest > 1024 {
		t.Errorf("a User-Agent of %d bytes was stored; want it capped", longest)
	}
	var ua string
	s.query(t, `SELECT user_agent FROM system.session_events WHERE username = $1 ORDER BY id LIMIT 1`, []any{s.user}, &ua)
	if !utf8.ValidString(ua) || !strings.HasSuffix(ua, "(") {
		t.Errorf("stored User-Agent %q: want valid UTF-8 keeping what was valid", ua)
	}
	wantNoErrorsLogged(t, srv)
}

// TestAdminAPIRefusesMalformedParameters: invalid UTF-8, NUL and malformed
// escapes are a 400 naming the parameter, not a 503 or a filter dropped.
func TestAdminAPIRefusesMalformedParameters(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	admin := apiLogin(t, srv, strings.Split(strings.TrimPrefix(s.adminURL, "postgres://"), ":")[0], "adminpw")
	apiLogin(t, srv, s.user, s.password)
	auth := "X-Auth-Session: " + admin
	for _, tt := range []struct{ method, path, param string }{
		{"GET", "/api/v1/admin/sessions?user=%00", "user"},
		{"GET", "/api/v1/admin/sessions?user=%ff", "user"},
		{"GET", "/api/v1/admin/sessions?user=%zz", "query string"},
		{"GET", "/api/v1/admin/sessions?active=true&user=a%zzb", "query string"},
		{"POST", "/api/v1/admin/users/%ff/logout", "path"},
		{"POST", "/api/v1/admin/users/a%00b/logout", "path"},
		{"GET", "/api/v1/auth/sessions?x=%zz", "query string"},
		{"POST", "/api/v1/auth/logout-all?keep_current=%ff", "keep_current"},
	} {
		r := curl(t, "-X", tt.method, "-H", auth, srv.url+tt.path)
		wantStatus(t, tt.method+" "+tt.path, r, 400)
		if !strings.Contains(r.stdout, tt.param) {
			t.Errorf("%s %s: the 400 does not name %s:\n%s", tt.method, tt.path, tt.param, r)
		}
	}
	var live int
	s.query(t, `SELECT count(*) FROM system.web_sessions WHERE revoked_at IS NULL`, nil, &live)
	if live != 2 {
		t.Errorf("%d live sessions after the refused requests, want 2", live)
	}
	wantNoErrorsLogged(t, srv)
}

// TestPasswordGuessingIsThrottled: with serve's defaults, a guesser gets ten
// tries at a user from one address; then even the right password gets 429
// there, while the user can still log in from elsewhere.
func TestPasswordGuessingIsThrottled(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	login := srv.url + "/api/v2/login/"
	attempts := 0
	for ; attempts < 50; attempts++ {
		r := curl(t, "-d", "username="+s.user, "-d", "password=guess"+strings.Repeat("x", attempts), login)
		if strings.HasSuffix(r.stdout, "HTTP 429\n") {
			break
		}
		wantStatus(t, "a guess", r, 401)
	}
	if attempts != 10 {
		t.Errorf("throttled after %d wrong passwords, want 10 (the default --login-fail-limit)", attempts)
	}
	r := curl(t, "-D", "-", "-d", "username="+s.user, "-d", "password="+s.password, login)
	wantStatus(t, "the right password after the guesses", r, 429)
	if !strings.Contains(r.stdout, "Retry-After: ") {
		t.Errorf("429 without Retry-After:\n%s", r)
	}
	r = curl(t, "--interface", "127.0.0.2", "-d", "username="+s.user, "-d", "password="+s.password, login)
	wantStatus(t, "the right password from another address", r, 200)
}

// wantNoErrorsLogged fails the test if serve logged an ERROR line.
func wantNoErrorsLogged(t *testing.T, srv *serveProc) {
	t.Helper()
	if logs := srv.logs(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("the server logged errors:\n%s", logs)
	}
}
