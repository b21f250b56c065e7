package clie2e

import (
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// TestIncidentCommands runs this incident commands with the built
// binary: everyone but the admins logged out, a user locked and unlocked,
// the throttle looked at and cleared, and the lifetime cap.
func TestIncidentCommands(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	alice := newRole(t, dbURL, "alice", "LOGIN")
	bob := newRole(t, dbURL, "bob", "LOGIN")
	boss := newRole(t, dbURL, "boss", "LOGIN IN ROLE admin")
	for _, u := range []string{alice, bob, boss} {
		mustRun(t, dbURL, "login", u, "--only-cookie")
	}
	live := func(user string) int {
		out := mustRun(t, dbURL, "list", "--user", user, "--active", "--format", "tsv", "--no-headers").stdout
		return strings.Count(out, "\n")
	}

	// A typo in the role left out is an error, and nothing is revoked.
	if r := run(t, dbURL, "logout", "--all", "--yes", "--except-role", "admn"); r.code != 1 || !strings.Contains(r.stderr, `did you mean "admin"?`) {
		t.Errorf("logout --all --except-role admn: %+v; want exit 1 suggesting admin", r)
	}
	if live(alice) != 1 {
		t.Fatal("a refused logout revoked alice's session")
	}
	mustRun(t, dbURL, "logout", "--all", "--yes", "--except-role", "admin", "--reason", "drill")
	if live(alice) != 0 || live(bob) != 0 || live(boss) != 1 {
		t.Errorf("after logout --all --except-role admin: alice %d, bob %d, boss %d live; want 0, 0, 1", live(alice), live(bob), live(boss))
	}

	mustRun(t, dbURL, "lock", bob, "--reason", "stolen laptop")
	if r := run(t, dbURL, "login", bob); r.code != 1 || !strings.Contains(r.stderr, "is locked") || !strings.Contains(r.stderr, "stolen laptop") {
		t.Errorf("login of a locked user: %+v; want exit 1 saying why", r)
	}
	if out := mustRun(t, dbURL, "locks", "--format", "tsv", "--no-headers").stdout; !strings.HasPrefix(out, bob+"\t") {
		t.Errorf("locks printed %q; want bob's lock", out)
	}
	mustRun(t, dbURL, "unlock", bob)
	mustRun(t, dbURL, "login", bob, "--only-cookie")

	pgtest.MustExec(t, dbURL, `INSERT INTO system.login_attempts (client_addr, username, counts_until)
SELECT '203.0.113.7', 'mallory', now() + INTERVAL '1 hour' FROM generate_series(1, 3)`)
	if out := mustRun(t, dbURL, "throttle", "show", "--login-fail-limit", "3", "--format", "tsv", "--no-headers").stdout; !strings.HasPrefix(out, "203.0.113.7\tmallory\t3\t") {
		t.Errorf("throttle show printed %q; want mallory at 203.0.113.7 with 3 failures", out)
	}
	if r := mustRun(t, dbURL, "throttle", "clear", "--ip", "203.0.113.7"); !strings.Contains(r.stderr, "forgot 3 failed logins") {
		t.Errorf("throttle clear: %+v", r)
	}

	before := mustRun(t, dbURL, "list", "--format", "tsv").stdout
	if r := run(t, dbURL, "login", alice, "--expire-after", "1000w"); r.code != 1 || !strings.Contains(r.stderr, "maximum session lifetime, 30d") {
		t.Errorf("login --expire-after 1000w: %+v; want exit 1 naming the cap", r)
	}
	if after := mustRun(t, dbURL, "list", "--format", "tsv").stdout; after != before {
		t.Error("a login refused by the cap changed the sessions")
	}
}
