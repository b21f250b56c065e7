package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/pkg/server"
)

// TestLoginLastsAtMostTheCap: a max-session-lifetime lowered below serve's
// session lifetime while it runs shortens the API's sessions, and their
// cookie, to the cap.
func TestLoginLastsAtMostTheCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { c.SessionLifetime = 8 * time.Hour })
	user := f.newRole(t, "pw")
	f.mustExec(t, `INSERT INTO system.settings (name, value, set_by) VALUES ('max-session-lifetime', '2h', 'test')`)
	r := f.login(t, loginForm(user, "pw"))
	if r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	expires, err := time.Parse(time.RFC3339Nano, r.json(t)["expires_at"])
	if err != nil || time.Until(expires) > 2*time.Hour+time.Minute || time.Until(expires) < 2*time.Hour-time.Minute {
		t.Errorf("expires_at %v (%v); want about 2 hours from now, the cap", expires, err)
	}
	if cookie := r.header.Get("Set-Cookie"); !strings.Contains(cookie, "Max-Age=7200") {
		t.Errorf("Set-Cookie %q; want Max-Age=7200", cookie)
	}
}
