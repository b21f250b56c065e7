package cli

import (
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// exceptFixture is a database with four users who each have a live
// session: alice, bob, carol (a member of the group ops through lead, a
// member of ops) and a MixedCase one.
type exceptFixture struct {
	dbURL                    string
	alice, bob, carol, mixed string
	ops, lead                string
}

func newExceptFixture(t *testing.T) exceptFixture {
	t.Helper()
	f := exceptFixture{dbURL: newSessionDB(t)}
	f.alice = mustCreateRole(t, f.dbURL, "alice", "LOGIN")
	f.bob = mustCreateRole(t, f.dbURL, "bob", "LOGIN")
	f.carol = mustCreateRole(t, f.dbURL, "carol", "LOGIN")
	f.ops = mustCreateRole(t, f.dbURL, "ops", "NOLOGIN")
	f.lead = mustCreateRole(t, f.dbURL, "lead", "NOLOGIN")
	pgtest.MustExec(t, f.dbURL, "GRANT "+f.ops+" TO "+f.lead)
	pgtest.MustExec(t, f.dbURL, "GRANT "+f.lead+" TO "+f.carol)
	f.mixed = "Mixed" + mustCreateRole(t, f.dbURL, "case", "LOGIN")
	pgtest.MustExec(t, f.dbURL, `CREATE ROLE "`+f.mixed+`" LOGIN`)
	t.Cleanup(func() { pgtest.MustExec(t, pgtest.AdminURL(), `DROP ROLE IF EXISTS "`+f.mixed+`"`) })
	for _, u := range []string{f.alice, f.bob, f.carol, `"` + f.mixed + `"`} {
		mustRun(t, "login", u, "--only-cookie", "--url", f.dbURL)
	}
	return f
}

// live counts a user's sessions not revoked.
func (f exceptFixture) live(t *testing.T, user string) int {
	return mustCount(t, f.dbURL, "system.web_sessions WHERE username = $1 AND revoked_at IS NULL", user)
}

// TestLogoutAllExcept: logout --all with --except, --except-from and
// --except-role logs out everyone else and no one left out; the members of
// a role are found through other roles.
func TestLogoutAllExcept(t *testing.T) {
	t.Parallel()
	f := newExceptFixture(t)
	r := mustRun(t, "logout", "--all", "--yes", "--except", f.alice, "--except-from", usersFile(t, f.mixed+"\n"),
		"--except-role", f.ops, "--format", "tsv", "--no-headers", "--url", f.dbURL)
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasPrefix(r.stdout, f.bob+"\t") {
		t.Errorf("logout --all --except printed %q; want bob's one session", r.stdout)
	}
	for user, want := range map[string]int{f.alice: 1, f.bob: 0, f.carol: 1, f.mixed: 1} {
		if got := f.live(t, user); got != want {
			t.Errorf("%s has %d live sessions after the logout, want %d", user, got, want)
		}
	}
	// Everyone else is logged out as a logout of each user records it, so
	// that their logins in flight are refused too: bob has a logout
	// instant, those left out none.
	for user, want := range map[string]int{f.bob: 1, f.alice: 0, f.carol: 0, f.mixed: 0} {
		if got := mustCount(t, f.dbURL, "system.web_session_logouts WHERE username = $1", user); got != want {
			t.Errorf("%s has %d logout records, want %d", user, got, want)
		}
	}
}

// TestExceptTypoIsAnError: a name left out that matches no role and no
// session would leave out no one, so it is an error naming it and the
// closest role, and nothing is revoked; so is an unknown --except-role.
func TestExceptTypoIsAnError(t *testing.T) {
	t.Parallel()
	f := newExceptFixture(t)
	before := snapshot(t, f.dbURL)
	typo := f.alice[:len(f.alice)-1] + "#"
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"logout", "--all", "--yes", "--except", typo}, []string{`--except: no role named "` + typo + `"`, `did you mean "` + f.alice + `"?`}},
		{[]string{"logout", "--all", "--yes", "--except-role", "no_such_group"}, []string{`--except-role: no role named "no_such_group"`}},
		{[]string{"revoke", "--yes", "--except", typo}, []string{`--except: no role named "` + typo + `"`}},
		{[]string{"revoke", "--yes", "--except", strings.ToLower(f.mixed)}, []string{`did you mean "` + f.mixed + `"?`}},
		// revoke --user of a name no one has would record a logout of it.
		{[]string{"revoke", "--yes", "--user", typo}, []string{`--user: no role named "` + typo + `"`, `did you mean "` + f.alice + `"?`}},
	}
	for _, c := range cases {
		r := runCLI(t, append(c.args, "--url", f.dbURL)...)
		if r.code != 1 || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and nothing on stdout", strings.Join(c.args, " "), r.code, r.stdout, r.stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr %q; want it to say %q", strings.Join(c.args, " "), r.stderr, w)
			}
		}
	}
	checkUnchanged(t, f.dbURL, before)

	r := runCLI(t, "logout", "--except", f.alice, "--url", f.dbURL)
	if r.code != 2 || !strings.Contains(r.stderr, "--except leaves users out of --all") {
		t.Errorf("logout --except without --all: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
	checkUnchanged(t, f.dbURL, before)
}

// TestRevokeExcept: revoke's selection takes the same flags; alone they
// log out everyone else, beside other flags they narrow.
func TestRevokeExcept(t *testing.T) {
	t.Parallel()
	f := newExceptFixture(t)
	r := mustRun(t, "list", "--except-role", f.ops, "--except", f.mixed, "--format", "tsv", "--no-headers", "--url", f.dbURL)
	if strings.Count(r.stdout, "\n") != 2 || strings.Contains(r.stdout, f.carol) || strings.Contains(r.stdout, f.mixed) {
		t.Errorf("list --except-role --except printed %q; want the sessions of alice and bob", r.stdout)
	}
	mustRun(t, "revoke", "--yes", "--except-role", f.ops, "--user", f.bob, "--user", f.carol, "--url", f.dbURL)
	if f.live(t, f.bob) != 0 || f.live(t, f.carol) != 1 || f.live(t, f.alice) != 1 {
		t.Errorf("revoke --user bob --user carol --except-role ops: live sessions bob %d, carol %d, alice %d; want 0, 1, 1",
			f.live(t, f.bob), f.live(t, f.carol), f.live(t, f.alice))
	}
	mustRun(t, "revoke", "--yes", "--except", f.alice, "--url", f.dbURL)
	if f.live(t, f.alice) != 1 || f.live(t, f.carol) != 0 || f.live(t, f.mixed) != 0 {
		t.Errorf("revoke --except alice: live sessions alice %d, carol %d, mixed %d; want 1, 0, 0",
			f.live(t, f.alice), f.live(t, f.carol), f.live(t, f.mixed))
	}
}

// TestUserAsListPrintsIt: --user of list and revoke takes a name as list
// prints it, MixedCase included; in double quotes it is read as SQL reads
// a name.
func TestUserAsListPrintsIt(t *testing.T) {
	t.Parallel()
	f := newExceptFixture(t)
	printed := strings.TrimSpace(mustRun(t, "list", "--summary", "--format", "tsv", "--no-headers", "--user", f.mixed, "--url", f.dbURL).stdout)
	if name, _, _ := strings.Cut(printed, "\t"); name != f.mixed {
		t.Fatalf("list --summary --user %s printed %q; want its row", f.mixed, printed)
	}
	if out := mustRun(t, "list", "--user", `"`+f.mixed+`"`, "--format", "tsv", "--no-headers", "--url", f.dbURL).stdout; strings.Count(out, "\n") != 1 {
		t.Errorf("list --user in double quotes printed %q; want its one session", out)
	}
	// Folded, it is another name, which matches nothing: a warning says
	// so and names the one meant.
	r := mustRun(t, "list", "--user", strings.ToLower(f.mixed), "--url", f.dbURL)
	if !strings.Contains(r.stderr, `did you mean "`+f.mixed+`"?`) {
		t.Errorf("list --user %s: stderr %q; want a warning suggesting %q", strings.ToLower(f.mixed), r.stderr, f.mixed)
	}
	mustRun(t, "revoke", "--yes", "--user", f.mixed, "--active", "--url", f.dbURL)
	if n := f.live(t, f.mixed); n != 0 {
		t.Errorf("revoke --user %s --active left %d live sessions", f.mixed, n)
	}
}
