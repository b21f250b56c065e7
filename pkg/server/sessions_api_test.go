package server_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/pkg/auth"
)

// Helpers of the /api/v1 tests: sessions made by the API login, requests
// authenticated by header or cookie, and the audit trail read back.

// session is one login: its value and id.
type session struct {
	value string
	id    string
}

// newSession logs user in with password pw; extra headers, such as a
// User-Agent, go with the login request.
func (f *fixture) newSession(t *testing.T, user, pw string, header ...string) session {
	t.Helper()
	r := f.login(t, loginForm(user, pw), header...)
	if r.status != http.StatusOK {
		t.Fatalf("login as %s: %d %s", user, r.status, r.body)
	}
	body := r.json(t)
	return session{value: body["session"], id: body["session_id"]}
}

// asHeader sends a request authenticated by the X-Auth-Session header.
func (f *fixture) asHeader(t *testing.T, s session, method, path string, header ...string) response {
	t.Helper()
	return f.do(t, method, path, nil, append([]string{auth.HeaderName, s.value}, header...)...)
}

// asCookie sends a request authenticated by the session cookie.
func (f *fixture) asCookie(t *testing.T, s session, method, path string, header ...string) response {
	t.Helper()
	return f.do(t, method, path, nil, append([]string{"Cookie", auth.CookieName + "=" + s.value}, header...)...)
}

// works reports whether s still authenticates a request.
func (f *fixture) works(t *testing.T, s session) bool {
	t.Helper()
	r := f.whoami(t, s.value)
	switch r.status {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	}
	t.Fatalf("whoami: %d %s", r.status, r.body)
	return false
}

// revokedAt returns the revoked_at of session id, nil when not revoked.
func (f *fixture) revokedAt(t *testing.T, id string) *time.Time {
	t.Helper()
	var at *time.Time
	if err := f.pool.QueryRow(context.Background(),
		"SELECT revoked_at FROM system.web_sessions WHERE id = $1::BIGINT", id).Scan(&at); err != nil {
		t.Fatalf("read revoked_at of session %s: %v", id, err)
	}
	return at
}

// event is one row of system.session_events, as the tests compare it.
type event struct {
	Event, Actor, Username, SessionID, Via, ClientAddr, UserAgent, Detail string
}

// eventsOf returns the events named name, oldest first.
func (f *fixture) eventsOf(t *testing.T, name string) []event {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT event, actor, username,
    COALESCE(session_id::TEXT, ''), via, client_addr, user_agent, detail::TEXT
FROM system.session_events WHERE event = $1 ORDER BY at, id`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.Event, &e.Actor, &e.Username, &e.SessionID, &e.Via, &e.ClientAddr, &e.UserAgent, &e.Detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// changeEvents returns the events that record a change made through the
// API: everything but the logins.
func (f *fixture) changeEvents(t *testing.T) []event {
	t.Helper()
	return append(f.eventsOf(t, "session.revoked"), f.eventsOf(t, "user.logged_out")...)
}

// decode decodes a JSON body into v, failing the test otherwise.
func decode(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// wantStatus fails the test unless r has status want.
func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("got %d %s; want %d", r.status, r.body, want)
	}
}

// wantError fails the test unless r is status with {"error": msg}.
func wantError(t *testing.T, r response, status int, msg string) {
	t.Helper()
	want, _ := json.Marshal(map[string]string{"error": msg})
	if r.status != status || r.body != string(want)+"\n" {
		t.Errorf("got %d %q; want %d %s", r.status, r.body, status, want)
	}
}

const sessionsPath = "/api/v1/auth/sessions"

type ownSessions struct {
	Sessions []map[string]any `json:"sessions"`
}

func TestOwnSessionsListsActiveNewestFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	other := f.newRole(t, "pw")
	revoked := f.newSession(t, user, "pw")
	expired := f.newSession(t, user, "pw")
	older := f.newSession(t, user, "pw", "User-Agent", "older-agent/1")
	current := f.newSession(t, user, "pw", "User-Agent", "current-agent/2")
	newer := f.newSession(t, user, "pw")
	f.newSession(t, other, "pw")
	f.mustExec(t, "UPDATE system.web_sessions SET revoked_at = now() WHERE id = $1::BIGINT", revoked.id)
	f.mustExec(t, "UPDATE system.web_sessions SET expires_at = now() - INTERVAL '1 second' WHERE id = $1::BIGINT", expired.id)

	r := f.asHeader(t, current, http.MethodGet, sessionsPath)
	wantStatus(t, r, http.StatusOK)
	var got ownSessions
	decode(t, r, &got)

	var ids []string
	currents := 0
	wantKeys := []string{"created_at", "current", "expires_at", "id", "ip", "last_ip", "last_used_at", "last_user_agent", "user_agent"}
	for _, s := range got.Sessions {
		ids = append(ids, s["id"].(string))
		if keys := slices.Sorted(maps.Keys(s)); !slices.Equal(keys, wantKeys) {
			t.Errorf("session keys %q; want %q", keys, wantKeys)
		}
		for _, k := range []string{"created_at", "last_used_at", "expires_at"} {
			if _, err := time.Parse(time.RFC3339, s[k].(string)); err != nil {
				t.Errorf("%s %q is not RFC 3339: %v", k, s[k], err)
			}
		}
		if s["ip"] != "127.0.0.1" {
			t.Errorf("session %s: ip %q; want 127.0.0.1", s["id"], s["ip"])
		}
		// Logged in over HTTP: the login is the last use recorded so far.
		if s["last_ip"] != s["ip"] || s["last_user_agent"] != s["user_agent"] {
			t.Errorf("session %s: last used from %q (%q); want the login's %q (%q)", s["id"], s["last_ip"], s["last_user_agent"], s["ip"], s["user_agent"])
		}
		if s["current"] == true {
			currents++
			if s["id"] != current.id || s["user_agent"] != "current-agent/2" {
				t.Errorf("current session %v; want id %s with its user agent", s, current.id)
			}
		}
	}
	if want := []string{newer.id, current.id, older.id}; !slices.Equal(ids, want) {
		t.Errorf("listed ids %q; want the active ones newest first %q", ids, want)
	}
	if currents != 1 {
		t.Errorf("%d sessions marked current; want 1", currents)
	}

	// A cookie works for reading without the CSRF header.
	r = f.asCookie(t, older, http.MethodGet, sessionsPath)
	wantStatus(t, r, http.StatusOK)
	decode(t, r, &got)
	if len(got.Sessions) != 3 || got.Sessions[2]["current"] != true || got.Sessions[2]["user_agent"] != "older-agent/1" {
		t.Errorf("listing by cookie of the oldest session: %v", got.Sessions)
	}
}

// A role dropped and created again under the same name is a new role: it
// does not see the sessions of the one before.
func TestOwnSessionsOfARecreatedRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	old := f.newSession(t, user, "pw")
	f.mustExec(t, "DROP ROLE "+user)
	f.mustExec(t, "CREATE ROLE "+user+" LOGIN PASSWORD 'pw2'")
	current := f.newSession(t, user, "pw2")

	var got ownSessions
	r := f.asHeader(t, current, http.MethodGet, sessionsPath)
	wantStatus(t, r, http.StatusOK)
	decode(t, r, &got)
	if len(got.Sessions) != 1 || got.Sessions[0]["id"] != current.id {
		t.Errorf("sessions %v; want only %s", got.Sessions, current.id)
	}
	wantError(t, f.asHeader(t, current, http.MethodDelete, sessionsPath+"/"+old.id), http.StatusNotFound, "session not found")
}

func TestRevokeOwnSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	current := f.newSession(t, user, "pw")
	target := f.newSession(t, user, "pw")

	r := f.asHeader(t, current, http.MethodDelete, sessionsPath+"/"+target.id, "User-Agent", "revoker/1")
	wantStatus(t, r, http.StatusNoContent)
	if r.body != "" {
		t.Errorf("204 with body %q", r.body)
	}
	if f.works(t, target) {
		t.Error("the revoked session still works")
	}
	if !f.works(t, current) {
		t.Error("the calling session stopped working")
	}
	first := f.revokedAt(t, target.id)

	// Again: the same answer, the first revoked_at, no second event.
	wantStatus(t, f.asHeader(t, current, http.MethodDelete, sessionsPath+"/"+target.id), http.StatusNoContent)
	if again := f.revokedAt(t, target.id); first == nil || again == nil || !again.Equal(*first) {
		t.Errorf("revoked_at %v after a second revoke; want the first, %v", again, first)
	}
	want := []event{{Event: "session.revoked", Actor: user, Username: user, SessionID: target.id,
		Via: "http", ClientAddr: "127.0.0.1", UserAgent: "revoker/1", Detail: "{}"}}
	if got := f.changeEvents(t); !slices.Equal(got, want) {
		t.Errorf("events %+v; want %+v", got, want)
	}
}

func TestRevokeOwnCurrentSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	current := f.newSession(t, user, "pw")

	r := f.asHeader(t, current, http.MethodDelete, sessionsPath+"/"+current.id)
	wantStatus(t, r, http.StatusOK)
	if r.body != `{"is_current":true}`+"\n" {
		t.Errorf("body %q; want is_current", r.body)
	}
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "session=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("Set-Cookie %q does not delete the cookie", sc)
	}
	wantUnauthorized(t, f.whoami(t, current.value))
	wantUnauthorized(t, f.asHeader(t, current, http.MethodGet, sessionsPath))
	if got := f.eventsOf(t, "session.revoked"); len(got) != 1 || got[0].SessionID != current.id {
		t.Errorf("events %+v; want one for %s", got, current.id)
	}
}

// A missing id, someone else's and a malformed one get the same answer, and
// change nothing.
func TestRevokeOwnSessionNotFoundIsUniform(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	other := f.newRole(t, "pw")
	caller := f.newSession(t, user, "pw")
	foreign := f.newSession(t, other, "pw")

	for _, id := range []string{
		foreign.id, "1", "9223372036854775807", "0", "-5",
		"abc", "1.5", "99999999999999999999", "%20", "0x10", caller.id + "0",
	} {
		r := f.asHeader(t, caller, http.MethodDelete, sessionsPath+"/"+id)
		wantError(t, r, http.StatusNotFound, "session not found")
	}
	if !f.works(t, foreign) || f.revokedAt(t, foreign.id) != nil {
		t.Error("the other user's session was revoked")
	}
	if got := f.changeEvents(t); len(got) != 0 {
		t.Errorf("events %+v; want none", got)
	}
}

func TestLogoutAll(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	other := f.newRole(t, "pw")
	current := f.newSession(t, user, "pw")
	second := f.newSession(t, user, "pw")
	third := f.newSession(t, user, "pw")
	bystander := f.newSession(t, other, "pw")

	r := f.asHeader(t, current, http.MethodPost, "/api/v1/auth/logout-all?keep_current=true")
	wantStatus(t, r, http.StatusOK)
	if r.body != `{"revoked":2}`+"\n" {
		t.Errorf("keep_current: body %q; want 2 revoked", r.body)
	}
	if sc := r.header.Get("Set-Cookie"); sc != "" {
		t.Errorf("keep_current cleared the cookie: %q", sc)
	}
	if !f.works(t, current) || f.works(t, second) || f.works(t, third) {
		t.Error("keep_current: want only the calling session left working")
	}

	// Nothing left to revoke but the caller's own: no change, no event.
	r = f.asHeader(t, current, http.MethodPost, "/api/v1/auth/logout-all?keep_current=true")
	if r.status != http.StatusOK || r.body != `{"revoked":0}`+"\n" {
		t.Errorf("keep_current again: %d %q; want 0 revoked", r.status, r.body)
	}

	fourth := f.newSession(t, user, "pw")
	r = f.asHeader(t, current, http.MethodPost, "/api/v1/auth/logout-all", "User-Agent", "everywhere/1")
	if r.status != http.StatusOK || r.body != `{"revoked":2}`+"\n" {
		t.Errorf("logout-all: %d %q; want 2 revoked", r.status, r.body)
	}
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("logout-all did not clear the cookie: %q", sc)
	}
	if f.works(t, current) || f.works(t, fourth) {
		t.Error("logout-all left a session of the caller working")
	}
	if !f.works(t, bystander) {
		t.Error("logout-all revoked another user's session")
	}

	want := []event{
		{Event: "user.logged_out", Actor: user, Username: user, Via: "http", ClientAddr: "127.0.0.1",
			UserAgent: "Go-http-client/1.1", Detail: `{"revoked": 2, "keep_current": true}`},
		{Event: "user.logged_out", Actor: user, Username: user, Via: "http", ClientAddr: "127.0.0.1",
			UserAgent: "everywhere/1", Detail: `{"revoked": 2, "keep_current": false}`},
	}
	if got := f.changeEvents(t); !slices.Equal(got, want) {
		t.Errorf("events %+v; want %+v", got, want)
	}

	fresh := f.newSession(t, user, "pw")
	wantError(t, f.asHeader(t, fresh, http.MethodPost, "/api/v1/auth/logout-all?keep_current=maybe"),
		http.StatusBadRequest, `invalid keep_current "maybe": want true or false`)
	if !f.works(t, fresh) {
		t.Error("a bad request revoked the session")
	}
}

func TestSessionAPINeedsASession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, route := range []struct{ method, path string }{
		{http.MethodGet, sessionsPath},
		{http.MethodDelete, sessionsPath + "/1"},
		{http.MethodPost, "/api/v1/auth/logout-all"},
		{http.MethodGet, "/api/v1/admin/sessions"},
		{http.MethodDelete, "/api/v1/admin/sessions/1"},
		{http.MethodPost, "/api/v1/admin/users/x/logout"},
	} {
		wantUnauthorized(t, f.do(t, route.method, route.path, nil))
		wantUnauthorized(t, f.do(t, route.method, route.path, nil, auth.HeaderName, "garbage", "X-Requested-With", "x"))
	}
}

// TestCSRFGuard: a state-changing request authenticated by the cookie needs
// X-Requested-With; one authenticated by a header does not.
func TestCSRFGuard(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.newRole(t, "pw")
	f.mustExec(t, "GRANT admin TO "+admin)
	caller := f.newSession(t, admin, "pw")

	type request func(t *testing.T, method, path string, header ...string) response
	byCookie := func(t *testing.T, method, path string, header ...string) response {
		return f.asCookie(t, caller, method, path, header...)
	}
	byHeader := func(t *testing.T, method, path string, header ...string) response {
		return f.asHeader(t, caller, method, path, header...)
	}
	byBearer := func(t *testing.T, method, path string, header ...string) response {
		return f.do(t, method, path, nil, append([]string{"Authorization", "Bearer " + caller.value}, header...)...)
	}
	routes := []struct {
		name string
		// setUp returns the route for a fresh victim and reports whether
		// the route's change happened.
		setUp func(t *testing.T) (method, path string, changed func() bool)
	}{
		{"revoke own session", func(t *testing.T) (string, string, func() bool) {
			s := f.newSession(t, admin, "pw")
			return http.MethodDelete, sessionsPath + "/" + s.id, func() bool { return !f.works(t, s) }
		}},
		{"logout-all keep_current", func(t *testing.T) (string, string, func() bool) {
			s := f.newSession(t, admin, "pw")
			return http.MethodPost, "/api/v1/auth/logout-all?keep_current=true", func() bool { return !f.works(t, s) }
		}},
		{"admin revoke", func(t *testing.T) (string, string, func() bool) {
			user := f.newRole(t, "pw")
			s := f.newSession(t, user, "pw")
			return http.MethodDelete, "/api/v1/admin/sessions/" + s.id, func() bool { return !f.works(t, s) }
		}},
		{"admin user logout", func(t *testing.T) (string, string, func() bool) {
			user := f.newRole(t, "pw")
			s := f.newSession(t, user, "pw")
			return http.MethodPost, "/api/v1/admin/users/" + user + "/logout", func() bool { return !f.works(t, s) }
		}},
	}
	tests := []struct {
		name       string
		send       request
		header     []string
		wantAccept bool
	}{
		{"cookie without X-Requested-With", byCookie, nil, false},
		{"cookie with an empty X-Requested-With", byCookie, []string{"X-Requested-With", ""}, false},
		{"cookie with X-Requested-With", byCookie, []string{"X-Requested-With", "auth-session"}, true},
		{"X-Auth-Session header without it", byHeader, nil, true},
		{"bearer without it", byBearer, nil, true},
	}
	for _, route := range routes {
		for _, tt := range tests {
			t.Run(route.name+"/"+tt.name, func(t *testing.T) {
				method, path, changed := route.setUp(t)
				before := len(f.changeEvents(t))
				r := tt.send(t, method, path, tt.header...)
				if !tt.wantAccept {
					wantError(t, r, http.StatusForbidden, "missing X-Requested-With header (CSRF guard)")
					if changed() {
						t.Error("the refused request changed something")
					}
					if after := len(f.changeEvents(t)); after != before {
						t.Errorf("the refused request wrote %d events", after-before)
					}
					return
				}
				if r.status >= 300 {
					t.Fatalf("got %d %s; want success", r.status, r.body)
				}
				if !changed() {
					t.Error("the accepted request changed nothing")
				}
			})
		}
	}
	if !f.works(t, caller) {
		t.Error("the caller's session was revoked")
	}
}

// TestNoChangeWithoutItsEvent makes every event insert fail: each change
// must then roll back, leaving every session as it was.
func TestNoChangeWithoutItsEvent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.newRole(t, "pw")
	f.mustExec(t, "GRANT admin TO "+admin)
	user := f.newRole(t, "pw")
	caller := f.newSession(t, admin, "pw")
	own := f.newSession(t, admin, "pw")
	victim := f.newSession(t, user, "pw")
	f.mustExec(t, `CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN RAISE EXCEPTION 'audit trail is read-only in this test'; END$$`)
	f.mustExec(t, `CREATE TRIGGER refuse_event BEFORE INSERT ON system.session_events
FOR EACH ROW EXECUTE FUNCTION refuse_event()`)

	for _, route := range []struct{ method, path string }{
		{http.MethodDelete, sessionsPath + "/" + own.id},
		{http.MethodDelete, sessionsPath + "/" + caller.id},
		{http.MethodPost, "/api/v1/auth/logout-all"},
		{http.MethodPost, "/api/v1/auth/logout-all?keep_current=true"},
		{http.MethodDelete, "/api/v1/admin/sessions/" + victim.id},
		{http.MethodPost, "/api/v1/admin/users/" + user + "/logout"},
	} {
		r := f.asHeader(t, caller, route.method, route.path)
		wantError(t, r, http.StatusServiceUnavailable, "the database is unavailable")
		if sc := r.header.Get("Set-Cookie"); sc != "" {
			t.Errorf("%s %s: a failed change set a cookie: %q", route.method, route.path, sc)
		}
	}
	for _, s := range []session{caller, own, victim} {
		if f.revokedAt(t, s.id) != nil || !f.works(t, s) {
			t.Errorf("session %s was revoked without its event", s.id)
		}
	}
}
