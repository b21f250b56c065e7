package e2e

import (
	"strings"
	"testing"

	"github.com/auth-session/auth-session/pkg/pgtest"
)

// TestSQLFormatLoadsIntoPostgreSQL pipes --format sql into psql: it creates
// and fills a table with PostgreSQL types.
func TestSQLFormatLoadsIntoPostgreSQL(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	for range 2 {
		if r := run(t, "login", s.user, "--url", s.adminURL); r.code != 0 {
			t.Fatalf("login: %s", r)
		}
	}
	target := pgtest.NewDB(t)
	for _, tc := range []struct{ command, table string }{
		{"list --user " + s.user, "sessions"},
		{"list --summary", "summary"},
		{"events --user " + s.user, "events"},
		{"logout " + s.user, "logout"},
		{"purge --dry-run", "purge"},
	} {
		script := "auth-session " + tc.command + " --url '" + s.adminURL + "' --format sql | sed 's/CREATE TABLE results/CREATE TABLE " +
			tc.table + "/; s/INSERT INTO results/INSERT INTO " + tc.table + "/' | psql -X -q -v ON_ERROR_STOP=1 '" + target + "'"
		if r := sh(t, "", script); r.code != 0 || strings.Contains(r.stderr, "ERROR") {
			t.Errorf("%s --format sql | psql: %s", tc.command, r)
		}
	}
	var rows int
	var types string
	(&site{dbURL: target}).query(t, `SELECT (SELECT count(*) FROM sessions),
		pg_typeof(session_id)::TEXT || ' ' || pg_typeof(created_at)::TEXT || ' ' || pg_typeof(stale)::TEXT || ' ' || pg_typeof(username)::TEXT
		FROM sessions LIMIT 1`, nil, &rows, &types)
	if rows != 2 || types != "bigint timestamp with time zone boolean text" {
		t.Errorf("list --format sql loaded %d rows typed %q; want 2 rows typed bigint, timestamptz, boolean, text", rows, types)
	}
	var revoked int
	(&site{dbURL: target}).query(t, `SELECT count(*) FROM logout WHERE revoked_now AND revoked_at <= now()`, nil, &revoked)
	if revoked != 2 {
		t.Errorf("logout --format sql: %d rows revoked now with a time; want 2", revoked)
	}
}
