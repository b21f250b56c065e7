package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/sql"
)

// TestSettingsCommandPolicies: settings show lists every setting with its
// description; each setting of a policy is set (with its origin, when and
// by whom), reset, and refused with exit 2 for a bad value, naming it and
// what the setting accepts, the database unchanged.
func TestSettingsCommandPolicies(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	show := func(name string) []string {
		t.Helper()
		out := mustRun(t, "settings", "show", name, "--url", dbURL, "--format", "tsv", "--no-headers").stdout
		return strings.Split(strings.TrimSuffix(out, "\n"), "\t")
	}
	all := mustRun(t, "settings", "--url", dbURL, "--format", "tsv").stdout
	if header := "name\tvalue\tdefault\torigin\tset at\tset by\tdescription\n"; !strings.HasPrefix(all, header) {
		t.Errorf("settings show header: %q; want %q", strings.SplitN(all, "\n", 2)[0], header)
	}
	for _, s := range sql.Settings {
		row := show(s.Name)
		if len(row) != 7 || row[0] != s.Name || row[1] != s.Default || row[3] != sql.OriginDefault || row[6] != s.Description {
			t.Errorf("settings show %s: %q; want its default, origin default and description", s.Name, row)
		}
	}

	tests := []struct {
		name, bad, wantErr, good string
	}{
		{sql.SettingIdleTimeout, "30s", "must be at least 1m0s; or 0 to turn it off", "30m"},
		{sql.SettingMaxSessionsPerUser, "lots", "want a whole number from 1 to 100000; or 0 to set no limit", "5"},
		{sql.SettingLoginFailLimit, "-2", "want a whole number from 1 to 1000000; or 0 to set no such limit", "0"},
		{sql.SettingLoginFailLimitPerAddress, "2000000", "want a whole number from 1 to 1000000; or 0 to set no such limit", "50"},
		{sql.SettingLoginFailWindow, "1h30", "want a duration such as 90m", "1h"},
		{sql.SettingEventsRetention, "30m", "must be at least 1h0m0s; or 0 to keep every event", "30d"},
		{sql.SettingTrustedProxies, "10.0.0.0/8;10.1.0.0/16", `"10.0.0.0/8;10.1.0.0/16" is not an address or a network: want addresses and CIDR networks separated by commas`, "10.0.0.0/8"},
	}
	before := snapshot(t, dbURL)
	for _, tt := range tests {
		r := runCLI(t, "settings", "set", tt.name, tt.bad, "--url", dbURL)
		if want := `invalid value "` + tt.bad + `" for ` + tt.name + ": " + tt.wantErr; r.code != ExitUsage || !strings.Contains(r.stderr, want) {
			t.Errorf("settings set %s %s: exit %d, stderr %q; want exit 2 and %q", tt.name, tt.bad, r.code, r.stderr, want)
		}
	}
	checkUnchanged(t, dbURL, before)
	if n := mustCount(t, dbURL, "system.settings"); n != 0 {
		t.Errorf("%d settings rows after refused changes; want none", n)
	}

	for _, tt := range tests {
		setting, _ := sql.LookupSetting(tt.name)
		r := mustRun(t, "settings", "set", tt.name, tt.good, "--url", dbURL)
		if want := "set " + tt.name + " to " + tt.good + " (was " + setting.Default + ")\n"; r.stderr != want {
			t.Errorf("settings set %s %s: stderr %q; want %q", tt.name, tt.good, r.stderr, want)
		}
		row := show(tt.name)
		if row[1] != tt.good || row[3] != sql.OriginDatabase || row[4] == "NULL" || row[5] != "postgres" {
			t.Errorf("settings show %s after set: %q; want %s from the database, set now by postgres", tt.name, row, tt.good)
		}
		mustRun(t, "settings", "reset", tt.name, "--url", dbURL)
		if row := show(tt.name); row[1] != setting.Default || row[3] != sql.OriginDefault || row[4] != "NULL" || row[5] != "NULL" {
			t.Errorf("settings show %s after reset: %q; want the default", tt.name, row)
		}
	}
}

// TestCommandsReadIdleTimeoutFromSettings: list, show and revoke read a
// session as idle under the database's idle-timeout, with no flag; an
// explicit flag wins for that run; --state idle with no idle timeout is a
// usage error that says how to set one.
func TestCommandsReadIdleTimeoutFromSettings(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	now := time.Now()
	mustInsertSessions(t, dbURL, []fixtureSession{
		{790000000000000011, "web_user", now.Add(-3 * time.Hour), now.Add(time.Hour), nil, now.Add(-2 * time.Hour), "secret-unused"},
		{790000000000000012, "web_user", now.Add(-3 * time.Hour), now.Add(time.Hour), nil, now, "secret-in-use"},
	})
	states := func(args ...string) string {
		t.Helper()
		out := mustRun(t, append([]string{"list", "--url", dbURL, "--format", "tsv", "--no-headers"}, args...)...).stdout
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Split(line, "\t")
			got = append(got, f[1]+" "+f[6])
		}
		return strings.Join(got, ", ")
	}
	const bothActive = "790000000000000011 active, 790000000000000012 active"
	if got := states(); got != bothActive {
		t.Fatalf("list without an idle timeout: %s; want %s", got, bothActive)
	}
	r := runCLI(t, "list", "--state", "idle", "--url", dbURL)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--state idle: no idle timeout applies, so no session is idle: "+
		"set one for every process with 'auth-session settings set idle-timeout DURATION', or give --idle-timeout") {
		t.Errorf("list --state idle without an idle timeout: exit %d, stderr %q; want exit 2 saying how to set one", r.code, r.stderr)
	}

	mustRun(t, "settings", "set", "idle-timeout", "1h", "--url", dbURL)
	if got, want := states(), "790000000000000011 idle, 790000000000000012 active"; got != want {
		t.Errorf("list under the setting idle-timeout 1h: %s; want %s", got, want)
	}
	if got, want := states("--state", "idle"), "790000000000000011 idle"; got != want {
		t.Errorf("list --state idle under the setting: %s; want %s", got, want)
	}
	if out := mustRun(t, "show", "790000000000000011", "--url", dbURL, "--format", "tsv", "--no-headers").stdout; !strings.Contains(out, "\tidle\t") {
		t.Errorf("show of the unused session: %q; want it idle", out)
	}
	if got := states("--idle-timeout", "0"); got != bothActive {
		t.Errorf("list --idle-timeout 0 over the setting 1h: %s; want the flag to win: %s", got, bothActive)
	}
	if got := states("--idle-timeout", "3h"); got != bothActive {
		t.Errorf("list --idle-timeout 3h over the setting 1h: %s; want the flag to win: %s", got, bothActive)
	}
	mustRun(t, "revoke", "--state", "idle", "--yes", "--url", dbURL)
	if n := mustCount(t, dbURL, "system.web_sessions WHERE revoked_at IS NOT NULL"); n != 1 {
		t.Errorf("revoke --state idle under the setting revoked %d sessions; want the unused one", n)
	}
}

// TestIdleTimeoutEnvironmentWins: AUTH_SESSION_IDLE_TIMEOUT set wins over
// the database's setting, as the flag does. Not parallel: it sets the
// process's environment.
func TestIdleTimeoutEnvironmentWins(t *testing.T) {
	dbURL := newSessionDB(t)
	now := time.Now()
	mustInsertSessions(t, dbURL, []fixtureSession{
		{790000000000000021, "web_user", now.Add(-3 * time.Hour), now.Add(time.Hour), nil, now.Add(-2 * time.Hour), "secret-unused"},
	})
	mustRun(t, "settings", "set", "idle-timeout", "1h", "--url", dbURL)
	t.Setenv("AUTH_SESSION_IDLE_TIMEOUT", "0")
	out := mustRun(t, "list", "--url", dbURL, "--format", "tsv", "--no-headers").stdout
	if !strings.Contains(out, "\tactive\t") {
		t.Errorf("list with AUTH_SESSION_IDLE_TIMEOUT=0 over the setting 1h: %q; want the session active", out)
	}
}

// TestPurgeReadsEventsRetention: purge keeps the audit events as long as
// the database's events-retention says; --events-retention wins for one
// run.
func TestPurgeReadsEventsRetention(t *testing.T) {
	t.Parallel()
	dbURL := purgeFixture(t)
	const oldEvents = "system.session_events WHERE at < '2023-01-01'"
	mustRun(t, "settings", "set", "events-retention", "0", "--url", dbURL)
	mustRun(t, "purge", "--url", dbURL)
	if n := mustCount(t, dbURL, oldEvents); n != 2 {
		t.Errorf("%d events of 2022 left by purge under events-retention 0; want both", n)
	}
	mustRun(t, "purge", "--events-retention", "1h", "--url", dbURL)
	if n := mustCount(t, dbURL, oldEvents); n != 0 {
		t.Errorf("%d events of 2022 left by purge --events-retention 1h; want none", n)
	}
}

// TestLoginAndThrottleReadSettings: login keeps a user to the database's
// max-sessions-per-user unless --max-sessions says otherwise; throttle
// show lists by the database's limits.
func TestLoginAndThrottleReadSettings(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "limited", "LOGIN")
	live := "system.web_sessions WHERE username = $1 AND revoked_at IS NULL"
	mustRun(t, "settings", "set", "max-sessions-per-user", "1", "--url", dbURL)
	for range 2 {
		mustRun(t, "login", user, "--only-value", "--url", dbURL)
	}
	if n := mustCount(t, dbURL, live, user); n != 1 {
		t.Errorf("%d live sessions after 2 logins under max-sessions-per-user 1; want 1", n)
	}
	mustRun(t, "login", user, "--only-value", "--max-sessions", "0", "--url", dbURL)
	if n := mustCount(t, dbURL, live, user); n != 2 {
		t.Errorf("%d live sessions after login --max-sessions 0; want 2: the flag wins", n)
	}

	pgtest.MustExec(t, dbURL, `INSERT INTO system.login_attempts (client_addr, username, at, counts_until)
SELECT '203.0.113.7', 'bob', now() - (g * INTERVAL '1 minute'), now() + INTERVAL '1 hour' FROM generate_series(1, 3) g`)
	if out := mustRun(t, "throttle", "show", "--no-headers", "--url", dbURL).stdout; out != "" {
		t.Errorf("throttle show under the default limits: %q; want nothing", out)
	}
	mustRun(t, "settings", "set", "login-fail-limit", "3", "--url", dbURL)
	out := mustRun(t, "throttle", "show", "--format", "tsv", "--no-headers", "--url", dbURL).stdout
	if !strings.HasPrefix(out, "203.0.113.7\tbob\t3\t") {
		t.Errorf("throttle show under login-fail-limit 3: %q; want bob at 203.0.113.7", out)
	}
}
