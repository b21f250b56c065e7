package e2e

import (
	"strings"
	"testing"
)

// TestBulkRevokeWithCurl: the admin's revocation by selection, with real
// curl: a dry run counts and changes nothing, the revocation refuses the
// sessions it picked at once and spares the others, and bad bodies are a
// 400 or 415 naming what is wrong.
func TestBulkRevokeWithCurl(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	adminName := strings.Split(strings.TrimPrefix(s.adminURL, "postgres://"), ":")[0]
	admin := apiLogin(t, srv, adminName, "adminpw")
	victim := apiLogin(t, srv, s.user, s.password)
	run(t, "login", s.user, "--url", s.dbURL, "--only-cookie") // a CLI session: no address, not picked
	route := srv.url + "/api/v1/admin/sessions/revoke"
	post := func(body string, extra ...string) result {
		args := append([]string{"-H", "X-Auth-Session: " + admin, "-H", "Content-Type: application/json", "-d", body}, extra...)
		return curl(t, append(args, route)...)
	}
	live := func() (n int) {
		s.query(t, `SELECT count(*) FROM system.web_sessions WHERE revoked_at IS NULL AND username = $1`, []any{s.user}, &n)
		return n
	}
	selection := `"users":["` + s.user + `"],"ip":"127.0.0.1","user_agent":"curl"`

	r := post(`{` + selection + `,"dry_run":true}`)
	wantStatus(t, "dry run", r, 200)
	if !strings.HasPrefix(r.stdout, `{"revoked":1,"already_revoked":0,"users":1,"dry_run":true}`) || live() != 2 {
		t.Errorf("dry run: %s\nwant 1 counted and both of the user's sessions still live", r)
	}
	wantStatus(t, "whoami after the dry run", curl(t, "-H", "X-Auth-Session: "+victim, srv.url+"/api/v2/whoami"), 200)

	r = post(`{` + selection + `,"reason":"incident 42"}`)
	wantStatus(t, "revoke", r, 200)
	if !strings.HasPrefix(r.stdout, `{"revoked":1,"already_revoked":0,"users":1,"dry_run":false}`) || live() != 1 {
		t.Errorf("revoke: %s\nwant 1 revoked and the CLI session spared", r)
	}
	wantStatus(t, "whoami after the revocation", curl(t, "-H", "X-Auth-Session: "+victim, srv.url+"/api/v2/whoami"), 401)
	var reason string
	s.query(t, `SELECT detail->>'reason' FROM system.session_events WHERE event = 'sessions.revoked' AND username = $1`, []any{s.user}, &reason)
	if reason != "incident 42" {
		t.Errorf("sessions.revoked event's reason = %q", reason)
	}

	for _, tt := range []struct {
		body, contentType string
		status            int
		want              string
	}{
		{`{"ip":"300.1.1.1"}`, "application/json", 400, `invalid ip \"300.1.1.1\": want an IP address`},
		{`{"state":"live"}`, "application/json", 400, `invalid state \"live\": want one of active, idle, expired, revoked or all`},
		{`{"idle_for":"-1h"}`, "application/json", 400, `invalid idle_for \"-1h\": must be positive`},
		{`{"ip":"127.0.0.1","admin":true}`, "application/json", 400, `unknown field \"admin\"`},
		{`{"users":"x"}`, "application/json", 400, `field users: want []string`},
		{`{}`, "application/json", 400, `the selection picks every session`},
		{`{"ip":"127.0.0.1"`, "application/json", 400, `invalid JSON body`},
		{`ip=127.0.0.1`, "application/x-www-form-urlencoded", 415, `want a JSON body`},
	} {
		r := curl(t, "-H", "X-Auth-Session: "+admin, "-H", "Content-Type: "+tt.contentType, "-d", tt.body, route)
		wantStatus(t, tt.body, r, tt.status)
		if !strings.Contains(r.stdout, tt.want) {
			t.Errorf("%s: %s\nwant %s", tt.body, r, tt.want)
		}
	}
	if live() != 1 {
		t.Error("a refused request revoked sessions")
	}
	// Not an admin: 403, nothing revoked.
	other := apiLogin(t, srv, s.user, s.password)
	r = curl(t, "-H", "X-Auth-Session: "+other, "-H", "Content-Type: application/json", "-d", `{"ip":"127.0.0.1"}`, route)
	wantStatus(t, "revoke by a user who is no admin", r, 403)
	if live() != 2 {
		t.Error("a request by a user who is no admin revoked sessions")
	}
	wantNoErrorsLogged(t, srv)
}
