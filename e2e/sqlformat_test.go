package e2e

import (
	"context"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgtest"
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
		pg_typeof(id)::TEXT || ' ' || pg_typeof(created_at)::TEXT || ' ' || pg_typeof(stale)::TEXT || ' ' || pg_typeof(username)::TEXT
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

// TestSQLFormatIsSafeWithoutStandardConformingStrings pipes events and list
// --format sql into psql on a database with standard_conforming_strings off,
// where a backslash in a '...' string escapes the quote after it, and with
// psql's client encoding Shift JIS, where a byte of a UTF-8 letter can take
// the backslash after it as its second byte. User-Agents sent by real curl,
// by a client that did not even log in, must come back exactly and run as
// nothing.
func TestSQLFormatIsSafeWithoutStandardConformingStrings(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	uas := []string{
		`x\'); CREATE TABLE pwned_by_ua(); --`,
		`ā\'); CREATE TABLE pwned_by_sjis(); --`,
		`back\\slash \n 'quoted' '' $$ $q$ E'\x41' \`,
	}
	for _, ua := range uas {
		wantStatus(t, "wrong password", curl(t, "-A", ua, "-d", "username="+s.user, "-d", "password=GUESS", srv.url+"/api/v2/login/"), 401)
		wantStatus(t, "right password", curl(t, "-A", ua, "-d", "username="+s.user, "-d", "password="+s.password, srv.url+"/api/v2/login/"), 200)
	}

	target := pgtest.NewDB(t)
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.MustExec(t, target, "ALTER DATABASE "+pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()+" SET standard_conforming_strings = off")
	var tables []string
	for _, encoding := range []string{"UTF8", "SJIS"} {
		for _, tc := range []struct{ command, table string }{
			{"events --user " + s.user, "events"},
			{"list --wide --user " + s.user, "sessions"},
		} {
			table := tc.table + "_" + strings.ToLower(encoding)
			tables = append(tables, table)
			script := "auth-session " + tc.command + " --url '" + s.adminURL + "' --format sql | sed 's/CREATE TABLE results/CREATE TABLE " +
				table + "/; s/INSERT INTO results/INSERT INTO " + table + "/' | PGCLIENTENCODING=" + encoding +
				" psql -X -q -v ON_ERROR_STOP=1 '" + target + "'"
			if r := sh(t, "", script); r.code != 0 || strings.Contains(r.stderr, "ERROR") {
				t.Errorf("%s --format sql | psql (client encoding %s): %s", tc.command, encoding, r)
			}
		}
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var scs, created string
	if err := conn.QueryRow(ctx, `SELECT current_setting('standard_conforming_strings'),
    (SELECT string_agg(relname, ' ' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r')`).Scan(&scs, &created); err != nil {
		t.Fatal(err)
	}
	if scs != "off" {
		t.Fatalf("standard_conforming_strings = %s in the target database, want off", scs)
	}
	sort.Strings(tables)
	if want := strings.Join(tables, " "); created != want {
		t.Errorf("tables in the target database: %s; want only %s", created, want)
	}
	for _, table := range tables {
		var got []string
		if err := conn.QueryRow(ctx, "SELECT COALESCE(array_agg(user_agent ORDER BY user_agent), '{}') FROM "+table).Scan(&got); err != nil {
			t.Errorf("read %s: %v", table, err)
			continue
		}
		want := append([]string(nil), uas...)
		if strings.HasPrefix(table, "events") {
			// A login.failed and a session.created event for each.
			want = append(want, uas...)
		}
		var sorted []string
		if err := conn.QueryRow(ctx, "SELECT COALESCE(array_agg(u ORDER BY u), '{}') FROM unnest($1::TEXT[]) u", want).Scan(&sorted); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "\x00") != strings.Join(sorted, "\x00") {
			t.Errorf("User-Agents in %s:\n%q\nwant exactly\n%q", table, got, sorted)
		}
	}
}
