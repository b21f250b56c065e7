package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster/ha"
)

// TestBehindHAProxy runs two serve processes over one database behind a
// real haproxy balancing requests between them round-robin.
func TestBehindHAProxy(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	args := []string{"--url", s.adminURL, "--insecure", "--login-fail-limit", "4"}
	a, b := startServe(t, args...), startServe(t, args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lb, err := ha.StartHAProxy(ctx, ha.Frontend{HTTP: true, CheckPath: "/health", Backends: []ha.Backend{
		{Addr: strings.TrimPrefix(a.url, "http://")}, {Addr: strings.TrimPrefix(b.url, "http://")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.Stop)
	balanced := "http://" + lb.Addrs[0]

	t.Run("an API login through one works on the other", func(t *testing.T) {
		dir := t.TempDir()
		r := sh(t, dir, "curl -c jar.txt -d username="+s.user+" --data-urlencode password="+s.password+" "+a.url+"/api/v2/login/"+curlStatus)
		wantStatus(t, "login through the first serve", r, 200)
		wantStatus(t, "whoami through the second", sh(t, dir, "curl -b jar.txt "+b.url+"/api/v2/whoami"+curlStatus), 200)
		for range 4 {
			wantStatus(t, "whoami through haproxy", sh(t, dir, "curl -b jar.txt "+balanced+"/api/v2/whoami"+curlStatus), 200)
		}
	})

	t.Run("revoked through one, refused through the balancer at once", func(t *testing.T) {
		const rounds = 200
		cookies := mintSessions(t, s.dbURL, s.user, rounds)
		client := &http.Client{Timeout: 10 * time.Second}
		accepted := 0
		for i, c := range cookies {
			// Alternate which process revokes; the two checks after it go
			// to both processes, haproxy taking turns.
			via := []string{a.url, b.url}[i%2]
			req, _ := http.NewRequest(http.MethodPost, via+"/api/v2/logout/", nil)
			req.Header.Set("Cookie", c)
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("round %d: logout: %v %v", i, resp, err)
			}
			resp.Body.Close()
			for range 2 {
				if got := whoami(client, balanced, c); got != http.StatusUnauthorized {
					accepted++
					t.Errorf("round %d: whoami through haproxy right after the logout: %d; want 401", i, got)
				}
			}
		}
		t.Logf("%d sessions revoked through one serve and checked twice through haproxy at once: %d accepted", rounds, accepted)
		// Both processes answered the checks.
		for name, p := range map[string]*serveProc{"first": a, "second": b} {
			if n := strings.Count(p.logs(), "path=/api/v2/whoami status=401"); n < rounds/2 {
				t.Errorf("the %s serve refused %d whoami requests; want at least %d: haproxy did not balance", name, n, rounds/2)
			}
		}
	})

	t.Run("the login throttle holds across processes", func(t *testing.T) {
		login := balanced + "/api/v2/login/"
		for i := range 4 {
			r := sh(t, "", "curl -d username="+s.user+" -d password=guess"+strings.Repeat("x", i)+" "+login+curlStatus)
			wantStatus(t, "a wrong guess through haproxy", r, 401)
		}
		for _, p := range []*serveProc{a, b} {
			r := sh(t, "", "curl -d username="+s.user+" -d password=guess "+p.url+"/api/v2/login/"+curlStatus)
			wantStatus(t, "a fifth guess, straight to either serve", r, 429)
		}
	})
	wantNoErrorsLogged(t, a)
	wantNoErrorsLogged(t, b)
}
