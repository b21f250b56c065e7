package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLeakedCookieLookedUpAndRevoked: a cookie minted by login, piped into
// lookup, shows its session; revoke --cookie - revokes it, and serve then
// refuses it. The cookie is never an argument and never in any output but
// login's.
func TestLeakedCookieLookedUpAndRevoked(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	dir := t.TempDir()
	env := "export AUTH_SESSION_URL='" + s.adminURL + "'; "
	whoami := "curl -b \"$(cat cookie.txt)\" " + srv.url + "/api/v2/whoami" + curlStatus

	r := sh(t, dir, env+"auth-session login "+s.user+" --only-cookie | tee cookie.txt | auth-session lookup --format json")
	if r.code != 0 {
		t.Fatalf("login | lookup: %s", r)
	}
	var rows []struct {
		ID, Username, Status, Via string
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 ||
		rows[0].Username != s.user || rows[0].Status != "active" || rows[0].Via != "cli" {
		t.Fatalf("lookup: %v, want one active session of %s made by cli:\n%s", err, s.user, r)
	}
	wantStatus(t, "whoami with the cookie", sh(t, dir, whoami), 200)
	cookie, err := os.ReadFile(filepath.Join(dir, "cookie.txt"))
	if err != nil {
		t.Fatal(err)
	}
	value := sessionValue(t, string(cookie))
	outputs := r.stdout + r.stderr

	// The cookie as an argument is refused, and not repeated.
	r = sh(t, dir, env+"auth-session lookup \""+value+"\"")
	if r.code != 2 || !strings.Contains(r.stderr, "shell history") {
		t.Errorf("lookup VALUE: want exit 2 saying why:\n%s", r)
	}
	outputs += r.stdout + r.stderr

	r = sh(t, dir, env+"auth-session revoke --cookie - --yes --reason 'leaked in a ticket' < cookie.txt")
	if r.code != 0 || !strings.Contains(r.stdout, rows[0].ID) {
		t.Fatalf("revoke --cookie -: want the session's row:\n%s", r)
	}
	outputs += r.stdout + r.stderr
	wantStatus(t, "whoami after revoke --cookie", sh(t, dir, whoami), 401)

	r = sh(t, dir, env+"auth-session lookup --format ndjson < cookie.txt")
	if r.code != 0 || !strings.Contains(r.stdout, `"status":"revoked"`) {
		t.Errorf("lookup after the revocation: want it revoked:\n%s", r)
	}
	outputs += r.stdout + r.stderr
	r = sh(t, dir, env+"auth-session show "+rows[0].ID+" --format ndjson")
	if r.code != 0 || !strings.Contains(r.stdout, `"status":"revoked"`) {
		t.Errorf("show: want it revoked:\n%s", r)
	}
	outputs += r.stdout + r.stderr
	r = sh(t, dir, env+"auth-session events --session "+rows[0].ID+" --format tsv --no-headers")
	if r.code != 0 || !strings.Contains(r.stdout, "leaked in a ticket") {
		t.Errorf("events: want the revocation with its reason:\n%s", r)
	}
	outputs += r.stdout + r.stderr
	if strings.Contains(outputs, value) {
		t.Errorf("the cookie's value is in an output other than login's:\n%s", outputs)
	}
}
