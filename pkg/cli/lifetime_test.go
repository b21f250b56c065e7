package cli

import (
	"strings"
	"testing"
)

// TestLifetimeIsCapped: login --expire-after beyond the max-session-lifetime
// setting (30d by default) is refused naming the cap and how to raise it,
// nothing written; within it, or with the cap raised, it mints.
func TestLifetimeIsCapped(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "capped", "LOGIN")
	before := snapshot(t, dbURL)
	r := runCLI(t, "login", user, "--expire-after", "1000w", "--url", dbURL)
	if r.code != 1 || r.stdout != "" ||
		!strings.Contains(r.stderr, "--expire-after 1000w is longer than the maximum session lifetime, 30d (setting max-session-lifetime)") ||
		!strings.Contains(r.stderr, "auth-session settings set max-session-lifetime 1000w") {
		t.Errorf("login --expire-after 1000w: exit %d, stdout %q, stderr %q; want exit 1 naming the cap", r.code, r.stdout, r.stderr)
	}
	checkUnchanged(t, dbURL, before)

	mustRun(t, "login", user, "--expire-after", "30d", "--only-cookie", "--url", dbURL)
	mustRun(t, "settings", "set", "max-session-lifetime", "0", "--url", dbURL)
	mustRun(t, "login", user, "--expire-after", "1000w", "--only-cookie", "--url", dbURL)
	mustRun(t, "settings", "set", "max-session-lifetime", "2h", "--url", dbURL)
	if r := runCLI(t, "login", user, "--expire-after", "3h", "--url", dbURL); r.code != 1 || !strings.Contains(r.stderr, "maximum session lifetime, 2h") {
		t.Errorf("login --expire-after 3h under a 2h cap: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, "settings", "set", "max-session-lifetime", "forever", "--url", dbURL); r.code != 2 || !strings.Contains(r.stderr, `invalid value "forever" for max-session-lifetime`) {
		t.Errorf("settings set max-session-lifetime forever: exit %d, stderr %q; want a usage error", r.code, r.stderr)
	}
}

// TestServeRefusesALifetimeOverTheCap: serve checks --session-lifetime
// against the setting before it serves.
func TestServeRefusesALifetimeOverTheCap(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	r := runCLI(t, "serve", "--url", dbURL, "--insecure", "--http-addr", "127.0.0.1:0", "--session-lifetime", "60d")
	if r.code != 1 || !strings.Contains(r.stderr, "--session-lifetime 60d is longer than the maximum session lifetime, 30d") {
		t.Errorf("serve --session-lifetime 60d: exit %d, stderr %q; want exit 1 naming the cap", r.code, r.stderr)
	}
}
