package e2e

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster/ha"
	"github.com/auth-session/auth-session/internal/pgtest"
)

// startBouncer starts a real pgbouncer in mode in front of the tests'
// server, for the length of the test.
func startBouncer(t *testing.T, mode string) *ha.Bouncer {
	t.Helper()
	u, err := url.Parse(pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	password, _ := u.User.Password()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := ha.StartBouncer(ctx, ha.BouncerOptions{Host: u.Hostname(), Port: port, Mode: mode,
		AuthUser: u.User.Username(), AuthPassword: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	return b
}

// throughBouncer returns dbURL with pgbouncer's address in place of the
// server's, and nothing else changed: no extra parameters.
func throughBouncer(dbURL string, b *ha.Bouncer) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(err)
	}
	u.Host = "127.0.0.1:" + strconv.Itoa(b.Port)
	return u.String()
}

// TestThroughPgbouncer runs every command, and serve with its password
// login, through a real pgbouncer in both pool modes with a plain URL. Each
// command runs more than once: in transaction mode the second one gets a
// server connection the first left prepared statements on.
func TestThroughPgbouncer(t *testing.T) {
	for _, mode := range []string{ha.PoolSession, ha.PoolTransaction} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			b := startBouncer(t, mode)
			s := newSite(t)
			super, admin := throughBouncer(s.dbURL, b), throughBouncer(s.adminURL, b)

			mustRun := func(args ...string) result {
				t.Helper()
				r := run(t, args...)
				if r.code != 0 {
					t.Fatalf("%s through pgbouncer (%s mode): %s", strings.Join(args, " "), mode, r)
				}
				return r
			}
			mustRun("init", "--url", super)
			var cookies []string
			for range 3 {
				r := mustRun("login", s.user, "--url", admin, "--only-cookie")
				cookies = append(cookies, r.stdout)
			}
			for range 2 {
				if r := mustRun("list", "--url", admin, "--user", s.user, "--format", "tsv"); strings.Count(r.stdout, "\n") != 4 {
					t.Errorf("list through pgbouncer: want a header and 3 sessions:\n%s", r)
				}
				mustRun("list", "--url", admin, "--summary")
				mustRun("events", "--url", admin)
				mustRun("revoke", "--url", admin, "--user", s.user, "--dry-run")
				mustRun("purge", "--url", admin, "--dry-run")
			}

			srv := startServe(t, "--url", admin, "--insecure")
			whoami := srv.url + "/api/v2/whoami"
			for _, c := range cookies {
				wantStatus(t, "whoami with a CLI cookie", sh(t, "", "curl --cookie '"+strings.TrimSpace(c)+"' "+whoami+curlStatus), 200)
			}
			// Their first uses are recorded through pgbouncer: the touch,
			// with the address and User-Agent as parameters.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				var recorded int
				s.query(t, `SELECT count(*) FROM system.web_sessions
					WHERE username = $1 AND last_ip = '127.0.0.1' AND last_user_agent LIKE 'curl/%'`, []any{s.user}, &recorded)
				if recorded == len(cookies) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d CLI sessions record their first use through pgbouncer (%s mode) after 10s", recorded, len(cookies), mode)
				}
			}
			dir := t.TempDir()
			for range 2 {
				r := sh(t, dir, "curl -c jar.txt -d username="+s.user+" --data-urlencode password="+s.password+" "+srv.url+"/api/v2/login/"+curlStatus)
				wantStatus(t, "API login with the right password", r, 200)
				wantStatus(t, "whoami after the API login", sh(t, dir, "curl -b jar.txt "+whoami+curlStatus), 200)
			}
			for name, form := range map[string]string{
				"wrong password": "-d username=" + s.user + " -d password=wrong",
				"unknown user":   "-d username=" + pgtest.UniqueName("nobody") + " -d password=" + s.password,
			} {
				r := sh(t, dir, "curl "+form+" "+srv.url+"/api/v2/login/"+curlStatus)
				wantStatus(t, name+" through pgbouncer", r, 401)
			}

			mustRun("logout", s.user, "--url", admin)
			wantStatus(t, "whoami after logout", sh(t, "", "curl --cookie '"+strings.TrimSpace(cookies[0])+"' "+whoami+curlStatus), 401)
			mustRun("purge", "--url", admin)
			direct := startServe(t, "--url", s.adminURL, "--insecure")
			if strings.Contains(direct.logs(), "connection pooler") {
				t.Errorf("serve on a direct connection believes it is behind a pooler:\n%s", direct.logs())
			}
			if !strings.Contains(srv.logs(), "connected through a connection pooler") {
				t.Errorf("serve did not find pgbouncer in front of PostgreSQL:\n%s", srv.logs())
			}
			if logs := srv.logs(); strings.Contains(logs, "level=ERROR") {
				t.Errorf("serve through pgbouncer logged an error:\n%s", logs)
			}
		})
	}
}
