package server_test

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/sql"
)

const adminSessionsPath = "/api/v1/admin/sessions"

type adminPage struct {
	Sessions []map[string]any `json:"sessions"`
	Next     *string          `json:"next"`
}

// ids returns the ids of the page's sessions, in order.
func (p adminPage) ids() []string {
	var out []string
	for _, s := range p.Sessions {
		out = append(out, s["id"].(string))
	}
	return out
}

// byID returns the page's session with id, or nil.
func (p adminPage) byID(id string) map[string]any {
	for _, s := range p.Sessions {
		if s["id"] == id {
			return s
		}
	}
	return nil
}

// newAdmin creates a login role in the admin role and logs it in.
func (f *fixture) newAdmin(t *testing.T) (string, session) {
	t.Helper()
	name := f.newRole(t, "pw")
	f.mustExec(t, "GRANT admin TO "+name)
	return name, f.newSession(t, name, "pw")
}

// adminList asks for one page of the admin listing with query.
func (f *fixture) adminList(t *testing.T, caller session, query url.Values) adminPage {
	t.Helper()
	r := f.asHeader(t, caller, http.MethodGet, adminSessionsPath+"?"+query.Encode())
	wantStatus(t, r, http.StatusOK)
	var p adminPage
	decode(t, r, &p)
	return p
}

// sessionIDs returns the ids of the rows matching where, highest first.
func (f *fixture) sessionIDs(t *testing.T, where string, args ...any) []string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(),
		"SELECT s.id::TEXT FROM system.web_sessions s WHERE "+where+" ORDER BY s.id DESC", args...)
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

func TestAdminRoutesRefuseNonAdmins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	plain := f.newRole(t, "pw")
	caller := f.newSession(t, plain, "pw")
	victimUser := f.newRole(t, "pw")
	victim := f.newSession(t, victimUser, "pw")
	// A member of a role that is a member of admin is one too.
	team := pgtest.UniqueName("team")
	f.mustExec(t, "CREATE ROLE "+team+" NOLOGIN")
	t.Cleanup(func() { f.pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+team) }) //nolint:errcheck
	f.mustExec(t, "GRANT "+team+" TO "+plain)

	routes := []struct{ method, path string }{
		{http.MethodGet, adminSessionsPath},
		{http.MethodGet, adminSessionsPath + "?limit=bad"},
		{http.MethodDelete, adminSessionsPath + "/" + victim.id},
		{http.MethodDelete, adminSessionsPath + "/999"},
		{http.MethodPost, "/api/v1/admin/users/" + victimUser + "/logout"},
	}
	for _, route := range routes {
		wantError(t, f.asHeader(t, caller, route.method, route.path), http.StatusForbidden, "admin role required")
	}
	if !f.works(t, victim) || len(f.changeEvents(t)) != 0 {
		t.Error("a refused admin request changed something")
	}

	// Membership is checked on every request: it takes effect at once,
	// both ways, with the same session.
	f.mustExec(t, "GRANT admin TO "+team)
	wantStatus(t, f.asHeader(t, caller, http.MethodGet, adminSessionsPath), http.StatusOK)
	f.mustExec(t, "REVOKE admin FROM "+team)
	wantError(t, f.asHeader(t, caller, http.MethodGet, adminSessionsPath), http.StatusForbidden, "admin role required")
}

func TestAdminSessionsListing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.newRole(t, "pw")
	bob := f.newRole(t, "pw")
	aliceOld := f.newSession(t, alice, "pw", "User-Agent", "alice-agent/1")
	aliceNew := f.newSession(t, alice, "pw")
	bobRevoked := f.newSession(t, bob, "pw")
	f.mustExec(t, "UPDATE system.web_sessions SET revoked_at = now() WHERE id = $1::BIGINT", bobRevoked.id)
	// A session made by the CLI has a host, not an address.
	f.mustExec(t, `INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, expires_at, audit_info)
VALUES (7, '\x00', $1, 0, now() - INTERVAL '1 minute', '{"via":"cli","actor":"root","client_host":"laptop"}')`, bob)

	superuser := pgtest.UniqueName("su")
	f.mustExec(t, "CREATE ROLE "+superuser+" LOGIN SUPERUSER PASSWORD 'pw'")
	t.Cleanup(func() { f.pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+superuser) }) //nolint:errcheck
	_, memberSession := f.newAdmin(t)
	callers := map[string]session{"member of admin": memberSession, "superuser": f.newSession(t, superuser, "pw")}

	for name, caller := range callers {
		t.Run(name, func(t *testing.T) {
			all := f.adminList(t, caller, nil)
			if want := f.sessionIDs(t, "true"); !slices.Equal(all.ids(), want) {
				t.Errorf("ids %q; want every session, newest first: %q", all.ids(), want)
			}
			if all.Next != nil {
				t.Errorf("next %q on the only page; want null", *all.Next)
			}
			// Every field of a listed session, and whether it is active
			// and the caller's; among them, those the page and the
			// clients read.
			wantKeys := []string{"active", "current"}
			for _, field := range sql.SessionFields {
				wantKeys = append(wantKeys, field.Key)
			}
			slices.Sort(wantKeys)
			read := []string{"active", "created_at", "current", "expires_at", "id", "ip", "last_used_at",
				"revoked_at", "user_agent", "username", "via"}
			currents := 0
			for _, s := range all.Sessions {
				keys := slices.Sorted(maps.Keys(s))
				if !slices.Equal(keys, wantKeys) {
					t.Errorf("session keys %q; want %q", keys, wantKeys)
				}
				for _, key := range read {
					if !slices.Contains(keys, key) {
						t.Errorf("session keys %q lack %q", keys, key)
					}
				}
				if s["current"] == true {
					currents++
				}
			}
			if current := all.byID(caller.id); currents != 1 || current == nil || current["current"] != true {
				t.Errorf("%d sessions current; want only %s", currents, caller.id)
			}
			old := all.byID(aliceOld.id)
			if old["username"] != alice || old["active"] != true || old["revoked_at"] != nil ||
				old["ip"] != "127.0.0.1" || old["user_agent"] != "alice-agent/1" || old["via"] != "http" {
				t.Errorf("alice's session: %v", old)
			}
			if revoked := all.byID(bobRevoked.id); revoked["active"] != false || revoked["revoked_at"] == nil {
				t.Errorf("bob's revoked session: %v", revoked)
			}
			if cli := all.byID("7"); cli["via"] != "cli" || cli["ip"] != "" || cli["active"] != false || cli["revoked_at"] != nil ||
				cli["status"] != sql.StatusExpired || cli["actor"] != "root" {
				t.Errorf("bob's expired CLI session: %v", cli)
			}

			if got := f.adminList(t, caller, url.Values{"user": {alice}}).ids(); !slices.Equal(got, []string{aliceNew.id, aliceOld.id}) {
				t.Errorf("user=alice: %q", got)
			}
			if got := f.adminList(t, caller, url.Values{"user": {bob}, "active": {"true"}}).ids(); len(got) != 0 {
				t.Errorf("user=bob&active=true: %q; want none", got)
			}
			if got := f.adminList(t, caller, url.Values{"user": {bob}, "active": {"false"}}).ids(); len(got) != 2 {
				t.Errorf("user=bob&active=false: %q; want both of bob's", got)
			}
			active := f.adminList(t, caller, url.Values{"active": {"true"}}).ids()
			if want := f.sessionIDs(t, "revoked_at IS NULL AND expires_at > now()"); !slices.Equal(active, want) {
				t.Errorf("active=true: %q; want %q", active, want)
			}
			if got := f.adminList(t, caller, url.Values{"user": {"nobody"}}); got.Sessions == nil || len(got.Sessions) != 0 {
				t.Errorf("unknown user: %+v; want an empty list", got)
			}
		})
	}
}

// TestAdminSessionsPagination walks every page with the next cursor: each
// session comes exactly once, newest first, and the last page says so.
func TestAdminSessionsPagination(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, caller := f.newAdmin(t)
	f.mustExec(t, `INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, expires_at, revoked_at)
SELECT g, '\x00', CASE WHEN g % 3 = 0 THEN 'carol' ELSE 'dave' END, 0,
    now() + INTERVAL '1 hour', CASE WHEN g % 4 = 0 THEN now() END
FROM generate_series(1, 60) g`)

	tests := []struct {
		name  string
		query url.Values
		where string
	}{
		{"all", url.Values{}, "true"},
		{"user", url.Values{"user": {"carol"}}, "username = 'carol'"},
		{"active user", url.Values{"user": {"dave"}, "active": {"true"}}, "username = 'dave' AND revoked_at IS NULL"},
	}
	for _, tt := range tests {
		want := f.sessionIDs(t, tt.where)
		// Limits that divide the count and do not, and one past it.
		for _, limit := range []int{1, 7, len(want), len(want) + 1, 10} {
			t.Run(tt.name+"/limit "+strconv.Itoa(limit), func(t *testing.T) {
				var got []string
				query := maps.Clone(tt.query)
				query.Set("limit", strconv.Itoa(limit))
				for pages := 1; ; pages++ {
					page := f.adminList(t, caller, query)
					if len(page.Sessions) > limit {
						t.Fatalf("page of %d sessions; limit %d", len(page.Sessions), limit)
					}
					got = append(got, page.ids()...)
					if page.Next == nil {
						break
					}
					if len(page.Sessions) != limit || *page.Next != page.ids()[limit-1] {
						t.Fatalf("page %d: next %s after %q", pages, *page.Next, page.ids())
					}
					if pages > len(want) {
						t.Fatal("the cursor does not end")
					}
					query.Set("before", *page.Next)
				}
				if !slices.Equal(got, want) {
					t.Errorf("walked %q; want %q", got, want)
				}
			})
		}
	}

	// Without limit, a page holds 500.
	f.mustExec(t, `INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, expires_at)
SELECT g, '\x00', 'erin', 0, now() + INTERVAL '1 hour' FROM generate_series(1000, 1600) g`)
	page := f.adminList(t, caller, url.Values{"user": {"erin"}})
	if len(page.Sessions) != 500 || page.Next == nil || *page.Next != "1101" {
		t.Errorf("default page: %d sessions, next %v; want 500 and 1101", len(page.Sessions), page.Next)
	}
}

func TestAdminSessionsBadParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, caller := f.newAdmin(t)
	tests := []struct{ query, wantErr string }{
		{"limit=0", `invalid limit "0": want a whole number from 1 to 5000`},
		{"limit=5001", `invalid limit "5001": want a whole number from 1 to 5000`},
		{"limit=-1", `invalid limit "-1": want a whole number from 1 to 5000`},
		{"limit=ten", `invalid limit "ten": want a whole number from 1 to 5000`},
		{"before=x", `invalid before "x": want a session id, as in the next field of the previous page`},
		{"before=0", `invalid before "0": want a session id, as in the next field of the previous page`},
		{"active=yes", `invalid active "yes": want true or false`},
	}
	for _, tt := range tests {
		wantError(t, f.asHeader(t, caller, http.MethodGet, adminSessionsPath+"?"+tt.query), http.StatusBadRequest, tt.wantErr)
	}
	wantStatus(t, f.asHeader(t, caller, http.MethodGet, adminSessionsPath+"?limit=5000&active=false"), http.StatusOK)
}

func TestAdminRevoke(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin, caller := f.newAdmin(t)
	user := f.newRole(t, "pw")
	victim := f.newSession(t, user, "pw", "User-Agent", "victim-agent/1")

	r := f.asHeader(t, caller, http.MethodDelete, adminSessionsPath+"/"+victim.id, "User-Agent", "admin-agent/1")
	wantStatus(t, r, http.StatusOK)
	var got struct {
		Session map[string]any `json:"session"`
	}
	decode(t, r, &got)
	s := got.Session
	if s["id"] != victim.id || s["username"] != user || s["active"] != false || s["current"] != false ||
		s["revoked_at"] == nil || s["user_agent"] != "victim-agent/1" || s["via"] != "http" {
		t.Errorf("revoked session %v", s)
	}
	if f.works(t, victim) {
		t.Error("the revoked session still works")
	}
	first := s["revoked_at"]

	// Again: the first revoked_at, and no second event.
	r = f.asHeader(t, caller, http.MethodDelete, adminSessionsPath+"/"+victim.id)
	wantStatus(t, r, http.StatusOK)
	decode(t, r, &got)
	if got.Session["revoked_at"] != first {
		t.Errorf("revoked_at %v after a second revoke; want the first, %v", got.Session["revoked_at"], first)
	}
	want := []event{{Event: "session.revoked", Actor: admin, Username: user, SessionID: victim.id,
		Via: "http", ClientAddr: "127.0.0.1", UserAgent: "admin-agent/1", Detail: "{}"}}
	if got := f.changeEvents(t); !slices.Equal(got, want) {
		t.Errorf("events %+v; want %+v", got, want)
	}

	for _, id := range []string{"1", "abc", "-1"} {
		wantError(t, f.asHeader(t, caller, http.MethodDelete, adminSessionsPath+"/"+id), http.StatusNotFound, "session not found")
	}

	// The admin's own session, through the admin route.
	r = f.asHeader(t, caller, http.MethodDelete, adminSessionsPath+"/"+caller.id)
	wantStatus(t, r, http.StatusOK)
	decode(t, r, &got)
	if got.Session["current"] != true {
		t.Errorf("own session revoked as admin: %v; want current", got.Session)
	}
	wantUnauthorized(t, f.whoami(t, caller.value))
}

func TestAdminLogoutUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin, caller := f.newAdmin(t)
	user := f.newRole(t, "pw")
	other := f.newRole(t, "pw")
	first := f.newSession(t, user, "pw")
	second := f.newSession(t, user, "pw")
	bystander := f.newSession(t, other, "pw")
	f.mustExec(t, "UPDATE system.web_sessions SET revoked_at = now() - INTERVAL '1 day' WHERE id = $1::BIGINT", first.id)
	third := f.newSession(t, user, "pw")

	r := f.asHeader(t, caller, http.MethodPost, "/api/v1/admin/users/"+user+"/logout")
	if r.status != http.StatusOK || r.body != `{"revoked":2}`+"\n" {
		t.Errorf("logout %s: %d %q; want 2 revoked", user, r.status, r.body)
	}
	if f.works(t, second) || f.works(t, third) || !f.works(t, bystander) || !f.works(t, caller) {
		t.Error("want exactly the user's sessions revoked")
	}
	want := []event{{Event: "user.logged_out", Actor: admin, Username: user, Via: "http", ClientAddr: "127.0.0.1",
		UserAgent: "Go-http-client/1.1", Detail: `{"revoked": 2, "keep_current": false}`}}
	if got := f.changeEvents(t); !slices.Equal(got, want) {
		t.Errorf("events %+v; want %+v", got, want)
	}

	// A dropped user's sessions are still reached, by name.
	dropped := f.newRole(t, "pw")
	left := f.newSession(t, dropped, "pw")
	f.mustExec(t, "DROP ROLE "+dropped)
	r = f.asHeader(t, caller, http.MethodPost, "/api/v1/admin/users/"+dropped+"/logout")
	if r.status != http.StatusOK || r.body != `{"revoked":1}`+"\n" || f.revokedAt(t, left.id) == nil {
		t.Errorf("logout of a dropped user: %d %q; want 1 revoked", r.status, r.body)
	}

	// Nobody of that name, or nothing left: 0, and no event.
	events := len(f.changeEvents(t))
	for _, name := range []string{"nobody_at_all", user, "a%20b"} {
		r = f.asHeader(t, caller, http.MethodPost, "/api/v1/admin/users/"+name+"/logout")
		if r.status != http.StatusOK || r.body != `{"revoked":0}`+"\n" {
			t.Errorf("logout %s: %d %q; want 0 revoked", name, r.status, r.body)
		}
	}
	if got := len(f.changeEvents(t)); got != events {
		t.Errorf("%d events for revoking nothing", got-events)
	}
}

// TestAdminSessionsWholeSelection: the admin listing takes every field of
// the selection as a query parameter, read by the parser the CLI's flags
// and the bulk revoke's body use, with the same errors.
func TestAdminSessionsWholeSelection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	alice := f.newRole(t, "pw")
	bob := f.newRole(t, "pw")
	aliceAgent := f.newSession(t, alice, "pw", "User-Agent", "alice-agent/1")
	f.newSession(t, alice, "pw")
	bobRevoked := f.newSession(t, bob, "pw")
	f.mustExec(t, "UPDATE system.web_sessions SET revoked_at = now() WHERE id = $1::BIGINT", bobRevoked.id)
	f.mustExec(t, `INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, expires_at, audit_info)
VALUES (7, '\x00', $1, 0, now() + INTERVAL '1 hour', '{"via":"cli"}')`, bob)
	_, caller := f.newAdmin(t)

	tests := []struct {
		query url.Values
		where string
	}{
		{url.Values{"user_agent": {"ALICE-agent"}}, "audit_info->>'user_agent' = 'alice-agent/1'"},
		{url.Values{"state": {"revoked"}, "users": {bob}}, "id = " + bobRevoked.id},
		{url.Values{"via": {"cli"}}, "id = 7"},
		{url.Values{"users": {alice, bob}, "except_users": {alice}}, "username = '" + bob + "'"},
		{url.Values{"created_after": {"1h"}, "users": {alice, bob}, "except_users": {alice}, "state": {"active"}}, "id = 7"},
	}
	for _, tt := range tests {
		if got, want := f.adminList(t, caller, tt.query).ids(), f.sessionIDs(t, tt.where); !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("?%s: ids %q; want %q", tt.query.Encode(), got, want)
		}
	}
	if want := f.sessionIDs(t, "id = "+aliceAgent.id); len(want) != 1 {
		t.Fatalf("alice's session with a User-Agent: %q", want)
	}

	bad := []struct{ query, wantErr string }{
		{"ip=300.1.1.1", `invalid ip "300.1.1.1": want an IP address (203.0.113.7, 2001:db8::1) or a network in CIDR notation (203.0.113.0/24, 2001:db8::/32)`},
		{"state=idle", `invalid state "idle": no idle timeout applies (the setting idle-timeout, or serve --idle-timeout), so no session is idle`},
		{"created_before=2h&created_after=1h", `created_before 2h and created_after 1h select nothing: the first must be later than the second`},
		{"users=", `invalid users "": must not be empty`},
		{"state=active&state=revoked", `invalid state "active,revoked": given more than once: give it once`},
		{"active=true&state=revoked", `active=true and state exclude each other: active=true is state=active`},
	}
	for _, tt := range bad {
		wantError(t, f.asHeader(t, caller, http.MethodGet, adminSessionsPath+"?"+tt.query), http.StatusBadRequest, tt.wantErr)
	}
}
