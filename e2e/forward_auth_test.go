package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/docconfig"
	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgcluster/ha"
	"github.com/auth-session/auth-session/pkg/auth"
)

// forwardAuthDoc is the page whose nginx and Caddy configurations the test
// runs, so that what a reader copies is what was tested.
const forwardAuthDoc = "../docs/forward-auth.md"

// The addresses the page's configurations use, which the test replaces by
// its own.
const (
	docServeAddr = "127.0.0.1:8080"
	docAppAddr   = "127.0.0.1:3000"
)

// echoApp is the application behind the proxy: it answers every request
// with the identity headers it received, and counts the requests that
// reached it.
type echoApp struct {
	url  string
	hits atomic.Int64
}

func startEchoApp(t *testing.T) *echoApp {
	t.Helper()
	app := &echoApp{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		app.hits.Add(1)
		fmt.Fprintf(w, "app saw %s %s: user=%q session=%q\n", r.Method, r.URL.RequestURI(),
			r.Header.Values("X-Auth-Session-User"), r.Header.Values("X-Auth-Session-Id"))
	}))
	t.Cleanup(ts.Close)
	app.url = ts.URL
	return app
}

// docConfig returns the ```lang block of forwardAuthDoc with the
// replacements made (see docconfig.Block).
func docConfig(t *testing.T, lang string, replace ...string) string {
	t.Helper()
	block, err := docconfig.Block(forwardAuthDoc, lang, replace...)
	if err != nil {
		t.Fatal(err)
	}
	return block
}

// TestForwardAuthThroughProxies puts the real nginx and the real Caddy,
// each with the configuration docs/forward-auth.md shows, in front of an
// application, with serve answering their sub-requests: no session is
// sent to the login page (or 401 for a POST), a cookie from `auth-session
// login` reaches the app with its user, a client's own identity headers
// never do, and `auth-session logout` refuses the next request and a burst
// of concurrent ones at once.
func TestForwardAuthThroughProxies(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure", "--forward-auth-login-url", "/login")
	serveAddr := strings.TrimPrefix(srv.url, "http://")
	app := startEchoApp(t)
	appAddr := strings.TrimPrefix(app.url, "http://")

	for _, proxy := range []struct {
		name  string
		start func(t *testing.T, addr string) (*ha.WebProxy, error)
	}{
		{"nginx", func(t *testing.T, addr string) (*ha.WebProxy, error) {
			conf := docConfig(t, "nginx", "listen 80;", "listen "+addr+";", docServeAddr, serveAddr, docAppAddr, appAddr)
			return ha.StartNginx(context.Background(), addr, conf)
		}},
		{"caddy", func(t *testing.T, addr string) (*ha.WebProxy, error) {
			conf := docConfig(t, "caddyfile", "app.example.com {", "http://"+addr+" {", docServeAddr, serveAddr, docAppAddr, appAddr)
			return ha.StartCaddy(context.Background(), addr, conf)
		}},
	} {
		// One after the other: each logs the user out.
		t.Run(proxy.name, func(t *testing.T) {
			port, err := pgcluster.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			p, err := proxy.start(t, fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Stop)
			testThroughProxy(t, s, app, "http://"+p.Addr)
			if t.Failed() {
				t.Logf("%s log:\n%s", proxy.name, p.Log())
			}
		})
	}
	wantNoErrorsLogged(t, srv)
}

// testThroughProxy runs the checks of TestForwardAuthThroughProxies
// against the proxy at base, logging what a user would see.
func testThroughProxy(t *testing.T, s *site, app *echoApp, base string) {
	dir := t.TempDir()
	step := func(script string) result {
		t.Helper()
		r := sh(t, dir, script)
		t.Logf("$ %s\n%s%s", script, r.stdout, r.stderr)
		return r
	}
	// curl prints the status, and the absolute address of a redirect.
	const status = ` -sS -o /dev/null -w '%{http_code} %{redirect_url}\n'`
	wantRefused := func(what string, r result, want string) {
		t.Helper()
		if strings.TrimSpace(r.stdout) != want || r.code != 0 {
			t.Errorf("%s: %q; want %q\n%s", what, r.stdout, want, r)
		}
	}
	hits := app.hits.Load()
	wantNoHits := func(what string) {
		t.Helper()
		if n := app.hits.Load(); n != hits {
			t.Errorf("%s: %d requests reached the app; want none", what, n-hits)
			hits = n
		}
	}

	wantRefused("no cookie", step("curl '"+base+"/page?x=1'"+status), "302 "+base+"/login?return_to=%2Fpage%3Fx%3D1")
	wantRefused("no cookie, POST", step("curl -X POST "+base+"/form"+status), "401")
	wantRefused("no cookie, identity headers of the client's own",
		step("curl -H 'X-Auth-Session-User: "+s.user+"' -H 'X-Auth-Session-Id: 1' "+base+"/"+status), "302 "+base+"/login?return_to=%2F")
	wantNoHits("requests without a session")

	if r := step("auth-session login " + s.user + " --url '" + s.adminURL + "' --only-cookie > cookie.txt"); r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	cookie, err := os.ReadFile(dir + "/cookie.txt")
	if err != nil {
		t.Fatal(err)
	}
	sessionID, _, err := auth.DecodeValue(sessionValue(t, string(cookie)))
	if err != nil {
		t.Fatal(err)
	}
	seen := fmt.Sprintf("user=[%q] session=[\"%d\"]\n", s.user, sessionID)
	if r := step(`curl -sS --cookie "$(cat cookie.txt)" ` + base + "/page"); r.stdout != "app saw GET /page: "+seen {
		t.Errorf("with the cookie: the app saw %q; want %q", r.stdout, "app saw GET /page: "+seen)
	}
	// The client's own identity headers, in any case, never reach the app.
	r := step(`curl -sS --cookie "$(cat cookie.txt)" -H 'X-Auth-Session-User: admin' -H 'x-auth-session-id: 1' ` + base + "/spoof")
	if r.stdout != "app saw GET /spoof: "+seen {
		t.Errorf("with the cookie and spoofed headers: the app saw %q; want only serve's %q", r.stdout, seen)
	}
	hits = app.hits.Load()

	if r := step("auth-session logout " + s.user + " --url '" + s.adminURL + "'"); r.code != 0 {
		t.Fatalf("logout: %s", r)
	}
	wantRefused("the cookie after logout", step(`curl --cookie "$(cat cookie.txt)" `+base+"/page"+status), "302 "+base+"/login?return_to=%2Fpage")
	wantRefused("the cookie after logout, POST", step(`curl -X POST --cookie "$(cat cookie.txt)" `+base+"/form"+status), "401")
	wantNoHits("a revoked session")

	// A fresh session in use, logged out, then a burst of requests at once.
	if r := run(t, "login", s.user, "--url", s.adminURL, "--only-cookie"); r.code != 0 {
		t.Fatalf("login: %s", r)
	} else {
		cookie = []byte(strings.TrimSpace(r.stdout))
	}
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func() (int, error) {
		req, _ := http.NewRequest(http.MethodGet, base+"/burst", nil)
		req.Header.Set("Cookie", sessionValueCookie(t, string(cookie)))
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(); code != http.StatusOK {
		t.Fatalf("the fresh session before its logout: %d %v; want 200", code, err)
	}
	hits = app.hits.Load()
	if r := run(t, "logout", s.user, "--url", s.adminURL); r.code != 0 {
		t.Fatalf("logout: %s", r)
	}
	const burst = 64
	var wg sync.WaitGroup
	codes := make([]int, burst)
	errs := make([]error, burst)
	for i := range burst {
		wg.Go(func() { codes[i], errs[i] = get() })
	}
	wg.Wait()
	refused := 0
	for i := range burst {
		switch {
		case errs[i] != nil:
			t.Errorf("burst request %d: %v", i, errs[i])
		case codes[i] == http.StatusFound:
			refused++
		default:
			t.Errorf("burst request %d after the logout: %d; want 302 to the login page", i, codes[i])
		}
	}
	t.Logf("%d concurrent requests right after the logout: %d refused", burst, refused)
	wantNoHits("the burst after the logout")
}

// sessionValueCookie turns a cookie line of `login --only-cookie` into a
// Cookie header.
func sessionValueCookie(t *testing.T, cookieLine string) string {
	t.Helper()
	return auth.CookieName + "=" + sessionValue(t, cookieLine)
}
