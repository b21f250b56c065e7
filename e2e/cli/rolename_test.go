package clie2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// sessionsOf counts the sessions of the role named exactly name.
func sessionsOf(t *testing.T, dbURL, name string) int {
	t.Helper()
	var n int
	queryRow(t, dbURL, `SELECT count(*) FROM system.web_sessions WHERE username = $1`, []any{name}, &n)
	return n
}

// newQuotedRole creates a role whose name needs quoting in SQL.
func newQuotedRole(t *testing.T, dbURL, name string) {
	t.Helper()
	ident := pgx.Identifier{name}.Sanitize()
	pgtest.MustExec(t, dbURL, "CREATE ROLE "+ident+" LOGIN")
	t.Cleanup(func() { pgtest.MustExec(t, pgtest.AdminURL(), "DROP ROLE IF EXISTS "+ident) })
}

func TestRoleNamesAreAddressedExactly(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	plain := newRole(t, dbURL, "web_user", "LOGIN")
	spaced := " " + plain
	newQuotedRole(t, dbURL, spaced)
	mixed := "Mixed" + plain
	newQuotedRole(t, dbURL, mixed)
	quote := `Has"Quote` + plain
	newQuotedRole(t, dbURL, quote)

	t.Run("whitespace around an unquoted name is refused", func(t *testing.T) {
		mustRun(t, dbURL, "login", plain, "--only-cookie")
		before := tableSnapshot(t, dbURL)
		for _, args := range [][]string{
			{"login", spaced}, {"logout", plain + " "}, {"login", plain + "\t"},
			{"list", "--user", spaced}, {"events", "--user", plain + "\n"},
		} {
			r := run(t, dbURL, args...)
			if r.code != 2 || r.stdout != "" ||
				!strings.Contains(r.stderr, `"`+strings.ReplaceAll(strings.ReplaceAll(args[len(args)-1], "\t", `\t`), "\n", `\n`)+`"`) ||
				!strings.Contains(r.stderr, "double quotes") {
				t.Errorf("auth-session %q: %s\nwant exit 2, the value quoted and how to quote it", args, r)
			}
		}
		if after := tableSnapshot(t, dbURL); after != before {
			t.Errorf("the tables changed:\n%s\n---\n%s", before, after)
		}
	})

	t.Run("a double-quoted name is the role name exactly", func(t *testing.T) {
		for _, tt := range []struct{ arg, role string }{
			{`"` + spaced + `"`, spaced},
			{`"` + mixed + `"`, mixed},
			{`"` + strings.ReplaceAll(quote, `"`, `""`) + `"`, quote},
			{strings.ToUpper(plain), plain},
		} {
			before := sessionsOf(t, dbURL, tt.role)
			r := mustRun(t, dbURL, "login", tt.arg, "--format", "tsv")
			if sessionsOf(t, dbURL, tt.role) != before+1 {
				t.Errorf("login %q: %s\nwant a session for %q", tt.arg, r, tt.role)
			}
			// list's --user takes the name as list prints it, or quoted:
			// an unquoted WEB_USER is that name, not web_user (issue 20 §3).
			listArg := tt.arg
			if !strings.HasPrefix(tt.arg, `"`) {
				listArg = tt.role
				if r := mustRun(t, dbURL, "list", "--user", tt.arg, "--format", "tsv"); strings.Count(r.stdout, "\n") != 1 ||
					!strings.Contains(r.stderr, `did you mean "`+tt.role+`"?`) {
					t.Errorf("list --user %q: %s\nwant no session and a warning suggesting %q", tt.arg, r, tt.role)
				}
			}
			list := mustRun(t, dbURL, "list", "--user", listArg, "--format", "tsv")
			if got := strings.Count(list.stdout, "\n") - 1; got != before+1 {
				t.Errorf("list --user %q: %d sessions, want %d:\n%s", listArg, got, before+1, list.stdout)
			}
			// So does events --user, as events prints the name.
			events := mustRun(t, dbURL, "events", "--user", listArg, "--format", "tsv")
			if !strings.Contains(events.stdout, "session.created") {
				t.Errorf("events --user %q: no session.created event:\n%s", listArg, events.stdout)
			}
		}
		// logout of the spaced role leaves the plain one's sessions alone.
		plainBefore := sessionsOf(t, dbURL, plain)
		mustRun(t, dbURL, "logout", `"`+spaced+`"`)
		var live int
		queryRow(t, dbURL, `SELECT count(*) FROM system.web_sessions WHERE username = $1 AND revoked_at IS NULL`, []any{plain}, &live)
		if live != plainBefore {
			t.Errorf("logout of %q revoked sessions of %q: %d of %d live", spaced, plain, live, plainBefore)
		}
	})

	t.Run("an unquoted mixed-case name folds to lower case", func(t *testing.T) {
		r := run(t, dbURL, "login", mixed)
		folded := strings.ToLower(mixed)
		want := `ERROR: create session for "` + folded + `": user "` + folded + `" does not exist`
		if r.code != 1 || !strings.Contains(r.stderr, want) ||
			!strings.Contains(r.stderr, `HINT: `) || !strings.Contains(r.stderr, `"`+mixed+`"`) {
			t.Errorf("login %s: %s\nwant %q and a hint to quote the name as \"%s\"", mixed, r, want, mixed)
		}
	})

	t.Run("hints quote identifiers as SQL does", func(t *testing.T) {
		missing := `No"Such` + plain
		r := run(t, dbURL, "login", `"No""Such`+plain+`"`)
		if want := `HINT: the user must be an existing role with LOGIN; create it with: CREATE ROLE "No""Such` + plain + `" LOGIN`; r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("login of missing %q: %s\nwant %q", missing, r, want)
		}
		r = run(t, dbURL, "login", "select")
		if want := `CREATE ROLE "select" LOGIN`; r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("login select: %s\nwant %q (a reserved word is quoted)", r, want)
		}
	})

	t.Run("logout of a name nothing matches is an error, a warning with --ignore-missing", func(t *testing.T) {
		typo := pgtest.UniqueName("typo")
		r := run(t, dbURL, "logout", typo)
		if r.code != 1 || !strings.Contains(r.stderr, `ERROR: no role named "`+typo+`" and no sessions of it`) {
			t.Errorf("logout %s: %s\nwant exit 1 naming it", typo, r)
		}
		r = run(t, dbURL, "logout", typo, "--ignore-missing")
		if r.code != 0 || !strings.Contains(r.stderr, `warning: no role named "`+typo+`" and no sessions of it`) {
			t.Errorf("logout %s --ignore-missing: %s\nwant exit 0 and a note that nothing matched", typo, r)
		}
		// A dropped role with sessions is logged out without the note.
		gone := newRole(t, dbURL, "gone", "LOGIN")
		mustRun(t, dbURL, "login", gone, "--only-cookie")
		pgtest.MustExec(t, dbURL, "DROP ROLE "+gone)
		r = mustRun(t, dbURL, "logout", gone)
		if strings.Contains(r.stderr, "no role named") || !strings.Contains(r.stdout, gone) {
			t.Errorf("logout of dropped %s: %s\nwant its session listed and no note", gone, r)
		}
	})
}

// TestRoleNameLongerThanPostgreSQLsLimit: PostgreSQL cuts an identifier
// longer than 63 bytes to 63, so such a name would address another role (the
// 63-byte one it starts with). Every command refuses it, quoting it and
// saying the limit, and writes nothing.
func TestRoleNameLongerThanPostgreSQLsLimit(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	role := newRole(t, dbURL, "web_user", "LOGIN")
	role += strings.Repeat("x", 63-len(role))
	pgtest.MustExec(t, dbURL, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() { pgtest.MustExec(t, pgtest.AdminURL(), "DROP ROLE IF EXISTS "+role) })
	mustRun(t, dbURL, "login", role, "--only-cookie")

	long := role + "_x"
	// 62 bytes and a two-byte letter: PostgreSQL would cut it to 62.
	multibyte := `"` + role[:62] + `é"`
	users := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(users, []byte("# one too long\n"+long+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := tableSnapshot(t, dbURL)
	for _, args := range [][]string{
		{"login", long}, {"login", `"` + long + `"`}, {"login", multibyte},
		{"logout", long}, {"logout", long, "--dry-run"},
		{"list", "--user", long}, {"events", "--user", long},
		{"revoke", "--user", long, "--yes"}, {"revoke", "--user", multibyte, "--yes"},
	} {
		name := args[1]
		if strings.HasPrefix(name, "--") {
			name = args[2]
		}
		r := run(t, dbURL, args...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, `"`+strings.ReplaceAll(name, `"`, `\"`)+`"`) ||
			!strings.Contains(r.stderr, "63 bytes") {
			t.Errorf("auth-session %q: %s\nwant exit 2, the name quoted and the 63-byte limit", args, r)
		}
	}
	for _, args := range [][]string{{"logout", "--users-from", users}, {"revoke", "--users-from", users, "--yes"}} {
		r := run(t, dbURL, args...)
		if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, `line 2`) ||
			!strings.Contains(r.stderr, `"`+long+`"`) || !strings.Contains(r.stderr, "63 bytes") {
			t.Errorf("auth-session %q: %s\nwant exit 2, the line and name quoted and the 63-byte limit", args, r)
		}
	}
	if after := tableSnapshot(t, dbURL); after != before {
		t.Errorf("the tables changed:\n%s\n---\n%s", before, after)
	}
	// The 63-byte name itself is fine everywhere.
	mustRun(t, dbURL, "list", "--user", role)
	mustRun(t, dbURL, "logout", role)
}
