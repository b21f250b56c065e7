package sql

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// TestTwoSchemasSideBySide: the schema is the connection's, not the
// process's, so two stores over two schemas of one database run side by
// side: each migrates, mints and lists in its own, and system stays empty.
func TestTwoSchemasSideBySide(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDB(t)
	ctx := testContext(t)
	user := pgtest.UniqueName("schemer")
	pgtest.MustExec(t, dbURL, "CREATE ROLE "+user+" LOGIN")
	t.Cleanup(func() { pgtest.MustExec(t, pgtest.AdminURL(), "DROP ROLE IF EXISTS "+user) })

	minted := map[string]int64{}
	for _, schema := range []string{"app_a", "app_b"} {
		conn, err := InSchema(mustConnect(t, dbURL), schema)
		if err != nil {
			t.Fatal(err)
		}
		if SchemaOf(conn) != schema {
			t.Fatalf("SchemaOf = %q, want %q", SchemaOf(conn), schema)
		}
		if _, err := Migrate(ctx, conn, MigrateOptions{}); err != nil {
			t.Fatalf("migrate %s: %v", schema, err)
		}
		s, err := NewStore(conn).Login(ctx, NewSession{Username: user, HashedSecret: []byte("x"), ExpireAfter: time.Hour}, Actor{Via: "cli"}, LoginOptions{})
		if err != nil {
			t.Fatalf("login in %s: %v", schema, err)
		}
		minted[schema] = s.ID
		// The touch is a function of the schema, over its own table.
		if err := TouchSessions(ctx, conn, []Touch{{SessionID: s.ID, ClientAddr: "192.0.2.3", UserAgent: schema}}, time.Minute); err != nil {
			t.Fatalf("touch in %s: %v", schema, err)
		}
		if l, _, err := GetListedSession(ctx, conn, s.ID, 0); err != nil || l.LastIP != "192.0.2.3" || l.LastUserAgent != schema {
			t.Errorf("touched in %s: last used from %q (%q), %v; want 192.0.2.3 (%s)", schema, l.LastIP, l.LastUserAgent, err, schema)
		}
	}
	for schema, id := range minted {
		conn, _ := InSchema(mustConnect(t, dbURL), schema)
		var ids []int64
		err := ListSessions(ctx, conn, ListFilter{}, func(l *ListedSession) error {
			ids = append(ids, l.ID)
			return nil
		})
		if err != nil || len(ids) != 1 || ids[0] != id {
			t.Errorf("list in %s: %v (%v); want only session %d", schema, ids, err, id)
		}
	}
	// A revocation bounded by the standbys' wait runs on a connection of
	// its own choosing (ownConn): it keeps the schema too.
	for schema, id := range minted {
		conn, _ := InSchema(mustConnect(t, dbURL), schema)
		res, err := NewStore(conn).Revoke(ctx, ByIDs(id), RevokeOptions{By: Actor{Via: "cli"}, StandbyTimeout: time.Second}, nil)
		if err != nil || res.Revoked != 1 {
			t.Errorf("revoke in %s: %+v, %v; want session %d revoked", schema, res, err, id)
		}
	}
	var systemTables int
	if err := mustConnect(t, dbURL).QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'system'`).Scan(&systemTables); err != nil || systemTables != 0 {
		t.Errorf("%d tables in system (%v); want none: both stores had their own schema", systemTables, err)
	}
	if _, err := InSchema(mustConnect(t, dbURL), "Bad-Name"); err == nil {
		t.Error("InSchema took an invalid schema name")
	}
}

// TestCheckSchemaName: a name InSchema takes needs no quoting and is not
// PostgreSQL's own.
func TestCheckSchemaName(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, name := range []string{"system", "_x", "a", "auth_2", long} {
		if err := CheckSchemaName(name); err != nil {
			t.Errorf("CheckSchemaName(%q): %v; want it accepted", name, err)
		}
	}
	for _, name := range []string{"", "1abc", "Bad", "a-b", "a b", "é", long + "a", "pg_x", "sys\x00tem"} {
		if err := CheckSchemaName(name); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			t.Errorf("CheckSchemaName(%q): %v; want an error naming it", name, err)
		}
	}
}
