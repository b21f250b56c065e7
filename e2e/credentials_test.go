package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// psqlExec runs statement with psql as the site's superuser, as an operator
// would: no tool of ours sees the change.
func (s *site) psqlExec(t *testing.T, statement string) {
	t.Helper()
	r := sh(t, "", "psql -X -q -v ON_ERROR_STOP=1 '"+s.dbURL+"' -c \""+statement+"\"")
	if r.code != 0 {
		t.Fatalf("psql -c %q: %s", statement, r)
	}
}

// TestPasswordChangedInPsqlEndsSessions: a session logged in with curl
// stops working once the role's password is changed in psql; list shows
// it revoked with the reason, the audit trail records it once, and the
// new password logs in.
func TestPasswordChangedInPsqlEndsSessions(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	dir := t.TempDir()
	login, whoami := srv.url+"/api/v2/login/", srv.url+"/api/v2/whoami"

	r := sh(t, dir, "curl -c jar.txt -d username="+s.user+" --data-urlencode password="+s.password+" "+login+curlStatus)
	wantStatus(t, "login", r, 200)
	var body struct {
		SessionID string `json:"session_id"`
	}
	first, _, _ := strings.Cut(r.stdout, "\n")
	if err := json.Unmarshal([]byte(first), &body); err != nil || body.SessionID == "" {
		t.Fatalf("login body: %v\n%s", err, r)
	}
	wantStatus(t, "whoami before the change", sh(t, dir, "curl -b jar.txt "+whoami+curlStatus), 200)

	s.psqlExec(t, "ALTER ROLE "+s.user+" PASSWORD 'changed-in-psql'")
	wantStatus(t, "whoami after the password change", sh(t, dir, "curl -b jar.txt "+whoami+curlStatus), 401)
	wantStatus(t, "whoami again", sh(t, dir, "curl -b jar.txt "+whoami+curlStatus), 401)

	r = run(t, "list", "--url", s.adminURL, "--user", s.user, "--format", "ndjson")
	if r.code != 0 || !strings.Contains(r.stdout, `"id":"`+body.SessionID+`"`) ||
		!strings.Contains(r.stdout, `"status":"revoked","revoke_reason":"password changed"`) {
		t.Errorf("list does not show session %s revoked for the password change:\n%s", body.SessionID, r)
	}
	r = run(t, "events", "--url", s.adminURL, "--user", s.user, "--format", "tsv", "--no-headers")
	if n := strings.Count(r.stdout, "\tsessions.revoked\t"); r.code != 0 || n != 1 || !strings.Contains(r.stdout, `""reason"":""password changed""`) {
		t.Errorf("events: %d sessions.revoked; want one, with the reason:\n%s", n, r)
	}

	r = sh(t, dir, "curl -c jar.txt -d username="+s.user+" -d password=changed-in-psql "+login+curlStatus)
	wantStatus(t, "login with the new password", r, 200)
	wantStatus(t, "whoami with the new session", sh(t, dir, "curl -b jar.txt "+whoami+curlStatus), 200)
}

// TestReenabledRoleStaysLoggedOutWhileServeWasDown: NOLOGIN then LOGIN in
// psql while no serve runs, and the session never presented in between:
// the serve started afterwards refuses it.
func TestReenabledRoleStaysLoggedOutWhileServeWasDown(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	r := run(t, "login", s.user, "--url", s.adminURL, "--only-cookie")
	if r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	cookie := strings.TrimSpace(r.stdout)
	s.psqlExec(t, "ALTER ROLE "+s.user+" NOLOGIN")
	s.psqlExec(t, "ALTER ROLE "+s.user+" LOGIN")
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	wantStatus(t, "whoami with a session of the re-enabled role",
		sh(t, "", "curl --cookie '"+cookie+"' "+srv.url+"/api/v2/whoami"+curlStatus), 401)
}
