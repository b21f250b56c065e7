package cli

import (
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// TestLockRefusesLoginUntilUnlocked: lock revokes the user's sessions and
// refuses new ones, saying by whom and why, until unlock; locks shows it;
// each change has its audit event.
func TestLockRefusesLoginUntilUnlocked(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "locked", "LOGIN")
	other := mustCreateRole(t, dbURL, "other", "LOGIN")
	mustRun(t, "login", user, "--only-cookie", "--url", dbURL)
	mustRun(t, "login", other, "--only-cookie", "--url", dbURL)

	r := mustRun(t, "lock", user, "--reason", "incident 42", "--format", "tsv", "--no-headers", "--url", dbURL)
	if !strings.HasPrefix(r.stdout, user+"\t") || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stderr, "locked 1 user until unlocked") {
		t.Errorf("lock: stdout %q, stderr %q; want the user's one session revoked and the lock reported", r.stdout, r.stderr)
	}
	if n := mustCount(t, dbURL, "system.web_sessions WHERE username = $1 AND revoked_at IS NULL", user); n != 0 {
		t.Errorf("%d of the locked user's sessions are live", n)
	}
	if n := mustCount(t, dbURL, "system.web_sessions WHERE username = $1 AND revoked_at IS NULL", other); n != 1 {
		t.Errorf("the other user has %d live sessions, want 1", n)
	}

	before := snapshot(t, dbURL)
	r = runCLI(t, "login", user, "--url", dbURL)
	if r.code != 1 || !strings.Contains(r.stderr, `user "`+user+`" is locked by `) || !strings.Contains(r.stderr, ": incident 42") ||
		!strings.Contains(r.stderr, "HINT: lift it with: auth-session unlock "+user) || r.stdout != "" {
		t.Errorf("login of a locked user: exit %d, stdout %q, stderr %q; want exit 1 saying who locked it and why", r.code, r.stdout, r.stderr)
	}
	checkUnchanged(t, dbURL, before)

	locks := mustRun(t, "locks", "--format", "tsv", "--no-headers", "--url", dbURL).stdout
	if fields := strings.Split(strings.TrimSpace(locks), "\t"); len(fields) != 5 || fields[0] != user || fields[2] != "NULL" || fields[4] != "incident 42" {
		t.Errorf("locks printed %q; want the user's lock until unlocked, with its reason", locks)
	}

	r = mustRun(t, "unlock", user, other, "--url", dbURL)
	if !strings.Contains(r.stderr, `warning: "`+other+`" was not locked`) || !strings.Contains(r.stderr, "unlocked 1 user") {
		t.Errorf("unlock: stderr %q; want one user unlocked and a warning for the other", r.stderr)
	}
	mustRun(t, "login", user, "--only-cookie", "--url", dbURL)
	if out := mustRun(t, "locks", "--format", "tsv", "--no-headers", "--url", dbURL).stdout; out != "" {
		t.Errorf("locks after unlock printed %q; want nothing", out)
	}
	if n := mustCount(t, dbURL, "system.session_events WHERE username = $1 AND event IN ('user.locked', 'user.unlocked')", user); n != 2 {
		t.Errorf("%d lock events; want user.locked and user.unlocked", n)
	}
}

// TestLockExpires: a lock --for ends by itself; a lock of a name that
// matches nothing is an error, nothing written.
func TestLockExpires(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "locked", "LOGIN")
	r := mustRun(t, "lock", user, "--for", "1h", "--url", dbURL)
	if !strings.Contains(r.stderr, "locked 1 user until ") || !strings.Contains(r.stderr, " UTC") {
		t.Errorf("lock --for 1h: stderr %q; want the time it ends", r.stderr)
	}
	if r := runCLI(t, "login", user, "--url", dbURL); r.code != 1 || !strings.Contains(r.stderr, "is locked until ") {
		t.Errorf("login during the lock: exit %d, stderr %q", r.code, r.stderr)
	}
	pgtest.MustExec(t, dbURL, "UPDATE system.web_session_locks SET locked_until = now() - INTERVAL '1 second'")
	mustRun(t, "login", user, "--only-cookie", "--url", dbURL)

	before := snapshot(t, dbURL)
	// lock has no --ignore-missing: its hint must not offer one.
	if r := runCLI(t, "lock", user+"x", "--url", dbURL); r.code != 1 || !strings.Contains(r.stderr, "no role named") ||
		strings.Contains(r.stderr, "--ignore-missing") {
		t.Errorf("lock of an unknown name: exit %d, stderr %q; want exit 1", r.code, r.stderr)
	}
	if r := runCLI(t, "lock", user, "--for", "0", "--url", dbURL); r.code != 2 {
		t.Errorf("lock --for 0: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
	checkUnchanged(t, dbURL, before)
}
