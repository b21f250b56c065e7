package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// TestStandby runs the commands against a hot standby, and serve with
// --read-url checking sessions there, with real servers.
func TestStandby(t *testing.T) {
	t.Parallel()
	rep := startReplicated(t, true)
	onStandby := hostsURL([]*pgcluster.Cluster{rep.standby}, "web_admin", rep.adminPassword, "app", "any")
	onPrimary := hostsURL([]*pgcluster.Cluster{rep.primary}, "web_admin", rep.adminPassword, "app", "any")
	if r := run(t, "login", rep.user, "--url", rep.admin, "--only-cookie"); r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	waitReplayed(t, rep)

	t.Run("reading commands work", func(t *testing.T) {
		for _, args := range [][]string{
			{"list"}, {"list", "--summary"}, {"list", "--user", rep.user, "--format", "json"},
			{"events"}, {"purge", "--dry-run"},
		} {
			r := run(t, append(args, "--url", onStandby)...)
			if r.code != 0 {
				t.Errorf("%s on the standby: %s", strings.Join(args, " "), r)
			}
		}
	})
	t.Run("writing commands say what to do", func(t *testing.T) {
		for _, args := range [][]string{
			{"login", rep.user}, {"logout", rep.user}, {"logout", "--all", "--yes"},
			{"revoke", "--user", rep.user, "--yes"}, {"revoke", "1", "--yes"}, {"purge"},
			{"serve", "--insecure", "--http-addr", "127.0.0.1:0"},
		} {
			r := run(t, append(args, "--url", onStandby)...)
			if r.code != 1 || !strings.Contains(r.stderr, "is read-only (a hot standby") ||
				!strings.Contains(r.stderr, "SQLSTATE: 25006") || !strings.Contains(r.stderr, "HINT: connect to the primary, or") ||
				!strings.Contains(r.stderr, "target_session_attrs=read-write") || strings.Contains(r.stderr, "cannot execute") {
				t.Errorf("%s on the standby: want exit 1 naming the read-only server and the fix:\n%s", strings.Join(args, " "), r)
			}
		}
		if r := run(t, "init", "--url", hostsURL([]*pgcluster.Cluster{rep.standby}, rep.primary.SuperUser, rep.primary.SuperPassword, "app", "any")); r.code != 0 {
			// Up to date already: init has nothing to write.
			t.Errorf("init on an up-to-date standby: %s", r)
		}
	})

	t.Run("revoked on the primary, refused on the standby at once", func(t *testing.T) {
		srv := startServe(t, "--url", onPrimary, "--read-url", onStandby, "--insecure", "--log-level", "debug")
		// A commit that waits for the standby's flush and not its replay
		// (synchronous_commit = on in place of remote_apply) had 40 and 45
		// of 1,000 rounds accepted, one waiting for nothing (local) 351: at
		// 4 % the chance that 400 rounds all pass is about 1 in 10^7.
		const rounds = 400
		cookies := mintSessions(t, rep.primary.SuperURL("app"), rep.user, rounds)
		waitReplayed(t, rep)
		client := &http.Client{Timeout: 10 * time.Second}
		accepted := 0
		for i, c := range cookies {
			if got := whoami(client, srv.url, c); got != http.StatusOK {
				t.Fatalf("round %d: whoami before the logout: %d; want 200", i, got)
			}
			req, _ := http.NewRequest(http.MethodPost, srv.url+"/api/v2/logout/", nil)
			req.Header.Set("Cookie", c)
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("round %d: logout: %v %v", i, resp, err)
			}
			resp.Body.Close()
			if got := whoami(client, srv.url, c); got != http.StatusUnauthorized {
				accepted++
				t.Errorf("round %d: whoami right after the logout: %d; want 401", i, got)
			}
		}
		t.Logf("%d revocations through the primary, each checked on the synchronous standby at once: %d accepted", rounds, accepted)
		// The standby answered every lookup: none was asked of the primary.
		if n := strings.Count(srv.logs(), "asking the primary"); n > 0 {
			t.Errorf("%d lookups were asked of the primary; want all answered by the standby", n)
		}
		// serve's log is read as it comes; give the last lines a moment.
		for deadline := time.Now().Add(5 * time.Second); strings.Count(srv.logs(), "reason=revoked") < rounds && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if n := strings.Count(srv.logs(), "reason=revoked"); n != rounds {
			t.Errorf("serve refused %d sessions as revoked; want %d", n, rounds)
		}
		if strings.Contains(srv.logs(), "level=WARN") || strings.Contains(srv.logs(), "level=ERROR") {
			t.Errorf("serve warned:\n%s", srv.logs())
		}
	})

	// Last: it pauses the standby's replay.
	t.Run("a standby that stopped replaying: revocations say so within the bound", func(t *testing.T) {
		onStandbySuper := rep.standby.SuperURL("postgres")
		cli := run(t, "login", rep.user, "--url", rep.admin, "--only-cookie")
		if cli.code != 0 {
			t.Fatalf("login: %s", cli)
		}
		srv := startServe(t, "--url", onPrimary, "--insecure")
		api := apiLogin(t, srv, rep.user, rep.password)
		waitReplayed(t, rep)
		pgtest.MustExec(t, onStandbySuper, "SELECT pg_wal_replay_pause()")
		defer pgtest.MustExec(t, onStandbySuper, "SELECT pg_wal_replay_resume()")

		// The API, with serve's default bound.
		r := curl(t, "-X", "POST", "-H", auth.HeaderName+": "+api, "--max-time", "20", srv.url+"/api/v2/logout/")
		wantStatus(t, "API logout with replay paused", r, 504)
		for _, want := range []string{"committed on the primary", "not yet applied", `standby \"standby\"`} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("API logout with replay paused: want the body to say %q:\n%s", want, r)
			}
		}
		// The CLI, with the bound from the environment; timeout(1) ends a
		// command that waits for ever.
		r = sh(t, "", "AUTH_SESSION_STANDBY_TIMEOUT=2s timeout 20 auth-session logout "+rep.user+" --url '"+rep.admin+"'")
		for _, want := range []string{"ERROR: ", "committed on the primary", "not yet applied", `standby "standby"`, "HINT: ", "pg_wal_replay_resume()"} {
			if r.code != 1 || !strings.Contains(r.stderr, want) {
				t.Errorf("logout with replay paused on the synchronous standby: want exit 1 saying %q:\n%s", want, r)
			}
		}
		// A superuser sees which standby is behind in pg_stat_replication;
		// the bound from the flag.
		if r := run(t, "login", rep.user, "--url", rep.admin); r.code != 0 {
			t.Fatalf("login with replay paused: %s", r)
		}
		r = sh(t, "", "timeout 20 auth-session logout "+rep.user+" --standby-timeout 1s --url '"+rep.super+"'")
		if want := `committed on the primary but not yet applied on the synchronous standby "standby": no confirmation within 1s`; r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("logout as a superuser with replay paused: want exit 1 saying %q:\n%s", want, r)
		}
		// Committed on the primary: the sessions are refused there.
		wantStatus(t, "whoami on the primary after the API logout", curl(t, "-H", auth.HeaderName+": "+api, srv.url+"/api/v2/whoami"), 401)
		wantStatus(t, "whoami on the primary after the CLI logout", curl(t, "-H", auth.HeaderName+": "+sessionValue(t, cli.stdout), srv.url+"/api/v2/whoami"), 401)
	})
}

// mintSessions creates n sessions of user directly in the database and
// returns their cookies.
func mintSessions(t *testing.T, dbURL, user string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	cookies := make([]string, n)
	for i := range cookies {
		secret, err := auth.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		s, err := sql.NewStore(pool).Login(ctx, sql.NewSession{Username: user, HashedSecret: auth.HashSecret(secret), ExpireAfter: time.Hour},
			sql.Actor{Via: "cli"}, sql.LoginOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cookies[i] = auth.CookieName + "=" + auth.EncodeValue(s.ID, secret)
	}
	return cookies
}

// waitReplayed waits until the standby has replayed all the primary has
// written so far.
func waitReplayed(t *testing.T, rep *replicated) {
	t.Helper()
	var lsn string
	(&site{dbURL: rep.primary.SuperURL("postgres")}).query(t, "SELECT pg_current_wal_lsn()::TEXT", nil, &lsn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var caughtUp bool
		(&site{dbURL: rep.standby.SuperURL("postgres")}).query(t, "SELECT pg_last_wal_replay_lsn() >= '"+lsn+"'::PG_LSN", nil, &caughtUp)
		if caughtUp {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby has not replayed %s in 30s", lsn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
