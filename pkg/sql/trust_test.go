package sql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// TestTrustFindsEveryKindOfObject: an object of any kind in the schema,
// owned by a role outside superuser and admin, makes the schema untrusted,
// and is named in the error. Each kind is created, handed to the role,
// checked, then dropped again.
func TestTrustFindsEveryKindOfObject(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	ctx := testContext(t)
	app := pgtest.UniqueName("trust_app")
	pgtest.MustExec(t, dbURL, "CREATE ROLE "+app)
	t.Cleanup(func() { pgtest.MustExec(t, dbURL, "DROP OWNED BY "+app+"; DROP ROLE IF EXISTS "+app) })
	if err := CheckTrust(ctx, conn, DefaultSchema); err != nil {
		t.Fatalf("the schema as init made it: %v", err)
	}
	pgtest.MustExec(t, dbURL, "CREATE FOREIGN DATA WRAPPER trust_fdw; CREATE SERVER trust_server FOREIGN DATA WRAPPER trust_fdw")
	for _, c := range []struct {
		kind, create, owner, want, drop string
	}{
		{"table", "CREATE TABLE system.t (a int)", "ALTER TABLE system.t", "table system.t", "DROP TABLE system.t"},
		{"partitioned table", "CREATE TABLE system.pt (a int) PARTITION BY RANGE (a)", "ALTER TABLE system.pt", "table system.pt", "DROP TABLE system.pt"},
		{"view", "CREATE VIEW system.v AS SELECT 1 AS a", "ALTER VIEW system.v", "view system.v", "DROP VIEW system.v"},
		{"materialized view", "CREATE MATERIALIZED VIEW system.mv AS SELECT 1 AS a", "ALTER MATERIALIZED VIEW system.mv", "materialized view system.mv", "DROP MATERIALIZED VIEW system.mv"},
		{"sequence", "CREATE SEQUENCE system.s", "ALTER SEQUENCE system.s", "sequence system.s", "DROP SEQUENCE system.s"},
		{"foreign table", "CREATE FOREIGN TABLE system.ft (a int) SERVER trust_server", "ALTER FOREIGN TABLE system.ft", "foreign table system.ft", "DROP FOREIGN TABLE system.ft"},
		{"composite type", "CREATE TYPE system.ct AS (a int)", "ALTER TYPE system.ct", "type system.ct", "DROP TYPE system.ct"},
		{"enum", "CREATE TYPE system.e AS ENUM ('a')", "ALTER TYPE system.e", "type system.e", "DROP TYPE system.e"},
		{"domain", "CREATE DOMAIN system.d AS int", "ALTER DOMAIN system.d", "system.d", "DROP DOMAIN system.d"},
		{"function", "CREATE FUNCTION system.f(int) RETURNS int LANGUAGE sql AS 'SELECT $1'", "ALTER FUNCTION system.f(int)", "function system.f(integer)", "DROP FUNCTION system.f(int)"},
		{"procedure", "CREATE PROCEDURE system.p() LANGUAGE sql AS 'SELECT 1'", "ALTER PROCEDURE system.p()", "system.p()", "DROP PROCEDURE system.p()"},
		{"aggregate", "CREATE AGGREGATE system.agg(int) (SFUNC = int4pl, STYPE = int)", "ALTER AGGREGATE system.agg(int)", "system.agg(integer)", "DROP AGGREGATE system.agg(int)"},
		{"operator", "CREATE OPERATOR system.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)", "ALTER OPERATOR system.=== (int, int)", "operator system.===(integer,integer)", "DROP OPERATOR system.=== (int, int)"},
		{"operator family", "CREATE OPERATOR FAMILY system.of USING btree", "ALTER OPERATOR FAMILY system.of USING btree", "operator family system.of for access method btree", "DROP OPERATOR FAMILY system.of USING btree"},
		{"operator class", "CREATE OPERATOR CLASS system.oc FOR TYPE int USING hash AS OPERATOR 1 =, FUNCTION 1 hashint4(int)", "ALTER OPERATOR CLASS system.oc USING hash", "operator class system.oc for access method hash", "DROP OPERATOR FAMILY system.oc USING hash"},
		{"collation", "CREATE COLLATION system.c FROM \"C\"", "ALTER COLLATION system.c", "collation system.c", "DROP COLLATION system.c"},
		{"conversion", "CREATE CONVERSION system.cv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8", "ALTER CONVERSION system.cv", "conversion system.cv", "DROP CONVERSION system.cv"},
		{"text search configuration", "CREATE TEXT SEARCH CONFIGURATION system.tsc (COPY = simple)", "ALTER TEXT SEARCH CONFIGURATION system.tsc", "text search configuration system.tsc", "DROP TEXT SEARCH CONFIGURATION system.tsc"},
		{"text search dictionary", "CREATE TEXT SEARCH DICTIONARY system.tsd (TEMPLATE = simple)", "ALTER TEXT SEARCH DICTIONARY system.tsd", "text search dictionary system.tsd", "DROP TEXT SEARCH DICTIONARY system.tsd"},
		{"statistics object", "CREATE STATISTICS system.st ON username, user_id FROM system.web_sessions", "ALTER STATISTICS system.st", "statistics object system.st", "DROP STATISTICS system.st"},
	} {
		pgtest.MustExec(t, dbURL, c.create)
		pgtest.MustExec(t, dbURL, c.owner+" OWNER TO "+app)
		err := CheckTrust(ctx, conn, DefaultSchema)
		if err == nil || !strings.Contains(err.Error(), c.want+" is owned by "+app) {
			t.Errorf("%s owned by %s: got %v, want an error naming %q", c.kind, app, err, c.want)
		}
		pgtest.MustExec(t, dbURL, c.drop)
	}
	// An extension is owned by the role that creates it: a trusted
	// extension, which a role with CREATE on the schema may create.
	var database string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&database); err != nil {
		t.Fatal(err)
	}
	pgtest.MustExec(t, dbURL, fmt.Sprintf("GRANT CREATE ON SCHEMA system TO %s; GRANT CREATE ON DATABASE %s TO %s", app, database, app))
	pgtest.MustExec(t, dbURL, fmt.Sprintf("SET ROLE %s; CREATE EXTENSION citext SCHEMA system; RESET ROLE; REVOKE CREATE ON SCHEMA system FROM %s", app, app))
	err := CheckTrust(ctx, conn, DefaultSchema)
	if err == nil || !strings.Contains(err.Error(), "extension citext is owned by "+app) {
		t.Errorf("extension created by %s: got %v, want an error naming it", app, err)
	}
	pgtest.MustExec(t, dbURL, "DROP EXTENSION citext")
	if err := CheckTrust(ctx, conn, DefaultSchema); err != nil {
		t.Errorf("every object dropped again: %v", err)
	}
}
