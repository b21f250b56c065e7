package sql

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// heldLogin is a login transaction kept open while a test runs a logout.
type heldLogin struct {
	tx pgx.Tx
}

// beginLogin starts a login's transaction as Store.Login does, and
// makes sure it has begun (taken its now()) before it returns.
func beginLogin(t *testing.T, dbURL string) heldLogin {
	t.Helper()
	ctx := testContext(t)
	tx, err := mustConnect(t, dbURL).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, `SELECT now()`); err != nil {
		t.Fatal(err)
	}
	return heldLogin{tx: tx}
}

func (h heldLogin) mint(t *testing.T, username string) Session {
	t.Helper()
	s, err := createSession(testContext(t), h.tx, NewSession{Username: username, HashedSecret: []byte("x"), ExpireAfter: hour})
	if err != nil {
		t.Fatalf("create session for %q: %v", username, err)
	}
	return s
}

func (h heldLogin) commit(t *testing.T) {
	t.Helper()
	if err := h.tx.Commit(testContext(t)); err != nil {
		t.Fatal(err)
	}
}

const hour = 3600 * 1e9

// mustBeRefused checks that session id is refused by the session check and
// shown as inactive by every listing.
func mustBeRefused(t *testing.T, conn *pgx.Conn, s Session, why string) {
	t.Helper()
	ctx := testContext(t)
	check, err := CheckSession(ctx, conn, s.ID, CheckPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if allows(check) {
		t.Errorf("%s: session %d is accepted; want it refused", why, s.ID)
	}
	err = ListSessions(ctx, conn, ListFilter{Selection: Selection{Users: []string{s.Username}}}, func(l *ListedSession) error {
		if l.ID == s.ID && (l.Active || l.RevokedAt == nil) {
			t.Errorf("%s: list shows session %d as active %v, revoked at %v; want revoked", why, s.ID, l.Active, l.RevokedAt)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	own, err := ListOwnSessions(ctx, conn, Owner{Username: s.Username, UserID: s.UserID}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range own {
		if o.ID == s.ID {
			t.Errorf("%s: the user's own active sessions include session %d", why, s.ID)
		}
	}
	page, _, err := ListSessionsPage(ctx, conn, PageFilter{Selection: Selection{Users: []string{s.Username}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range page {
		if p.ID == s.ID && (p.Active || p.RevokedAt == nil) {
			t.Errorf("%s: admin listing shows session %d as active", why, s.ID)
		}
	}
}

func mustBeAccepted(t *testing.T, conn *pgx.Conn, s Session, why string) {
	t.Helper()
	check, err := CheckSession(testContext(t), conn, s.ID, CheckPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if !allows(check) {
		t.Errorf("%s: session %d is refused (%+v); want it accepted", why, s.ID, check)
	}
}

// newLoginRole creates a role that may log in, named uniquely for the test.
func newLoginRole(t *testing.T, dbURL string) string {
	t.Helper()
	name := pgtest.UniqueName("racer")
	pgtest.MustExec(t, dbURL, "CREATE ROLE "+name+" LOGIN")
	t.Cleanup(func() { pgtest.MustExec(t, dbURL, "DROP ROLE IF EXISTS "+name) })
	return name
}

// The logouts under test: the CLI's, which reads the revoked sessions back,
// and the API's logout-all and admin user logout, which do not.
var logouts = []struct {
	name   string
	logout func(ctx context.Context, store *Store, username string) error
}{
	{"LogOut with the sessions read back (CLI)", func(ctx context.Context, store *Store, username string) error {
		_, err := store.Revoke(ctx, OfUsers(username), RevokeOptions{By: Actor{Via: "cli"}}, func(RevokedSession) error { return nil })
		return err
	}},
	{"LogOut by count (API)", func(ctx context.Context, store *Store, username string) error {
		_, err := store.Revoke(ctx, OfUsers(username), RevokeOptions{By: Actor{Via: "http"}}, nil)
		return err
	}},
	{"LogOutUsers of several users (bulk CLI)", func(ctx context.Context, store *Store, username string) error {
		_, err := store.Revoke(ctx, OfUsers("someone_else", username, "a_third"), RevokeOptions{By: Actor{Via: "cli"}, Reason: "drill"}, nil)
		return err
	}},
	{"Lock (lock)", func(ctx context.Context, store *Store, username string) error {
		_, err := store.Revoke(ctx, OfUsers(username), RevokeOptions{By: Actor{Via: "cli"}, Lock: &LockSpec{}}, nil)
		return err
	}},
	// The user has no committed session when everyone is logged out: only
	// the logout of everyone, not one of the user, can refuse the logins.
	{"LogOutEveryone (logout --all)", func(ctx context.Context, store *Store, username string) error {
		_, err := store.Revoke(ctx, Everyone(), RevokeOptions{By: Actor{Via: "cli"}, Reason: "drill"}, nil)
		return err
	}},
	// Everyone but some (logout --all --except): the user has no committed
	// session either, and is not left out.
	{"Matching everyone but some (logout --all --except)", func(ctx context.Context, store *Store, username string) error {
		sel := Selection{ExceptUsers: []string{"someone_else"}, ExceptRoles: []string{"admin"}}
		_, err := store.Revoke(ctx, Matching(sel, nil), RevokeOptions{By: Actor{Via: "cli"}, Reason: "drill"}, nil)
		return err
	}},
}

func TestLogoutRefusesLoginsInFlight(t *testing.T) {
	t.Parallel()
	for _, lo := range logouts {
		t.Run(lo.name, func(t *testing.T) {
			t.Parallel()
			conn, dbURL := newStore(t)
			ctx := testContext(t)
			user := newLoginRole(t, dbURL)

			// Inserted before the logout, committed after it.
			inserted := beginLogin(t, dbURL)
			early := inserted.mint(t, user)
			// Begun before the logout, inserted and committed after it.
			begun := beginLogin(t, dbURL)

			if err := lo.logout(ctx, NewStore(conn), user); err != nil {
				t.Fatalf("logout: %v", err)
			}
			late := begun.mint(t, user)
			inserted.commit(t)
			begun.commit(t)
			mustBeRefused(t, conn, early, "inserted before the logout, committed after")
			mustBeRefused(t, conn, late, "begun before the logout, inserted after")

			// A login that begins after the logout is not affected.
			after := beginLogin(t, dbURL)
			fresh := after.mint(t, user)
			after.commit(t)
			mustBeAccepted(t, conn, fresh, "begun after the logout")
		})
	}
}

func TestLogoutKeepingCurrentSessionRefusesLoginsInFlight(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	ctx := testContext(t)
	user := newLoginRole(t, dbURL)
	current := beginLogin(t, dbURL)
	kept := current.mint(t, user)
	current.commit(t)

	held := beginLogin(t, dbURL)
	inFlight := held.mint(t, user)
	_, err := NewStore(conn).Revoke(ctx, OfUsers(user), RevokeOptions{By: Actor{Via: "http"}, KeepSession: kept.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	held.commit(t)
	mustBeAccepted(t, conn, kept, "the kept session")
	mustBeRefused(t, conn, inFlight, "in flight across a logout that kept another session")
}

func TestLogOutUsersOfNobodyDoesNothing(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	ctx := testContext(t)
	res, err := NewStore(conn).Revoke(ctx, OfUsers(), RevokeOptions{By: Actor{Via: "cli"}}, nil)
	if res != (RevokeResult{}) {
		t.Errorf("LogOutUsers of nobody = %+v, want nothing done", res)
	}
	if err != nil {
		t.Fatal(err)
	}
	if n := mustCount(t, conn, "system.web_session_logouts"); n != 0 {
		t.Errorf("%d logouts recorded for nobody", n)
	}
}

// allows reports whether check lets a request through, as auth.Verifier
// decides (the secret aside).
func allows(c SessionCheck) bool {
	return !c.Revoked && !c.Expired && !c.Idle && c.RoleValid
}
