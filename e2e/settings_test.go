package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSettingsReachARunningServe: `settings set idle-timeout` reaches a
// serve started without the flag, which then refuses an idle session with
// no restart, and list reads the session as idle with no flag either; a
// serve given --idle-timeout 0 keeps its flag's value, and says so once.
// The test waits for serve's log line of the change, as long as it takes
// up to a generous bound, and logs how long that was.
func TestSettingsReachARunningServe(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	served := &stateSurfaces{s: s, srv: startServe(t, "--url", s.adminURL, "--insecure"), user: s.user}
	pinned := &stateSurfaces{s: s, srv: startServe(t, "--url", s.adminURL, "--insecure", "--idle-timeout", "0"), user: s.user}
	id, cookie, status := served.apiLogin(t, s.user, s.password)
	if status != http.StatusOK {
		t.Fatalf("API login: %d", status)
	}
	// No request presents the session before it is checked under the
	// setting: one would write its last use.
	s.psqlExec(t, "UPDATE system.web_sessions SET last_used_at = now() - interval '2 hours' WHERE id = "+id)
	if r := run(t, "list", "--url", s.adminURL, "--state", "idle"); r.code != 2 {
		t.Errorf("list --state idle before the setting: %s; want exit 2, no idle timeout applying", r)
	}

	set := time.Now()
	if r := run(t, "settings", "set", "idle-timeout", "1h", "--url", s.adminURL); r.code != 0 {
		t.Fatalf("settings set: %s", r)
	}
	const applied = `msg="setting changed" name=idle-timeout old=0 value=1h origin=database`
	const kept = `msg="setting changed in the database; this process keeps its flag's value" name=idle-timeout database=1h value=0`
	deadline := set.Add(time.Minute)
	for !strings.Contains(served.srv.logs(), applied) || !strings.Contains(pinned.srv.logs(), kept) {
		if time.Now().After(deadline) {
			t.Fatalf("the change not logged by both serves within a minute:\n%s\n%s", served.srv.logs(), pinned.srv.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("both serve processes applied the setting within %s of settings set", time.Since(set).Round(time.Millisecond))

	if status, body := served.get(t, "/api/v2/whoami", cookie); status != http.StatusUnauthorized {
		t.Errorf("whoami of the idle session on the serve without the flag: %d %s; want 401", status, body)
	}
	if r := run(t, "list", "--url", s.adminURL, "--state", "idle", "--format", "tsv", "--no-headers"); r.code != 0 || !strings.Contains(r.stdout, "\t"+id+"\t") {
		t.Errorf("list --state idle under the setting: %s; want the session", r)
	}
	if status, body := pinned.get(t, "/api/v2/whoami", cookie); status != http.StatusOK {
		t.Errorf("whoami of the idle session on the serve given --idle-timeout 0: %d %s; want 200", status, body)
	}
	if n := strings.Count(pinned.srv.logs(), kept); n != 1 {
		t.Errorf("the pinned serve logged the change %d times; want once:\n%s", n, pinned.srv.logs())
	}
}
