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

	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	// The store's own login, held before its commit until the logout has
	// returned.
	inserted, logoutDone := make(chan sql.Session, 1), make(chan struct{})
	loginDone := make(chan error, 1)
	go func() {
		_, err := sql.NewStore(conn).Login(ctx, sql.NewSession{Username: s.user, HashedSecret: auth.HashSecret(secret), ExpireAfter: time.Hour},
			sql.Actor{Name: "e2e", Via: "cli"}, sql.LoginOptions{BeforeCommit: func(held sql.Session) error {
				select {
				case inserted <- held:
				default:
				}
				<-logoutDone
				return nil
			}})
		loginDone <- err
	}()
	var held sql.Session
	select {
	case held = <-inserted:
	case err := <-loginDone:
		t.Fatalf("login: %v", err)
	}
	r := run(t, "logout", s.user, "--url", s.adminURL)
	close(logoutDone)
	if r.code != 0 {
		t.Fatalf("logout: %s", r)
	}
	if err := <-loginDone; err != nil {
		t.Fatal(err)
	}
	cookie := auth.CookieName + "=" + auth.EncodeValue(held.ID, secret)

	r = curl(t, "--cookie", cookie, srv.url+"/api/v2/whoami")
	wantStatus(t, "whoami with the session of the login held open across the logout", r, 401)
	list := run(t, "list", "--active", "--user", s.user, "--format", "tsv", "--url", s.adminURL)
	if list.code != 0 || strings.Contains(list.stdout, strconv.FormatInt(held.ID, 10)) {
		t.Errorf("list --active shows the session refused since the logout:\n%s", list)
	}
	// A login after the logout works.
	after := apiLogin(t, srv, s.user, s.password)
	wantStatus(t, "whoami after a later login", curl(t, "-H", auth.HeaderName+": "+after, srv.url+"/api/v2/whoami"), 200)
}
