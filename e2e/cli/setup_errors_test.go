package clie2e

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// The connection flags are applied before ~/.pgpass is read, as libpq
// does: psql -h H -p P -U U with a password file line for H:P:*:U connects,
// and so must we.
func TestConnectionFlagsPickThePasswordFileLine(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	admin := newRole(t, dbURL, "pgpass_admin", "LOGIN PASSWORD 'from-pgpass' IN ROLE admin")
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	database := strings.TrimPrefix(u.Path, "/")
	passfile := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(passfile, []byte(u.Hostname()+":"+u.Port()+":*:"+admin+":from-pgpass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"PGPASSFILE=" + passfile, "PGSSLMODE=disable"}
	// The URL names another user and no password, or a wrong port.
	base := "postgres://nobody@" + u.Host + "/" + database + "?sslmode=disable"
	wrongPort := "postgres://" + admin + "@" + u.Hostname() + ":1/" + database + "?sslmode=disable"
	for _, args := range [][]string{
		{"list", "--url", base, "--sql-user", admin},
		{"list", "--url", wrongPort, "--port", u.Port()},
		{"list", "--host", u.Hostname(), "--port", u.Port(), "--sql-user", admin, "-d", database},
		{"list", "--url", "host=" + u.Hostname() + " port=1 user=nobody dbname=" + database, "--port", u.Port(), "--sql-user", admin},
	} {
		if r := runEnv(t, env, args...); r.code != 0 {
			t.Errorf("auth-session %q with a password file: %s", args, r)
		}
	}
}

// Each bad part of the connection settings is named, with what is accepted.
func TestBadConnectionSettingsAreNamed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url  string
		env  []string
		want string // regexp on stderr
	}{
		{"postgres://u@127.0.0.1:5432/db?sslmode=verify-full&sslrootcert=/nonexistent", nil,
			`sslrootcert "/nonexistent": no such file`},
		{"mysql://u@localhost/db", nil, `scheme "mysql": want postgres:// or postgresql://`},
		{"postgres://u@localhost:99999/db", nil, `port "99999": want a TCP port number, 1 to 65535`},
		{"postgres://u@localhost:abc/db", nil, `port "abc": want a TCP port number, 1 to 65535`},
		{"postgres://u@localhost/db?sslmode=bogus", nil, `sslmode "bogus": want disable, allow, prefer, require, verify-ca or verify-full`},
		{"postgres://u@localhost/db?port=0", nil, `port "0": want a TCP port number`},
		{"", []string{"PGPORT=abc"}, `PGPORT "abc": want a TCP port number`},
		{"", []string{"PGSSLMODE=bogus"}, `PGSSLMODE "bogus": want disable`},
	} {
		args := []string{"list"}
		if tt.url != "" {
			args = append(args, "--url", tt.url)
		}
		r := runEnv(t, tt.env, args...)
		if r.code != 2 || !regexp.MustCompile(tt.want).MatchString(r.stderr) || strings.Contains(r.stderr, "want postgres://user:password") {
			t.Errorf("%q %v: %s\nwant exit 2 and %s", tt.url, tt.env, r, tt.want)
		}
	}
}

// A member of admin that is no superuser may run init once the schema is
// current; before, it is told to run init once as a superuser.
func TestInitByAdminMember(t *testing.T) {
	t.Parallel()
	fresh := pgtest.NewDB(t)
	current := newDB(t)
	member := newRole(t, current, "init_member", "LOGIN PASSWORD 'pw'")
	pgtest.MustExec(t, current, "GRANT admin TO "+member)

	before := tableSnapshot(t, current)
	r := run(t, pgtest.WithUser(current, member, "pw"), "init")
	if r.code != 0 || !strings.Contains(r.stderr, "schema is up to date") {
		t.Errorf("init by a member of admin on a current schema: %s\nwant exit 0 and 'schema is up to date'", r)
	}
	if after := tableSnapshot(t, current); after != before {
		t.Errorf("init changed the tables")
	}
	r = run(t, pgtest.WithUser(fresh, member, "pw"), "init")
	if r.code != 1 || !strings.Contains(r.stderr, "HINT: run 'auth-session init' once as a superuser") {
		t.Errorf("init by a member of admin on a fresh database: %s\nwant exit 1 and a hint to run it once as a superuser", r)
	}
}

// Numbers and durations are taken as typed: no padding, no plus sign.
func TestStrictNumbersAndDurations(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	user := newRole(t, dbURL, "web_user", "LOGIN")
	before := tableSnapshot(t, dbURL)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"login", user, "--expire-after", " 1h"}, `invalid --expire-after " 1h"`},
		{[]string{"login", user, "--expire-after", "+1h"}, `invalid --expire-after "\+1h"`},
		{[]string{"login", user, "--expire-after", "1h "}, `invalid --expire-after "1h "`},
		{[]string{"revoke", "--yes", "-1"}, `invalid SESSION_ID "-1": want a positive integer`},
		{[]string{"revoke", "--yes", "+5"}, `invalid SESSION_ID "\+5"`},
		{[]string{"revoke", "--yes", " 5"}, `invalid SESSION_ID " 5"`},
		{[]string{"list", "--warn-stale-days", "abc"}, `invalid --warn-stale-days "abc": want a whole number`},
		{[]string{"serve", "--insecure", "--http-addr", "127.0.0.1:99999"}, `invalid --http-addr "127.0.0.1:99999": port "99999" is not 0 to 65535`},
		{[]string{"serve", "--insecure", "--http-addr", "127.0.0.1:http"}, `invalid --http-addr "127.0.0.1:http"`},
	} {
		r := run(t, dbURL, tt.args...)
		if r.code != 2 || !regexp.MustCompile(tt.want).MatchString(r.stderr) {
			t.Errorf("auth-session %q: %s\nwant exit 2 and %s", tt.args, r, tt.want)
		}
	}
	if after := tableSnapshot(t, dbURL); after != before {
		t.Errorf("the tables changed:\n%s\n---\n%s", before, after)
	}
}
