package server_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// listed returns session id as list shows it.
func (f *fixture) listed(t *testing.T, user, id string) sql.ListedSession {
	t.Helper()
	var found *sql.ListedSession
	err := sql.ListSessions(context.Background(), f.pool, sql.ListFilter{Selection: sql.Selection{Users: []string{user}}},
		func(s *sql.ListedSession) error {
			if strconv.FormatInt(s.ID, 10) == id {
				c := *s
				found = &c
			}
			return nil
		})
	if err != nil || found == nil {
		t.Fatalf("list session %s of %s: %v, found %v", id, user, err, found != nil)
	}
	return *found
}

// waitRevoked waits, up to a bound that only a hung sweep reaches, for the
// sweep that a refused request started to mark session id revoked.
func (f *fixture) waitRevoked(t *testing.T, user, id string) sql.ListedSession {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := f.listed(t, user, id)
		if l.Status == sql.StatusRevoked || time.Now().After(deadline) {
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPasswordChangeEndsSessions: a password changed in psql ends the
// role's sessions at once, the next request that presents one has it
// recorded as revoked, and the new password logs in.
func TestPasswordChangeEndsSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "old-pw")
	s := f.newSession(t, user, "old-pw")
	if !f.works(t, s) {
		t.Fatal("a fresh session is refused")
	}
	f.mustExec(t, "ALTER ROLE "+user+" PASSWORD 'new-pw'")
	wantUnauthorized(t, f.whoami(t, s.value))
	if l := f.waitRevoked(t, user, s.id); l.Status != sql.StatusRevoked || l.RevokeReason != sql.ReasonPasswordChanged {
		t.Errorf("list shows the session as %s (%q); want revoked, %q", l.Status, l.RevokeReason, sql.ReasonPasswordChanged)
	}
	if r := f.login(t, loginForm(user, "old-pw")); r.status != http.StatusUnauthorized {
		t.Errorf("login with the old password: %d %s; want 401", r.status, r.body)
	}
	if fresh := f.newSession(t, user, "new-pw"); !f.works(t, fresh) {
		t.Error("a session made with the new password is refused")
	}
	if events := f.eventsOf(t, sql.EventSessionsRevoked); len(events) != 1 || events[0].Username != user ||
		!strings.Contains(events[0].Detail, `"reason": "password changed"`) || events[0].Via != "serve" {
		t.Errorf("sessions.revoked events: %+v; want one for %s via serve with the reason", events, user)
	}
}

// TestReenabledRoleStaysLoggedOut: NOLOGIN then LOGIN, and VALID UNTIL in
// the past then the future, leave the sessions refused, although nothing
// presented them in between.
func TestReenabledRoleStaysLoggedOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for name, stmts := range map[string][]string{
		"NOLOGIN then LOGIN":           {"NOLOGIN", "LOGIN"},
		"VALID UNTIL past then future": {"VALID UNTIL '2001-01-01'", "VALID UNTIL 'infinity'"},
	} {
		t.Run(name, func(t *testing.T) {
			user := f.newRole(t, "pw")
			s := f.newSession(t, user, "pw")
			for _, st := range stmts {
				f.mustExec(t, "ALTER ROLE "+user+" "+st)
			}
			wantUnauthorized(t, f.whoami(t, s.value))
			if l := f.waitRevoked(t, user, s.id); l.RevokeReason != sql.ReasonRoleChanged {
				t.Errorf("list shows %s (%q); want revoked, %q", l.Status, l.RevokeReason, sql.ReasonRoleChanged)
			}
			if !f.works(t, f.newSession(t, user, "pw")) {
				t.Error("a new session of the re-enabled role is refused")
			}
		})
	}
}

// TestServersSweepOnce: two servers over one database, each asked at once
// by many requests presenting sessions of a role whose password changed,
// record the revocation once: one event per user.
func TestServersSweepOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	var values []string
	for range 4 {
		values = append(values, f.newSession(t, user, "pw").value)
	}
	f.mustExec(t, "ALTER ROLE "+user+" PASSWORD 'changed'")
	ctx, cancel := context.WithCancel(context.Background())
	var served sync.WaitGroup
	var urls []string
	for range 2 {
		srv, err := server.New(server.Config{Pool: f.pool, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, "http://"+ln.Addr().String())
		served.Go(func() {
			if err := srv.Serve(ctx, ln); err != nil {
				t.Error(err)
			}
		})
	}
	var requests sync.WaitGroup
	for i := range 40 {
		requests.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, urls[i%2]+"/api/v2/whoami", nil)
			req.Header.Set("Cookie", auth.CookieName+"="+values[i%len(values)])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("whoami with a session of a changed role: %d; want 401", resp.StatusCode)
			}
		})
	}
	requests.Wait()
	// Serve returns once its sweeps are done.
	cancel()
	served.Wait()
	events := f.eventsOf(t, sql.EventSessionsRevoked)
	if len(events) != 1 || !strings.Contains(events[0].Detail, `"revoked": 4`) {
		t.Errorf("sessions.revoked events: %+v; want one, of 4 sessions", events)
	}
}

// TestSettingOffBringsSessionsBack: with end-sessions-on-credential-change
// false, a session is refused while its role cannot log in, and accepted
// again once it can.
func TestSettingOffBringsSessionsBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := sql.NewStore(f.pool).SetSetting(context.Background(), sql.SettingEndSessionsOnCredentialChange, "false", sql.Actor{Via: "cli"}); err != nil {
		t.Fatal(err)
	}
	user := f.newRole(t, "pw")
	s := f.newSession(t, user, "pw")
	f.mustExec(t, "ALTER ROLE "+user+" NOLOGIN")
	wantUnauthorized(t, f.whoami(t, s.value))
	f.mustExec(t, "ALTER ROLE "+user+" LOGIN PASSWORD 'other'")
	if !f.works(t, s) {
		t.Error("the session of a re-enabled role is refused with the setting off")
	}
}

// TestBulkRevokeSweepsFirst: an admin's revocation by selection records the
// sessions a role's change already ended as the credential check revoked
// them ("password changed"), as the CLI's revoke does, not under the bulk
// revocation's own reason.
func TestBulkRevokeSweepsFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, caller := f.newAdmin(t)
	user := f.newRole(t, "old-pw")
	s := f.newSession(t, user, "old-pw")
	f.mustExec(t, "ALTER ROLE "+user+" PASSWORD 'new-pw'")
	// Nothing presents the session: only a sweep can record why it ended.
	r := f.revokeMatching(t, caller, `{"users":["`+user+`"],"reason":"incident 42"}`)
	if r.status != http.StatusOK {
		t.Fatalf("bulk revoke: %d %s", r.status, r.body)
	}
	if l := f.listed(t, user, s.id); l.Status != sql.StatusRevoked || l.RevokeReason != sql.ReasonPasswordChanged {
		t.Errorf("the session after the bulk revoke: %s, reason %q; want revoked, %q", l.Status, l.RevokeReason, sql.ReasonPasswordChanged)
	}
}
