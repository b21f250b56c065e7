package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// TestSchemaFlag keeps the tables in an application's own schema: every
// command and serve with --schema, and nothing in system.
func TestSchemaFlag(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	if r := run(t, "init", "--url", dbURL, "--schema", "app_auth"); r.code != 0 {
		t.Fatalf("init --schema app_auth: %s", r)
	}
	user := pgtest.UniqueName("web_user")
	pgtest.MustExec(t, dbURL, fmt.Sprintf("CREATE ROLE %s LOGIN", user))
	t.Cleanup(func() { pgtest.MustExec(t, dbURL, "DROP ROLE IF EXISTS "+user) })

	r := run(t, "login", user, "--url", dbURL, "--schema", "app_auth", "--only-cookie")
	if r.code != 0 {
		t.Fatalf("login --schema: %s", r)
	}
	cookie := strings.TrimSpace(r.stdout)
	srv := startServe(t, "--url", dbURL, "--schema", "app_auth", "--insecure")
	whoami := srv.url + "/api/v2/whoami"
	wantStatus(t, "whoami", sh(t, "", "curl --cookie '"+cookie+"' "+whoami+curlStatus), 200)

	// AUTH_SESSION_SCHEMA does what --schema does.
	r = sh(t, "", "AUTH_SESSION_SCHEMA=app_auth auth-session list --url '"+dbURL+"' --format tsv")
	if r.code != 0 || !strings.Contains(r.stdout, user) {
		t.Errorf("list with AUTH_SESSION_SCHEMA: %s", r)
	}
	for _, args := range [][]string{{"events"}, {"purge", "--dry-run"}, {"revoke", "--user", user, "--dry-run"}} {
		if r := run(t, append(args, "--url", dbURL, "--schema", "app_auth")...); r.code != 0 {
			t.Errorf("%s --schema: %s", strings.Join(args, " "), r)
		}
	}
	if r := run(t, "logout", user, "--url", dbURL, "--schema", "app_auth"); r.code != 0 {
		t.Fatalf("logout --schema: %s", r)
	}
	wantStatus(t, "whoami after logout", sh(t, "", "curl --cookie '"+cookie+"' "+whoami+curlStatus), 401)

	var inApp, inSystem int
	s := &site{dbURL: dbURL}
	s.query(t, `SELECT count(*) FILTER (WHERE table_schema = 'app_auth'), count(*) FILTER (WHERE table_schema = 'system')
		FROM information_schema.tables`, nil, &inApp, &inSystem)
	if inApp < 4 || inSystem != 0 {
		t.Errorf("%d tables in app_auth and %d in system; want all in app_auth, none in system", inApp, inSystem)
	}
	var sessions int
	s.query(t, "SELECT count(*) FROM app_auth.web_sessions WHERE revoked_at IS NOT NULL", nil, &sessions)
	if sessions != 1 {
		t.Errorf("%d revoked sessions in app_auth.web_sessions; want 1", sessions)
	}

	// The default schema is not there, nor another one: the commands say
	// to run init.
	if r := run(t, "list", "--url", dbURL); r.code != 1 || !strings.Contains(r.stderr, "not installed") {
		t.Errorf("list without --schema: want exit 1 saying the schema is not installed: %s", r)
	}
	if r := run(t, "list", "--url", dbURL, "--schema", "other"); r.code != 1 || !strings.Contains(r.stderr, "not installed in this database (in schema other, from --schema)") {
		t.Errorf("list --schema other: want exit 1 naming the schema: %s", r)
	}
	for _, bad := range []string{"App", "1abc", "pg_auth", "a-b", "x;DROP", strings.Repeat("a", 64)} {
		r := run(t, "list", "--url", dbURL, "--schema", bad)
		if r.code != 2 || !strings.Contains(r.stderr, fmt.Sprintf("%q", bad)) || !strings.Contains(r.stderr, "lower-case letters") {
			t.Errorf("--schema %q: want exit 2 naming it and what is accepted: %s", bad, r)
		}
	}
}
