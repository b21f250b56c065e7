package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// TestLogoutRefusesALoginHeldOpenAcrossIt holds a login's transaction open
// (its session inserted, not committed) while the built binary's logout runs
// and returns, then commits it: serve refuses the cookie that login minted,
// and list does not show it as active. Before logout recorded its instant,
// such a session stayed live.
func TestLogoutRefusesALoginHeldOpenAcrossIt(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	held, err := sql.CreateSession(ctx, tx, sql.NewSession{Username: s.user, HashedSecret: auth.HashSecret(secret), ExpireAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if r := run(t, "logout", s.user, "--url", s.adminURL); r.code != 0 {
		t.Fatalf("logout: %s", r)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	cookie := auth.CookieName + "=" + auth.EncodeValue(held.ID, secret)

	r := curl(t, "--cookie", cookie, srv.url+"/api/v2/whoami")
	wantStatus(t, "whoami with the session of the login held open across the logout", r, 401)
	list := run(t, "list", "--active", "--user", s.user, "--format", "tsv", "--url", s.adminURL)
	if list.code != 0 || strings.Contains(list.stdout, strconv.FormatInt(held.ID, 10)) {
		t.Errorf("list --active shows the session refused since the logout:\n%s", list)
	}
	// A login after the logout works.
	after := apiLogin(t, srv, s.user, s.password)
	wantStatus(t, "whoami after a later login", curl(t, "-H", auth.HeaderName+": "+after, srv.url+"/api/v2/whoami"), 200)
}
