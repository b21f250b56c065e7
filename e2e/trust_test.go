package e2e

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/auth"
)

// TestSchemaOwnedByOutsiderIsRefused is the attack of issue 17's first
// finding: a role outside admin that owns the schema of the session tables
// replaces web_sessions with a table of its own, holding a session for the
// superuser and a trigger that makes it a superuser when a superuser
// writes to the table. Every command and serve must refuse such a schema
// before they read or write anything in it; init must refuse to adopt it.
func TestSchemaOwnedByOutsiderIsRefused(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	u, _ := url.Parse(dbURL)
	superuser := u.User.Username()
	app := pgtest.UniqueName("app")
	pgtest.MustExec(t, dbURL, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'apppw'", app))
	t.Cleanup(func() {
		pgtest.MustExec(t, dbURL, "DROP SCHEMA IF EXISTS app_auth, app_pre CASCADE; DROP OWNED BY "+app+"; DROP ROLE IF EXISTS "+app)
	})
	appURL := pgtest.WithUser(dbURL, app, "apppw")

	// The application's own schema, made by the application's role before
	// init: init must not adopt it, and must leave nothing in it.
	pgtest.MustExec(t, dbURL, "CREATE SCHEMA app_pre AUTHORIZATION "+app)
	r := run(t, "init", "--url", dbURL, "--schema", "app_pre")
	if r.code != 1 || !strings.Contains(r.stderr, "schema app_pre") || !strings.Contains(r.stderr, "owned by "+app) {
		t.Errorf("init in a schema owned by %s: want exit 1 naming the schema and its owner:\n%s", app, r)
	}
	var tables int
	s := &site{dbURL: dbURL}
	s.query(t, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app_pre'", nil, &tables)
	if tables != 0 {
		t.Errorf("init left %d relations in the schema it refused", tables)
	}

	// The same state reached after init: the schema handed to the role.
	if r := run(t, "init", "--url", dbURL, "--schema", "app_auth"); r.code != 0 {
		t.Fatalf("init --schema app_auth: %s", r)
	}
	web := pgtest.UniqueName("web_user")
	pgtest.MustExec(t, dbURL, fmt.Sprintf("CREATE ROLE %s LOGIN", web))
	t.Cleanup(func() { pgtest.MustExec(t, dbURL, "DROP ROLE IF EXISTS "+web) })
	pgtest.MustExec(t, dbURL, "ALTER SCHEMA app_auth OWNER TO "+app)

	secret := make([]byte, auth.SecretLen)
	rand.Read(secret) //nolint:errcheck
	const forgedID = 1 << 40
	pgtest.MustExec(t, appURL, `DROP TABLE app_auth.web_sessions CASCADE;
CREATE TABLE app_auth.web_sessions (
    id BIGINT PRIMARY KEY DEFAULT (random() * 1e15)::BIGINT, hashed_secret BYTEA NOT NULL, username TEXT NOT NULL, user_id BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(), expires_at TIMESTAMPTZ NOT NULL, revoked_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ NOT NULL DEFAULT now(), audit_info JSONB NOT NULL DEFAULT '{}', client_ip INET);
CREATE FUNCTION app_auth.escalate() RETURNS trigger LANGUAGE plpgsql AS
    $f$ BEGIN EXECUTE 'ALTER ROLE `+app+` SUPERUSER'; RETURN NEW; END $f$;
CREATE TRIGGER escalate BEFORE INSERT OR UPDATE ON app_auth.web_sessions
    FOR EACH ROW EXECUTE FUNCTION app_auth.escalate();
GRANT ALL ON app_auth.web_sessions TO admin`)
	pgtest.MustExec(t, dbURL, "ALTER TABLE app_auth.web_sessions DISABLE TRIGGER escalate")
	pgtest.MustExec(t, dbURL, `INSERT INTO app_auth.web_sessions (id, hashed_secret, username, user_id, expires_at)
		VALUES ($1, $2, $3, (SELECT oid::BIGINT FROM pg_roles WHERE rolname::TEXT = $3::TEXT), now() + interval '1 hour')`,
		int64(forgedID), auth.HashSecret(secret), superuser)
	pgtest.MustExec(t, dbURL, "ALTER TABLE app_auth.web_sessions ENABLE TRIGGER escalate")

	for _, args := range [][]string{
		{"login", web}, {"logout", web}, {"list"}, {"events"}, {"revoke", "--user", web, "--yes"},
		{"purge", "--dry-run"}, {"init"},
	} {
		r := run(t, append(args, "--url", dbURL, "--schema", "app_auth")...)
		if r.code != 1 || !strings.Contains(r.stderr, "schema app_auth is owned by "+app) {
			t.Errorf("%s in a schema owned by %s: want exit 1 naming the schema and its owner:\n%s", args[0], app, r)
		}
		var super bool
		s.query(t, "SELECT rolsuper FROM pg_roles WHERE rolname = $1", []any{app}, &super)
		if super {
			t.Fatalf("%s ran %s's trigger as a superuser: %s is a superuser now", args[0], app, app)
		}
	}
	r = sh(t, "", "timeout 20 auth-session serve --insecure --http-addr 127.0.0.1:0 --url '"+dbURL+"' --schema app_auth")
	if r.code != 1 || !strings.Contains(r.stderr, "schema app_auth is owned by "+app) {
		t.Errorf("serve in a schema owned by %s: want exit 1 naming the schema and its owner:\n%s", app, r)
	}
}

// TestUntrustedObjectsAreRefused: with the schema owned by a superuser,
// each other way in is refused by name: a table or function owned by a
// role outside admin, CREATE on the schema held by one (or by PUBLIC), and
// a trigger on the sessions table that init did not create.
func TestUntrustedObjectsAreRefused(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	if r := run(t, "init", "--url", dbURL); r.code != 0 {
		t.Fatalf("init: %s", r)
	}
	app := pgtest.UniqueName("app")
	pgtest.MustExec(t, dbURL, fmt.Sprintf("CREATE ROLE %s LOGIN", app))
	t.Cleanup(func() { pgtest.MustExec(t, dbURL, "DROP OWNED BY "+app+"; DROP ROLE IF EXISTS "+app) })
	for _, c := range []struct {
		name, breakIt, want, repair string
	}{
		{"table owner", "ALTER TABLE system.web_session_logouts OWNER TO " + app,
			"table system.web_session_logouts is owned by " + app, "ALTER TABLE system.web_session_logouts OWNER TO CURRENT_USER"},
		{"sequence owner", "ALTER SEQUENCE system.row_id_seq OWNER TO " + app,
			"sequence system.row_id_seq is owned by " + app, "ALTER SEQUENCE system.row_id_seq OWNER TO CURRENT_USER"},
		{"function", "CREATE FUNCTION system.f() RETURNS int LANGUAGE sql AS 'SELECT 1'; ALTER FUNCTION system.f() OWNER TO " + app,
			"function system.f() is owned by " + app, "DROP FUNCTION system.f()"},
		{"create privilege", "GRANT CREATE ON SCHEMA system TO " + app,
			app + " may create objects in schema system", "REVOKE CREATE ON SCHEMA system FROM " + app},
		{"create for everyone", "GRANT CREATE ON SCHEMA system TO PUBLIC",
			"PUBLIC may create objects in schema system", "REVOKE CREATE ON SCHEMA system FROM PUBLIC"},
		{"trigger", "CREATE FUNCTION public.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'; " +
			"CREATE TRIGGER t BEFORE INSERT ON system.web_sessions FOR EACH ROW EXECUTE FUNCTION public.noop()",
			"trigger t on table system.web_sessions was not created by auth-session init", "DROP TRIGGER t ON system.web_sessions; DROP FUNCTION public.noop()"},
		{"rule", "CREATE RULE r AS ON INSERT TO system.session_events DO ALSO NOTIFY x",
			"rule r on table system.session_events was not created by auth-session init", "DROP RULE r ON system.session_events"},
	} {
		pgtest.MustExec(t, dbURL, c.breakIt)
		r := run(t, "list", "--url", dbURL)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want exit 1 and %q:\n%s", c.name, c.want, r)
		}
		pgtest.MustExec(t, dbURL, c.repair)
		if r := run(t, "list", "--url", dbURL); r.code != 0 {
			t.Errorf("%s repaired: %s", c.name, r)
		}
	}
}

// TestInitAdoptsAdminRoleOnlyWhenTold: an admin role that init did not
// create is reported with what it can do (LOGIN, its members), and init
// stops unless --adopt says to take it. A cluster of its own: roles are
// shared by every database of a cluster.
func TestInitAdoptsAdminRoleOnlyWhenTold(t *testing.T) {
	t.Parallel()
	dbURL := ownCluster(t)
	pgtest.MustExec(t, dbURL, "CREATE ROLE admin LOGIN PASSWORD 'x'; CREATE ROLE intern LOGIN IN ROLE admin")

	r := run(t, "init", "--url", dbURL)
	if r.code != 1 || !strings.Contains(r.stderr, `role "admin" exists and was not created by auth-session init`) ||
		!strings.Contains(r.stderr, "it can log in") || !strings.Contains(r.stderr, "intern") || !strings.Contains(r.stderr, "--adopt") {
		t.Errorf("init with a foreign admin role: want exit 1 reporting LOGIN and the member intern, and --adopt:\n%s", r)
	}
	var schemas int
	(&site{dbURL: dbURL}).query(t, "SELECT count(*) FROM pg_namespace WHERE nspname = 'system'", nil, &schemas)
	if schemas != 0 {
		t.Errorf("the refused init created the system schema")
	}
	r = run(t, "init", "--url", dbURL, "--adopt")
	if r.code != 0 || !strings.Contains(r.stderr, "intern") {
		t.Errorf("init --adopt: want exit 0 and a warning that still names intern:\n%s", r)
	}
	// Adopted once, the role is init's: no more questions.
	if r := run(t, "init", "--url", dbURL); r.code != 0 {
		t.Errorf("init after --adopt: %s", r)
	}
}
