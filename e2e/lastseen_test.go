package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster/ha"
	"github.com/auth-session/auth-session/pkg/sql"
)

// seen is what show, list and the self-service API say of where a session
// logged in from and was last used from.
type seen struct {
	ID            string `json:"id"`
	IP            string `json:"ip"`
	UserAgent     string `json:"user_agent"`
	LastIP        string `json:"last_ip"`
	LastUserAgent string `json:"last_user_agent"`
}

// TestLastSeen: a session shows the address and User-Agent of its login
// and of its last use apart. One that login (the CLI) made shows no use
// until its first request, which it records at once, its login's pair
// staying empty; one made over the API from one address and used from
// another after the touch interval shows both pairs, in show, list --wide
// and the self-service API. Behind a trusted haproxy the last address is
// the client's, not the proxy's nor one the client named itself, and a
// User-Agent longer than a login keeps is cut as a login's is.
func TestLastSeen(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure", "--trusted-proxies", "127.0.0.1")
	h, err := ha.StartHAProxy(context.Background(), ha.Frontend{HTTP: true, ForwardFor: true,
		Backends: []ha.Backend{{Addr: strings.TrimPrefix(srv.url, "http://")}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Stop)
	proxy := "http://" + h.Addrs[0]
	dir := t.TempDir()
	env := "export AUTH_SESSION_URL='" + s.adminURL + "'; "

	// show reads the session as show prints it in JSON.
	show := func(id string) seen {
		t.Helper()
		r := sh(t, dir, env+"auth-session show "+id+" --format json")
		var rows []seen
		if err := json.Unmarshal([]byte(r.stdout), &rows); r.code != 0 || err != nil || len(rows) != 1 {
			t.Fatalf("show %s: %v\n%s", id, err, r)
		}
		return rows[0]
	}
	// recorded waits until the touch that a request asked for is written
	// (after the answer, in the background), for at most 10s.
	recorded := func(id, lastIP string) seen {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			got := show(id)
			if got.LastIP == lastIP || time.Now().After(deadline) {
				return got
			}
		}
	}

	// Made by the CLI: no use until the first request, through the proxy.
	r := sh(t, dir, env+"auth-session login "+s.user+" --only-cookie > cli-cookie.txt && auth-session lookup --format json < cli-cookie.txt")
	var looked []seen
	if err := json.Unmarshal([]byte(r.stdout), &looked); r.code != 0 || err != nil || len(looked) != 1 {
		t.Fatalf("login | lookup: %v\n%s", err, r)
	}
	cli := looked[0]
	if cli.IP != "" || cli.UserAgent != "" || cli.LastIP != "" || cli.LastUserAgent != "" {
		t.Errorf("a session the CLI made, never used: %+v; want no address or User-Agent at all", cli)
	}
	wantStatus(t, "the CLI session's first request", sh(t, dir,
		`curl --interface 127.0.0.7 -A first-use/1.0 -H 'X-Forwarded-For: 203.0.113.50' -b "$(cat cli-cookie.txt)" `+proxy+"/api/v2/whoami"+curlStatus), 200)
	if got := recorded(cli.ID, "127.0.0.7"); got != (seen{ID: cli.ID, LastIP: "127.0.0.7", LastUserAgent: "first-use/1.0"}) {
		t.Errorf("the CLI session after its first request, from 127.0.0.7 through haproxy: %+v; want that address and first-use/1.0 as the last, the login's empty", got)
	}

	// Made over the API from one address, used from another.
	r = sh(t, dir, "curl --interface 127.0.0.8 -A login-agent/1.0 -d username="+s.user+" --data-urlencode password="+s.password+" "+proxy+"/api/v2/login/"+curlStatus)
	wantStatus(t, "the API login", r, 200)
	var login struct {
		Session   string `json:"session"`
		SessionID string `json:"session_id"`
	}
	first, _, _ := strings.Cut(r.stdout, "\n")
	if err := json.Unmarshal([]byte(first), &login); err != nil {
		t.Fatalf("login body: %v\n%s", err, r)
	}
	api := seen{ID: login.SessionID, IP: "127.0.0.8", UserAgent: "login-agent/1.0", LastIP: "127.0.0.8", LastUserAgent: "login-agent/1.0"}
	if got := show(login.SessionID); got != api {
		t.Errorf("a session just made over the API: %+v; want the login's address and User-Agent as both pairs: %+v", got, api)
	}
	var aged int64
	s.query(t, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '10 minutes' WHERE id = $1::BIGINT RETURNING id",
		[]any{login.SessionID}, &aged)
	longAgent := strings.Repeat("long-agent/", 30)
	ownSessions := "curl --interface 127.0.0.9 -A " + longAgent + " --cookie 'session=" + login.Session + "' " + proxy + "/api/v1/auth/sessions" + curlStatus
	wantStatus(t, "the API session's use from elsewhere", sh(t, dir, ownSessions), 200)
	api.LastIP, api.LastUserAgent = "127.0.0.9", longAgent[:sql.MaxClientText]
	if got := recorded(login.SessionID, "127.0.0.9"); got != api {
		t.Errorf("the API session used from elsewhere: %+v; want %+v", got, api)
	}

	r = sh(t, dir, env+"auth-session list --wide --user "+s.user+" --format json")
	var listed []seen
	if err := json.Unmarshal([]byte(r.stdout), &listed); r.code != 0 || err != nil || len(listed) != 2 || listed[1] != api {
		t.Errorf("list --wide: %v; want the API session last, as show has it: %+v\n%s", err, api, r)
	}
	r = sh(t, dir, env+"auth-session list --wide --user "+s.user+" --format tsv")
	if header, _, _ := strings.Cut(r.stdout, "\n"); !strings.Contains(header, "\tlast ip\tlast user agent\t") {
		t.Errorf("list --wide's header %q has no last ip and last user agent columns", header)
	}

	r = sh(t, dir, ownSessions)
	wantStatus(t, "the self-service listing", r, 200)
	var own struct{ Sessions []seen }
	first, _, _ = strings.Cut(r.stdout, "\n")
	if err := json.Unmarshal([]byte(first), &own); err != nil || len(own.Sessions) != 2 || !slices.Contains(own.Sessions, api) {
		t.Errorf("GET /api/v1/auth/sessions: %v; want the API session as show has it: %+v\n%s", err, api, r)
	}
}
