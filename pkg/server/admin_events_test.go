package server_test

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const adminEventsPath = "/api/v1/admin/events"

type eventsPage struct {
	Events []map[string]any `json:"events"`
	Next   *string          `json:"next"`
}

// describe lists the page's events as "event/username".
func (p eventsPage) describe(users map[string]string) string {
	var out []string
	for _, e := range p.Events {
		name := e["username"].(string)
		if short, ok := users[name]; ok {
			name = short
		}
		out = append(out, e["event"].(string)+"/"+name)
	}
	return strings.Join(out, " ")
}

func (f *fixture) adminEvents(t *testing.T, caller session, query url.Values) eventsPage {
	t.Helper()
	r := f.asHeader(t, caller, http.MethodGet, adminEventsPath+"?"+query.Encode())
	wantStatus(t, r, http.StatusOK)
	var p eventsPage
	decode(t, r, &p)
	return p
}

// eventIDs returns the ids of the events matching where, highest first.
func (f *fixture) eventIDs(t *testing.T, where string) []string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), "SELECT id::TEXT FROM system.session_events WHERE "+where+" ORDER BY id DESC")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func TestAdminEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.newRole(t, "pw")
	bob := f.newRole(t, "pw")
	aliceSession := f.newSession(t, alice, "pw", "User-Agent", "alice-agent/1")
	if r := f.login(t, loginForm(bob, "wrong")); r.status != http.StatusUnauthorized {
		t.Fatalf("login with a wrong password: %d", r.status)
	}
	admin, caller := f.newAdmin(t)
	wantStatus(t, f.asHeader(t, caller, http.MethodDelete, adminSessionsPath+"/"+aliceSession.id), http.StatusOK)
	// One from the CLI, another address, an hour ago.
	f.mustExec(t, `INSERT INTO system.session_events (at, event, actor, username, via, client_addr, client_ip)
VALUES (now() - INTERVAL '1 hour', 'session.created', 'root', $1, 'http', '192.0.2.1', '192.0.2.1')`, bob)
	users := map[string]string{alice: "alice", bob: "bob", admin: "admin"}

	all := f.adminEvents(t, caller, nil)
	var ids []string
	for _, e := range all.Events {
		ids = append(ids, e["id"].(string))
		wantKeys := []string{"actor", "at", "client_addr", "detail", "event", "id", "session_id", "user_agent", "username", "via"}
		if keys := slices.Sorted(maps.Keys(e)); !slices.Equal(keys, wantKeys) {
			t.Errorf("event keys %q; want %q", keys, wantKeys)
		}
	}
	if want := f.eventIDs(t, "true"); !slices.Equal(ids, want) || all.Next != nil {
		t.Errorf("ids %q, next %v; want every event newest first, %q, and no next page", ids, all.Next, want)
	}
	if got := all.describe(users); got != "session.created/bob session.revoked/alice session.created/admin login.failed/bob session.created/alice" {
		t.Errorf("every event: %s", got)
	}
	created := all.Events[len(all.Events)-1]
	if created["session_id"] != aliceSession.id || created["client_addr"] != "127.0.0.1" || created["user_agent"] != "alice-agent/1" ||
		created["via"] != "http" || created["actor"] != alice {
		t.Errorf("alice's login: %v", created)
	}
	if detail, ok := created["detail"].(map[string]any); !ok || detail["expires_at"] == nil {
		t.Errorf("detail %#v: want an object", created["detail"])
	}
	if failed := all.Events[len(all.Events)-2]; failed["session_id"] != nil {
		t.Errorf("failed login: session_id %v, want null", failed["session_id"])
	}

	for _, tt := range []struct {
		query url.Values
		want  string
	}{
		{url.Values{"user": {alice}}, "session.revoked/alice session.created/alice"},
		{url.Values{"event": {"login.failed", "session.revoked"}}, "session.revoked/alice login.failed/bob"},
		{url.Values{"session": {aliceSession.id}}, "session.revoked/alice session.created/alice"},
		{url.Values{"ip": {"192.0.2.0/24"}}, "session.created/bob"},
		{url.Values{"ip": {"127.0.0.1"}, "actor": {admin}}, "session.revoked/alice session.created/admin"},
		{url.Values{"since": {"30m"}, "event": {"session.created"}}, "session.created/admin session.created/alice"},
		{url.Values{"until": {"30m"}}, "session.created/bob"},
		{url.Values{"since": {"2000-01-01T00:00:00Z"}, "until": {"2999-01-01T00:00:00Z"}, "user": {bob}}, "session.created/bob login.failed/bob"},
		{url.Values{"user": {"nobody"}}, ""},
	} {
		page := f.adminEvents(t, caller, tt.query)
		if got := page.describe(users); got != tt.want {
			t.Errorf("%s: %q; want %q", tt.query.Encode(), got, tt.want)
		}
		if page.Events == nil {
			t.Errorf("%s: events is null; want a list", tt.query.Encode())
		}
	}

	// Pages of two, each event once, newest first, the last without next.
	var paged []string
	query := url.Values{"limit": {"2"}}
	for range 5 {
		page := f.adminEvents(t, caller, query)
		for _, e := range page.Events {
			paged = append(paged, e["id"].(string))
		}
		if page.Next == nil {
			break
		}
		query.Set("before", *page.Next)
	}
	if !slices.Equal(paged, ids) {
		t.Errorf("pages of 2: %q; want %q", paged, ids)
	}
}

func TestAdminEventsRefusesBadQueries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, caller := f.newAdmin(t)
	for _, tt := range []struct{ query, want string }{
		{"users=alice", `unknown query parameter "users": want user, event, session, ip, actor, since, until, limit, before`},
		{"user=a&user=b", `invalid user "a,b": given more than once: give it once`},
		{"limit=1&limit=2", `invalid limit "1,2": given more than once: give it once`},
		{"user=", `invalid user "": must not be empty`},
		{"event=session.deleted", `invalid event "session.deleted": want one of session.created, session.revoked, sessions.revoked, user.logged_out, user.locked, user.unlocked, login.failed, login.locked, login.throttled, throttle.cleared, retention.batch, retention.purged, setting.changed`},
		{"session=0", `invalid session "0": want a session id, a whole number from 1 up, as list prints it`},
		{"session=12abc", `invalid session "12abc": want a session id, a whole number from 1 up, as list prints it`},
		{"ip=300.1.1.1", `invalid ip "300.1.1.1": want an IP address (203.0.113.7, 2001:db8::1) or a network in CIDR notation (203.0.113.0/24, 2001:db8::/32)`},
		{"actor=", `invalid actor "": must not be empty`},
		{"since=yesterday", `invalid since "yesterday": want an RFC 3339 time such as 2026-11-30T12:00:00Z, or a duration ago such as 2h or 7d (units: ns, us, ms, s, m, h, d (days), w (weeks))`},
		{"since=1h&until=2h", `until 2h is not later than since 1h: no event is in between`},
		{"limit=0", `invalid limit "0": want a whole number from 1 to 5000`},
		{"before=x", `invalid before "x": want an event id, as in the next field of the previous page`},
	} {
		wantError(t, f.asHeader(t, caller, http.MethodGet, adminEventsPath+"?"+tt.query), http.StatusBadRequest, tt.want)
	}

	// Admins only; and a session, as every admin route.
	plain := f.newSession(t, f.newRole(t, "pw"), "pw")
	wantError(t, f.asHeader(t, plain, http.MethodGet, adminEventsPath), http.StatusForbidden, "admin role required")
	wantUnauthorized(t, f.do(t, http.MethodGet, adminEventsPath, nil))
}
