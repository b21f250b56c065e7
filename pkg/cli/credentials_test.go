package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/sql"
)

// TestListShowsSessionsEndedByAPasswordChange: after ALTER ROLE ...
// PASSWORD in psql, list shows the role's session revoked with the reason,
// and the audit trail records it once, however often list runs.
func TestListShowsSessionsEndedByAPasswordChange(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user, _ := mustLoginRole(t, dbURL, "web_user")
	other, _ := mustLoginRole(t, dbURL, "other")
	mustRun(t, "login", user, "--url", dbURL)
	mustRun(t, "login", other, "--url", dbURL)
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+user+" PASSWORD 'changed'")

	r := runCLITerm(t, terminals{err: true}, "list", "--url", dbURL, "--format", "ndjson")
	if r.code != 0 || !strings.Contains(r.stderr, "ended 1 session of 1 user whose role changed since login") {
		t.Fatalf("list: exit %d, stderr %q; want the sweep's line on the terminal", r.code, r.stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"status": "active", "revoke_reason": nil}
		if row["username"] == user {
			want = map[string]any{"status": "revoked", "revoke_reason": sql.ReasonPasswordChanged}
		}
		for k, v := range want {
			if row[k] != v {
				t.Errorf("%s's session: %s %v; want %v", row["username"], k, row[k], v)
			}
		}
	}
	second := mustRun(t, "list", "--url", dbURL, "--user", user, "--format", "tsv", "--no-headers")
	if second.stderr != "" || !strings.Contains(second.stdout, "\trevoked\t"+sql.ReasonPasswordChanged) {
		t.Errorf("list again: stdout %q, stderr %q; want the session revoked with its reason and nothing on stderr", second.stdout, second.stderr)
	}
	if n := mustCount(t, dbURL, "system.session_events WHERE event = 'sessions.revoked' AND username = $1 AND detail->>'reason' = $2",
		user, sql.ReasonPasswordChanged); n != 1 {
		t.Errorf("%d sessions.revoked events of %s with the reason; want 1", n, user)
	}
}

// TestSettingsCommand: show, set and reset, each change an event with the
// old and new value; a bad name or value is a usage error that changes
// nothing.
func TestSettingsCommand(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	name := sql.SettingEndSessionsOnCredentialChange
	show := func() string {
		t.Helper()
		return mustRun(t, "settings", "show", name, "--url", dbURL, "--format", "tsv", "--no-headers").stdout
	}
	if got := show(); !strings.HasPrefix(got, name+"\ttrue\ttrue\tdefault\t") {
		t.Errorf("settings show %s: %q; want true, default", name, got)
	}
	before := snapshot(t, dbURL)
	for _, args := range [][]string{
		{"settings", "set", name, "maybe"},
		{"settings", "set", "no-such-setting", "true"},
		{"settings", "set", name},
		{"settings", "reset"},
		{"settings", "frob"},
		{"settings", "show", name, "extra"},
	} {
		if r := runCLI(t, append(args, "--url", dbURL)...); r.code != 2 || !strings.HasPrefix(r.stderr, "ERROR: ") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error, exit 2", args, r.code, r.stderr)
		}
	}
	checkUnchanged(t, dbURL, before)
	if n := mustCount(t, dbURL, "system.settings"); n != 0 {
		t.Errorf("%d settings rows after refused changes; want none", n)
	}

	steps := []struct {
		args       []string
		wantStderr string
		wantShow   string
	}{
		{[]string{"set", name, "off"}, "set " + name + " to false (was true)\n", name + "\tfalse\ttrue\tdatabase\t"},
		{[]string{"set", name, "false"}, name + " is false already; nothing changed\n", name + "\tfalse\ttrue\tdatabase\t"},
		{[]string{"reset", name}, "reset " + name + " to its default, true (was false)\n", name + "\ttrue\ttrue\tdefault\t"},
		{[]string{"reset", name}, name + " has its default, true, already; nothing changed\n", name + "\ttrue\ttrue\tdefault\t"},
	}
	for _, st := range steps {
		r := mustRun(t, append(append([]string{"settings"}, st.args...), "--url", dbURL)...)
		if r.stdout != "" || r.stderr != st.wantStderr {
			t.Errorf("settings %v: stdout %q, stderr %q; want nothing and %q", st.args, r.stdout, r.stderr, st.wantStderr)
		}
		if got := show(); !strings.HasPrefix(got, st.wantShow) {
			t.Errorf("after settings %v, show: %q; want %q...", st.args, got, st.wantShow)
		}
	}
	var details string
	mustQueryRow(t, dbURL, `SELECT string_agg(detail->>'old' || '>' || (detail->>'new') || ' via ' || via, ', ' ORDER BY at, id)
FROM system.session_events WHERE event = 'setting.changed' AND detail->>'setting' = $1`, []any{name}, &details)
	if details != "true>false via cli, false>true via cli" {
		t.Errorf("setting.changed events: %q; want the set and the reset, from the CLI", details)
	}
}

// TestViewOwnerMustStayASuperuser: a role_credentials view whose owner is
// no superuser cannot read pg_authid, so no session could be checked: the
// commands refuse to start, naming the owner and the fix.
func TestViewOwnerMustStayASuperuser(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	owner := mustCreateRole(t, dbURL, "demoted", "NOLOGIN IN ROLE admin")
	pgtest.MustExec(t, dbURL, "ALTER VIEW system.role_credentials OWNER TO "+owner)
	t.Cleanup(func() { pgtest.MustExec(t, dbURL, "DROP OWNED BY "+owner) })
	r := runCLI(t, "list", "--url", dbURL)
	if r.code != 1 || !strings.Contains(r.stderr, "system.role_credentials is owned by "+owner+", which is not a superuser") ||
		!strings.Contains(r.stderr, "SQLSTATE: 42501") || !strings.Contains(r.stderr, "HINT: have a superuser run: ALTER VIEW system.role_credentials OWNER TO") {
		t.Errorf("list with the view owned by %s: exit %d, stderr:\n%s", owner, r.code, r.stderr)
	}
}
