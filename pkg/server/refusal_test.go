package server_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/pkg/outage"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// TestRefusalAfterRightPasswordIsAFailedLogin: a role the database refuses
// after checking its password (CONNECTION LIMIT 0, no CONNECT on the
// database) gets the very 401 a wrong password gets, a login.failed event
// that keeps the database's reason, and a place in the throttle's count;
// repeating it does not put the server into outage mode.
func TestRefusalAfterRightPasswordIsAFailedLogin(t *testing.T) {
	t.Parallel()
	limits := sql.LoginLimits{PerUserAddress: 5, PerAddress: 100, Window: time.Minute}
	guard := outage.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	f := newFixture(t, func(c *server.Config) {
		pinLimits(c, limits)
		c.Outage = guard
	})
	limited := f.newRole(t, "right-pw")
	f.mustExec(t, "ALTER ROLE "+limited+" CONNECTION LIMIT 0")
	noConnect := f.newRole(t, "right-pw")
	other := f.newRole(t, "other-pw")
	f.mustExec(t, `DO $$ BEGIN
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO `+other+`', current_database());
END $$`)

	for _, tc := range []struct{ user, reason string }{
		{limited, "too many connections for role"},
		{noConnect, "permission denied for database"},
	} {
		wrong := loginFrom(t, "127.0.0.1", f.url, tc.user, "wrong")
		for i := range limits.PerUserAddress - 1 {
			right := loginFrom(t, "127.0.0.1", f.url, tc.user, "right-pw")
			if right.status != wrong.status || right.body != wrong.body || right.status != 401 {
				t.Fatalf("%s, right password %d: %d %q; want what the wrong one got: %d %q",
					tc.user, i+1, right.status, right.body, wrong.status, wrong.body)
			}
		}
		var found int
		for _, e := range f.eventsOf(t, sql.EventLoginFailed) {
			if e.Username == tc.user && strings.Contains(e.Detail, tc.reason) {
				found++
			}
		}
		if found != limits.PerUserAddress-1 {
			t.Errorf("%d login.failed events of %s saying %q, want %d", found, tc.user, tc.reason, limits.PerUserAddress-1)
		}
		if r := loginFrom(t, "127.0.0.1", f.url, tc.user, "right-pw"); r.status != 429 {
			t.Errorf("%s after %d refusals: %d, want 429: refusals count as failures", tc.user, limits.PerUserAddress, r.status)
		}
	}
	if guard.Down() {
		t.Error("the server is in outage mode after refused logins")
	}
	if r := loginFrom(t, "127.0.0.1", f.url, other, "other-pw"); r.status != 200 {
		t.Errorf("another user's login: %d %s, want 200", r.status, r.body)
	}
	if strings.Contains(f.logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", f.logs)
	}
}
