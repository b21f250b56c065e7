package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// eventRow is one row of events --format json.
type eventRow struct {
	At        string  `json:"at"`
	Event     string  `json:"event"`
	Actor     string  `json:"actor"`
	Username  string  `json:"username"`
	SessionID *string `json:"session_id"`
	Via       string  `json:"via"`
	Client    string  `json:"client_addr"`
	// Detail is a JSON object, not a string holding one.
	Detail json.RawMessage `json:"detail"`
}

func parseEvents(t testing.TB, out string) []eventRow {
	t.Helper()
	var rows []eventRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("events json output: %v\n%s", err, out)
	}
	return rows
}

func TestEventsRecordEveryChange(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "ev_user", "LOGIN")
	other := mustCreateRole(t, dbURL, "ev_other", "LOGIN")

	login := parseLogin(t, "json", mustRun(t, "login", user, "--format", "json", "--url", dbURL).stdout)
	mustRun(t, "login", user, "--url", dbURL)
	mustRun(t, "login", other, "--url", dbURL)
	mustRun(t, "revoke", login.SessionID, "--yes", "--url", dbURL)
	mustRun(t, "logout", user, "--url", dbURL)
	mustRun(t, "logout", user, "--url", dbURL) // nothing left to revoke: no event
	// Failed changes write nothing.
	runCLI(t, "login", "no_such_role_for_events", "--url", dbURL)
	runCLI(t, "revoke", "1", "--yes", "--url", dbURL)

	r := mustRun(t, "events", "--user", user, "--format", "json", "--url", dbURL)
	rows := parseEvents(t, r.stdout)
	var got []string
	for _, e := range rows {
		got = append(got, e.Event)
		if e.Username != user || e.Via != "cli" || e.Actor != "postgres" && e.Actor == "" || e.Client != "test-host" {
			t.Errorf("event %+v: want username %s, via cli, an actor, client test-host", e, user)
		}
	}
	want := "session.created session.created session.revoked user.logged_out"
	if strings.Join(got, " ") != want {
		t.Fatalf("events of %s = %v, want %s", user, got, want)
	}
	if rows[0].SessionID == nil || *rows[0].SessionID != login.SessionID {
		t.Errorf("session.created names session %v, want %s", rows[0].SessionID, login.SessionID)
	}
	if rows[3].SessionID != nil || string(rows[3].Detail) != `{"keep_current":false,"revoked":1}` {
		t.Errorf("user.logged_out = %+v, detail %s; want no session id and the object {\"keep_current\":false,\"revoked\":1}", rows[3], rows[3].Detail)
	}
	// ndjson carries the same object; the text formats its JSON text.
	ndjson := mustRun(t, "events", "--user", user, "--format", "ndjson", "--url", dbURL).stdout
	if !strings.Contains(ndjson, `"detail":{"keep_current":false,"revoked":1}}`) {
		t.Errorf("events --format ndjson: want detail as an object:\n%s", ndjson)
	}
	tsv := mustRun(t, "events", "--user", user, "--format", "tsv", "--url", dbURL).stdout
	if !strings.Contains(tsv, "\t\"{\"\"keep_current\"\":false,\"\"revoked\"\":1}\"\n") {
		t.Errorf("events --format tsv: want detail as its JSON text, quoted:\n%s", tsv)
	}

	all := parseEvents(t, mustRun(t, "events", "--format", "json", "--url", dbURL).stdout)
	if len(all) != 5 {
		t.Errorf("all events = %d, want 5 (4 of %s, 1 of %s)", len(all), user, other)
	}
	recent := parseEvents(t, mustRun(t, "events", "--since", "1h", "--format", "json", "--url", dbURL).stdout)
	if len(recent) != 5 {
		t.Errorf("events --since 1h = %d, want 5", len(recent))
	}
	pgtestExecOld(t, dbURL)
	recent = parseEvents(t, mustRun(t, "events", "--since", "1h", "--format", "json", "--url", dbURL).stdout)
	if len(recent) != 4 {
		t.Errorf("events --since 1h after ageing one = %d, want 4", len(recent))
	}
	checkNoSecretsInEvents(t, dbURL, login.Cookie)
}

// pgtestExecOld moves the oldest event two hours back.
func pgtestExecOld(t testing.TB, dbURL string) {
	t.Helper()
	conn := mustConnect(t, dbURL)
	ctx := t.Context()
	if _, err := conn.Exec(ctx, `UPDATE system.session_events SET at = at - INTERVAL '2 hours'
WHERE id = (SELECT id FROM system.session_events ORDER BY at, id LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
}

// checkNoSecretsInEvents fails when any stored event holds the cookie value.
func checkNoSecretsInEvents(t testing.TB, dbURL, cookie string) {
	t.Helper()
	value := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "session=")
	if n := mustCount(t, dbURL, "system.session_events e WHERE e::text LIKE '%' || $1 || '%'", value); n != 0 {
		t.Errorf("%d events hold the session cookie value", n)
	}
}

func TestEventsBadInput(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	for _, args := range [][]string{
		{"events", "--since", "0"},
		{"events", "--since", "yesterday"},
		{"events", "--user", ""},
		{"events", "extra"},
	} {
		r := runCLI(t, append(args, "--url", dbURL)...)
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "ERROR: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want a usage error", args, r.code, r.stdout, r.stderr)
		}
	}
}
