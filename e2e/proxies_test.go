package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgcluster/ha"
)

// TestThrottleBehindProxies runs serve behind a real haproxy and a real
// nginx that trust-proxies names: the client's address is the one the
// proxy forwards, so a client guessing passwords is throttled while
// another, on another address, still logs in; and a client's own
// X-Forwarded-For, sent through the proxy or straight to serve, cannot
// choose its address.
func TestThrottleBehindProxies(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	const limit = 4
	srv := startServe(t, "--url", s.adminURL, "--insecure", "--trusted-proxies", "127.0.0.1",
		"--login-fail-limit", fmt.Sprint(limit), "--login-fail-limit-per-address", fmt.Sprint(limit))
	serveAddr := strings.TrimPrefix(srv.url, "http://")

	proxies := []struct {
		name           string
		guesser, other string
		start          func(t *testing.T) string
	}{
		{"haproxy", "127.0.0.2", "127.0.0.3", func(t *testing.T) string {
			h, err := ha.StartHAProxy(context.Background(), ha.Frontend{HTTP: true, ForwardFor: true, Backends: []ha.Backend{{Addr: serveAddr}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Stop)
			return h.Addrs[0]
		}},
		{"nginx", "127.0.0.4", "127.0.0.5", func(t *testing.T) string {
			port, err := pgcluster.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			p, err := ha.StartNginx(context.Background(), addr, fmt.Sprintf(`server {
	listen %s;
	location / {
		proxy_pass http://%s;
		proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
	}
}
`, addr, serveAddr))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Stop)
			return p.Addr
		}},
	}
	dir := t.TempDir()
	login := func(from, base, password string, header ...string) result {
		h := ""
		for _, v := range header {
			h += " -H '" + v + "'"
		}
		return sh(t, dir, "curl --interface "+from+h+" -d username="+s.user+" --data-urlencode password="+password+" "+base+"/api/v2/login/"+curlStatus)
	}
	for _, p := range proxies {
		t.Run(p.name, func(t *testing.T) {
			base := "http://" + p.start(t)
			// The guesser names another address in its own header, in
			// vain: the proxy appends the one it saw.
			for i := 0; i < limit; i++ {
				wantStatus(t, "a wrong guess", login(p.guesser, base, "wrong", "X-Forwarded-For: 198.51.100."+fmt.Sprint(i)), 401)
			}
			wantStatus(t, "the guesser, after its limit", login(p.guesser, base, s.password, "X-Forwarded-For: 198.51.100.99"), 429)
			r := login(p.other, base, s.password)
			wantStatus(t, "another client, on another address", r, 200)
			var addr string
			s.query(t, `SELECT audit_info->>'client_addr' FROM system.web_sessions
				WHERE username = $1 ORDER BY created_at DESC LIMIT 1`, []any{s.user}, &addr)
			if addr != p.other {
				t.Errorf("the session made through %s records client %q; want %s", p.name, addr, p.other)
			}
		})
	}

	// Straight to serve, from an address that is not a trusted proxy, the
	// header is ignored.
	r := login("127.0.0.6", srv.url, s.password, "X-Forwarded-For: 203.0.113.7")
	wantStatus(t, "a login straight to serve", r, 200)
	var addr string
	s.query(t, `SELECT audit_info->>'client_addr' FROM system.web_sessions
		WHERE username = $1 ORDER BY created_at DESC LIMIT 1`, []any{s.user}, &addr)
	if addr != "127.0.0.6" {
		t.Errorf("a client's own X-Forwarded-For straight to serve: recorded %q; want its own address 127.0.0.6", addr)
	}
	if logs := srv.logs(); !strings.Contains(logs, "remote=127.0.0.3") || !strings.Contains(logs, "remote=127.0.0.5") {
		t.Errorf("the request log does not name the clients behind the proxies:\n%s", logs)
	}
}
