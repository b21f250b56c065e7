package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// TestIdleTimeout: under an idle timeout a session not used for that long
// is refused as an expired one is, while one in use stays valid; the admin
// listing reads it as not active.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { pin(c, sql.SettingIdleTimeout, "1h") })
	user := f.newRole(t, "pw")
	idle := f.login(t, loginForm(user, "pw")).json(t)
	fresh := f.login(t, loginForm(user, "pw")).json(t)
	if r := f.whoami(t, idle["session"]); r.status != http.StatusOK {
		t.Fatalf("whoami of a new session: %d", r.status)
	}
	f.mustExec(t, `UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '61 minutes' WHERE id = $1`, idle["session_id"])
	wantUnauthorized(t, f.whoami(t, idle["session"]))
	if r := f.whoami(t, fresh["session"]); r.status != http.StatusOK {
		t.Errorf("whoami of the session in use: %d", r.status)
	}
	// Used 59 minutes ago: still valid.
	f.mustExec(t, `UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '59 minutes' WHERE id = $1`, fresh["session_id"])
	if r := f.whoami(t, fresh["session"]); r.status != http.StatusOK {
		t.Errorf("whoami of a session used 59 minutes ago under a 1h idle timeout: %d", r.status)
	}
	if want := "session refused\" reason=idle"; !strings.Contains(f.logs.String(), want) {
		t.Errorf("the debug log does not say %q:\n%s", want, f.logs.String())
	}
}

// TestMaxSessionsPerUser: a login beyond the limit revokes the user's least
// recently used sessions in its own transaction, with a session.revoked
// event whose reason is the limit; other users are untouched.
func TestMaxSessionsPerUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { pin(c, sql.SettingMaxSessionsPerUser, "2") })
	user := f.newRole(t, "pw")
	other := f.newRole(t, "pw")
	var sessions []map[string]string
	for range 3 {
		sessions = append(sessions, f.login(t, loginForm(user, "pw")).json(t))
	}
	otherSession := f.login(t, loginForm(other, "pw")).json(t)
	// The first login is the least recently used: the third revoked it.
	wantUnauthorized(t, f.whoami(t, sessions[0]["session"]))
	for _, s := range sessions[1:] {
		if r := f.whoami(t, s["session"]); r.status != http.StatusOK {
			t.Errorf("session %s: %d, want it kept", s["session_id"], r.status)
		}
	}
	// Using the older of the two makes the newer one the least recently used.
	f.mustExec(t, `UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '1 hour' WHERE id = $1`, sessions[2]["session_id"])
	fourth := f.login(t, loginForm(user, "pw")).json(t)
	wantUnauthorized(t, f.whoami(t, sessions[2]["session"]))
	for _, s := range []map[string]string{sessions[1], fourth, otherSession} {
		if r := f.whoami(t, s["session"]); r.status != http.StatusOK {
			t.Errorf("session %s: %d, want it kept", s["session_id"], r.status)
		}
	}
	var n int
	err := f.pool.QueryRow(t.Context(), `SELECT count(*) FROM system.session_events
WHERE event = 'session.revoked' AND detail->>'reason' = 'session limit' AND username = $1
  AND session_id IN ($2::BIGINT, $3::BIGINT)`, user, sessions[0]["session_id"], sessions[2]["session_id"]).Scan(&n)
	if err != nil || n != 2 {
		t.Errorf("%d session.revoked events with reason session limit (%v), want 2", n, err)
	}
}
