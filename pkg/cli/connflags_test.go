package cli

import (
	"reflect"
	"strings"
	"testing"
)

// TestUserIsNeverTheSQLUser: "logout bob --user alice" is not a connection
// as alice. --user names the sessions' user on list, events and revoke; on
// the commands where it used to be the database user it is a usage error
// that points to -U/--sql-user, and nothing is written.
func TestUserIsNeverTheSQLUser(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	bob := mustCreateRole(t, dbURL, "bob", "LOGIN")
	alice := mustCreateRole(t, dbURL, "alice", "LOGIN PASSWORD 'alice-password'")
	mustRun(t, "login", bob, "--url", dbURL)
	before := snapshot(t, dbURL)

	r := runCLI(t, "logout", bob, "--user", alice, "--url", dbURL)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "-U/--sql-user") || strings.Contains(r.stderr, "password") {
		t.Errorf("logout %s --user %s: exit %d, stderr:\n%s\nwant exit 2 and a pointer to -U/--sql-user", bob, alice, r.code, r.stderr)
	}
	checkUnchanged(t, dbURL, before)
}

// TestUserFlagOnConnectionCommands: every command where --user used to name
// the database user refuses it before running, saying what to use instead.
func TestUserFlagOnConnectionCommands(t *testing.T) {
	for _, args := range [][]string{
		{"login", "web_user"}, {"logout", "web_user"}, {"init"}, {"purge"}, {"serve", "--insecure"},
	} {
		t.Run(args[0], func(t *testing.T) {
			ran, code, stderr := parse(t, append(args, "--user", "alice", "--url", parseURL)...)
			if code != ExitUsage || !strings.Contains(stderr, `-U alice`) || !strings.Contains(stderr, "--sql-user") {
				t.Errorf("exit %d, stderr %q; want exit 2 and a pointer to -U/--sql-user", code, stderr)
			}
			if ran != nil {
				t.Errorf("the command ran with %+v", ran)
			}
		})
	}
}

// TestShortConnFlags: psql's -U, -p and -d mean the same on every command
// that connects; --host has no short form, as -h is help.
func TestShortConnFlags(t *testing.T) {
	for _, args := range [][]string{
		{"init"}, {"login", "web_user"}, {"logout", "web_user"}, {"list"}, {"revoke", "1", "--yes"},
		{"events"}, {"purge"}, {"serve", "--insecure"},
	} {
		t.Run(args[0], func(t *testing.T) {
			ran, code, stderr := parse(t, append(args, "-U", "admin_user", "-p", "5433", "-d", "app", "--url", parseURL)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			conn := reflect.ValueOf(ran).FieldByName("conn")
			got := [3]string{conn.FieldByName("User").String(), conn.FieldByName("Port").String(), conn.FieldByName("Database").String()}
			if want := [3]string{"admin_user", "5433", "app"}; got != want {
				t.Errorf("user, port, database = %q, want %q", got, want)
			}
		})
	}
}
