package cli

import (
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// TestUsersFromIsVerbatim: a name in a --users-from file is the role's name
// exactly as list prints it, not an SQL identifier: MixedCase stays
// MixedCase. A byte order mark and CRLF line ends are accepted.
func TestUsersFromIsVerbatim(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mixed := "Mixed" + mustCreateRole(t, dbURL, "case", "LOGIN")
	pgtest.MustExec(t, dbURL, `CREATE ROLE "`+mixed+`" LOGIN`)
	t.Cleanup(func() { pgtest.MustExec(t, pgtest.AdminURL(), `DROP ROLE IF EXISTS "`+mixed+`"`) })
	mustRun(t, "login", `"`+mixed+`"`, "--only-cookie", "--url", dbURL)

	r := runCLI(t, "logout", "--users-from", usersFile(t, "\ufeff"+mixed+"\r\n"), "--format", "tsv", "--url", dbURL)
	if r.code != 0 || strings.Count(r.stdout, mixed+"\t") != 1 {
		t.Errorf("logout --users-from of %q: exit %d, stdout %q, stderr %q; want its session revoked", mixed, r.code, r.stdout, r.stderr)
	}
	if n := mustCount(t, dbURL, "system.web_sessions WHERE username = $1 AND revoked_at IS NULL", mixed); n != 0 {
		t.Errorf("%q still has %d live sessions", mixed, n)
	}
}

// TestLogoutUnknownNameIsAnError: a name that matches no role and no
// session is a typo until told otherwise: exit 1 naming it and the closest
// role, nothing written, also for the other names given with it.
// --ignore-missing logs out the rest.
func TestLogoutUnknownNameIsAnError(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	alice := mustCreateRole(t, dbURL, "alice", "LOGIN")
	mustRun(t, "login", alice, "--only-cookie", "--url", dbURL)
	typo := alice[:len(alice)-1] + "x" // one letter off
	if typo == alice {
		typo = alice[:len(alice)-1] + "y"
	}
	before := snapshot(t, dbURL)

	r := runCLI(t, "logout", alice, typo, "--url", dbURL)
	if r.code != 1 || !strings.Contains(r.stderr, `no role named "`+typo+`" and no sessions of it`) ||
		!strings.Contains(r.stderr, `did you mean "`+alice+`"?`) || !strings.Contains(r.stderr, "--ignore-missing") || r.stdout != "" {
		t.Errorf("logout %s %s: exit %d, stdout %q, stderr %q; want exit 1 naming %q, suggesting %q and --ignore-missing",
			alice, typo, r.code, r.stdout, r.stderr, typo, alice)
	}
	checkUnchanged(t, dbURL, before)

	r = runCLI(t, "logout", alice, typo, "--ignore-missing", "--format", "tsv", "--url", dbURL)
	if r.code != 0 || !strings.Contains(r.stderr, `warning: no role named "`+typo+`"`) || strings.Count(r.stdout, alice+"\t") != 1 {
		t.Errorf("with --ignore-missing: exit %d, stdout %q, stderr %q; want %s logged out and a warning", r.code, r.stdout, r.stderr, alice)
	}
}
