package client_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/internal/sqltest"
	"github.com/auth-session/auth-session/pkg/client"
	"github.com/auth-session/auth-session/pkg/server"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture is a real server over a migrated database of the test's own.
type fixture struct {
	pool *pgxpool.Pool
	url  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool := sqltest.Migrated.NewPool(t)
	srv, err := server.New(server.Config{Pool: pool, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &fixture{pool: pool, url: ts.URL}
}

func (f *fixture) mustExec(t *testing.T, query string) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), query); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// newUser creates a login role with password "pw", dropped after the test,
// and returns a client logged in as it.
func (f *fixture) newUser(t *testing.T, grants ...string) (string, *client.Client) {
	t.Helper()
	name := pgtest.UniqueName("client_user")
	f.mustExec(t, "CREATE ROLE "+name+" LOGIN PASSWORD 'pw'")
	t.Cleanup(func() { f.pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+name) }) //nolint:errcheck
	for _, g := range grants {
		f.mustExec(t, "GRANT "+g+" TO "+name)
	}
	return name, f.login(t, name)
}

// login returns a new client logged in as name.
func (f *fixture) login(t *testing.T, name string) *client.Client {
	t.Helper()
	c := client.New(f.url)
	value, err := c.Login(context.Background(), name, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if value == "" || c.Session() != value {
		t.Fatalf("Login returned %q, client holds %q", value, c.Session())
	}
	return c
}

// wantAPIError fails the test unless err carries an *client.Error with
// status and message.
func wantAPIError(t *testing.T, err error, status int, message string) {
	t.Helper()
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T); want a *client.Error", err, err)
	}
	if apiErr.StatusCode != status || apiErr.Message != message {
		t.Errorf("error %d %q; want %d %q", apiErr.StatusCode, apiErr.Message, status, message)
	}
}

func TestSelfService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	name, c := f.newUser(t)
	laptop := f.login(t, name)
	phone := f.login(t, name)
	_, stranger := f.newUser(t)

	me, err := c.WhoAmI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if me.Username != name || me.SessionID == 0 || time.Until(me.ExpiresAt) <= 0 {
		t.Errorf("WhoAmI: %+v", me)
	}
	sessions, err := c.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	phoneID := mustWhoAmI(t, phone).SessionID
	laptopID := mustWhoAmI(t, laptop).SessionID
	var ids []int64
	for _, s := range sessions {
		ids = append(ids, s.ID)
		if s.Current != (s.ID == me.SessionID) || s.IP != "127.0.0.1" || s.CreatedAt.IsZero() {
			t.Errorf("session %+v", s)
		}
	}
	if want := []int64{phoneID, laptopID, me.SessionID}; !slices.Equal(ids, want) {
		t.Errorf("Sessions: ids %v; want newest first %v", ids, want)
	}

	if isCurrent, err := c.Revoke(ctx, laptopID); err != nil || isCurrent {
		t.Errorf("Revoke another session: %v, %v; want false, nil", isCurrent, err)
	}
	_, err = laptop.WhoAmI(ctx)
	wantAPIError(t, err, http.StatusUnauthorized, "a valid authentication cookie is required")

	// Someone else's id and ones that do not exist look the same.
	for _, id := range []int64{mustWhoAmI(t, stranger).SessionID, 1, 0} {
		_, err := c.Revoke(ctx, id)
		wantAPIError(t, err, http.StatusNotFound, "session not found")
	}

	revoked, err := c.LogoutAll(ctx, true)
	if err != nil || revoked != 1 {
		t.Errorf("LogoutAll(keepCurrent): %d, %v; want 1", revoked, err)
	}
	if _, err := phone.WhoAmI(ctx); err == nil {
		t.Error("the phone's session survived LogoutAll")
	}

	isCurrent, err := c.Revoke(ctx, me.SessionID)
	if err != nil || !isCurrent {
		t.Errorf("Revoke own session: %v, %v; want true, nil", isCurrent, err)
	}
	_, err = c.Sessions(ctx)
	wantAPIError(t, err, http.StatusUnauthorized, "a valid authentication cookie is required")
}

func TestLogoutAllRevokesTheCallerToo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	name, c := f.newUser(t)
	other := f.login(t, name)
	revoked, err := c.LogoutAll(ctx, false)
	if err != nil || revoked != 2 {
		t.Fatalf("LogoutAll: %d, %v; want 2", revoked, err)
	}
	for _, cl := range []*client.Client{c, other} {
		if _, err := cl.WhoAmI(ctx); err == nil {
			t.Error("a session survived LogoutAll")
		}
	}
}

func TestLoginAndLogout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	name, c := f.newUser(t)

	_, err := client.New(f.url).Login(ctx, name, "wrong")
	wantAPIError(t, err, http.StatusUnauthorized, "the username and password were refused")

	// Another client can use the session value, with its own *http.Client.
	var requests atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		requests.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	shared := client.New(f.url+"/", client.WithSession(c.Session()), client.WithHTTPClient(hc))
	if me, err := shared.WhoAmI(ctx); err != nil || me.Username != name {
		t.Errorf("WhoAmI with a shared session: %+v, %v", me, err)
	}
	if requests.Load() != 1 {
		t.Errorf("%d requests through the given http.Client; want 1", requests.Load())
	}

	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Session() != "" {
		t.Errorf("session %q kept after Logout", c.Session())
	}
	_, err = shared.WhoAmI(ctx)
	wantAPIError(t, err, http.StatusUnauthorized, "a valid authentication cookie is required")
	err = c.Logout(ctx)
	wantAPIError(t, err, http.StatusUnauthorized, "a valid authentication cookie is required")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	_, admin := f.newUser(t, "admin")
	user, userClient := f.newUser(t)
	second := f.login(t, user)
	third := f.login(t, user)

	// Walk every session of user, two at a time.
	var walked []int64
	filter := client.AdminFilter{User: user, Active: true, Limit: 2}
	for {
		page, err := admin.AdminSessions(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Sessions {
			walked = append(walked, s.ID)
			if s.Username != user || !s.Active || s.RevokedAt != nil || s.Via != "http" || s.Current {
				t.Errorf("session %+v", s)
			}
		}
		if page.Next == 0 {
			break
		}
		filter.Before = page.Next
	}
	want := []int64{mustWhoAmI(t, third).SessionID, mustWhoAmI(t, second).SessionID, mustWhoAmI(t, userClient).SessionID}
	if !slices.Equal(walked, want) {
		t.Errorf("walked %v; want %v", walked, want)
	}

	s, err := admin.AdminRevoke(ctx, want[0])
	if err != nil || s.ID != want[0] || s.RevokedAt == nil || s.Active {
		t.Errorf("AdminRevoke: %+v, %v", s, err)
	}
	_, err = admin.AdminRevoke(ctx, 1)
	wantAPIError(t, err, http.StatusNotFound, "session not found")

	revoked, err := admin.AdminLogoutUser(ctx, user)
	if err != nil || revoked != 2 {
		t.Errorf("AdminLogoutUser: %d, %v; want 2", revoked, err)
	}
	if revoked, err := admin.AdminLogoutUser(ctx, "no such user"); err != nil || revoked != 0 {
		t.Errorf("AdminLogoutUser of nobody: %d, %v; want 0", revoked, err)
	}

	_, plain := f.newUser(t)
	_, err = plain.AdminSessions(ctx, client.AdminFilter{})
	wantAPIError(t, err, http.StatusForbidden, "admin role required")
	_, err = plain.AdminRevoke(ctx, want[1])
	wantAPIError(t, err, http.StatusForbidden, "admin role required")
	_, err = plain.AdminLogoutUser(ctx, user)
	wantAPIError(t, err, http.StatusForbidden, "admin role required")
	_, err = admin.AdminSessions(ctx, client.AdminFilter{Limit: 9999})
	wantAPIError(t, err, http.StatusBadRequest, `invalid limit "9999": want a whole number from 1 to 5000`)
}

// An answer that is not JSON keeps its text as the message.
func TestErrorWithoutJSONBody(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v2/whoami":
			http.Error(w, "upstream is down", http.StatusBadGateway)
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer ts.Close()
	c := client.New(ts.URL)
	_, err := c.WhoAmI(context.Background())
	wantAPIError(t, err, http.StatusBadGateway, "upstream is down")
	if want := "whoami: HTTP 502: upstream is down"; err.Error() != want {
		t.Errorf("error %q; want %q", err, want)
	}
	_, err = c.Sessions(context.Background())
	wantAPIError(t, err, http.StatusTeapot, "i'm a teapot")
}

func mustWhoAmI(t *testing.T, c *client.Client) client.Identity {
	t.Helper()
	me, err := c.WhoAmI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return me
}

func TestAdminRevokeMatching(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	_, admin := f.newUser(t, "admin")
	user, first := f.newUser(t)
	second := f.login(t, user)
	other, otherClient := f.newUser(t)
	sel := client.Selection{Users: []string{user, other}, IP: "127.0.0.0/8", UserAgent: "GO-HTTP-CLIENT", State: "active"}

	res, err := admin.AdminRevokeMatching(ctx, client.Selection{Users: []string{user}, IP: "127.0.0.0/8", UserAgent: "go-http"}, true, "")
	if err != nil || res != (client.RevokeResult{Revoked: 2, Users: 1, DryRun: true}) {
		t.Errorf("dry run: %+v, %v; want 2 sessions of 1 user, dry run", res, err)
	}
	mustWhoAmI(t, first) // the dry run changed nothing

	res, err = admin.AdminRevokeMatching(ctx, sel, false, "incident 42")
	if err != nil || res != (client.RevokeResult{Revoked: 3, Users: 2}) {
		t.Errorf("revoke: %+v, %v; want 3 sessions of 2 users", res, err)
	}
	for _, c := range []*client.Client{first, second, otherClient} {
		_, err := c.WhoAmI(ctx)
		wantAPIError(t, err, http.StatusUnauthorized, "a valid authentication cookie is required")
	}
	mustWhoAmI(t, admin)
	res, err = admin.AdminRevokeMatching(ctx, client.Selection{Users: []string{user, other}, State: "revoked"}, false, "")
	if err != nil || res != (client.RevokeResult{AlreadyRevoked: 3}) {
		t.Errorf("revoke again: %+v, %v; want the 3 counted as already revoked", res, err)
	}

	_, err = admin.AdminRevokeMatching(ctx, client.Selection{IP: "300.1.1.1"}, false, "")
	wantAPIError(t, err, http.StatusBadRequest, `invalid ip "300.1.1.1": want an IP address (203.0.113.7, 2001:db8::1) or a network in CIDR notation (203.0.113.0/24, 2001:db8::/32)`)
	_, err = admin.AdminRevokeMatching(ctx, client.Selection{CreatedBefore: "yesterday"}, false, "")
	wantAPIError(t, err, http.StatusBadRequest, `invalid created_before "yesterday": want an RFC 3339 time such as 2026-11-30T12:00:00Z, or a duration ago such as 2h or 7d (units: ns, us, ms, s, m, h, d (days), w (weeks))`)
	_, err = admin.AdminRevokeMatching(ctx, client.Selection{State: "all"}, false, "")
	wantAPIError(t, err, http.StatusBadRequest, "the selection picks every session: give at least one of users, except_users, except_roles, state, expired_within, created_before, created_after, idle_for, ip, user_agent or via")
	_, plain := f.newUser(t)
	_, err = plain.AdminRevokeMatching(ctx, sel, false, "")
	wantAPIError(t, err, http.StatusForbidden, "admin role required")
	mustWhoAmI(t, admin)
}
