package cli

import (
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// parse runs args through the app with the RunF seam: it returns the
// options the command would have run with, without connecting anywhere.
func parse(t *testing.T, args ...string) (opts any, code int, stderr string) {
	t.Helper()
	env, _, errOut := newEnv(terminals{})
	env.RunF = func(o any) error {
		opts = o
		return nil
	}
	code = Main(context.Background(), append([]string{"auth-session"}, args...), env)
	return opts, code, errOut.String()
}

const parseURL = "postgres://admin@db.example.com:5432/app?sslmode=disable"

// TestParseOptions: what each command's flags become.
func TestParseOptions(t *testing.T) {
	conn := ConnOptions{URL: parseURL, Schema: sql.DefaultSchema}
	tests := []struct {
		args []string
		want any
	}{
		{[]string{"login", "web_user", "--expire-after", "4h30m", "--only-value"},
			loginOptions{conn: conn, username: "web_user", typed: "web_user", expireAfter: 4*time.Hour + 30*time.Minute, expireAfterText: "4h30m", onlyValue: true, format: format.TSV}},
		{[]string{"login", "Web_User", "--cookie-jar", "j.txt", "--domain", ".Example.com", "--max-sessions", "3"},
			loginOptions{conn: conn, username: "web_user", typed: "Web_User", expireAfter: time.Hour, expireAfterText: "1h", cookieJar: "j.txt",
				jarHosts: []string{".example.com"}, maxSessions: ptr(3), format: format.TSV}},
		{[]string{"logout", "alice", "bob", "--reason", "lost laptop", "--dry-run", "--format", "json"},
			logoutOptions{conn: conn, usernames: []string{"alice", "bob"}, reason: "lost laptop", dryRun: true, format: format.JSON, standbyTimeout: sql.DefaultStandbyTimeout}},
		{[]string{"revoke", "--ip", "10.0.0.0/8", "--via", "http", "--yes", "--reason", "stolen"},
			revokeOptions{conn: conn, sel: sql.Selection{Network: netip.MustParsePrefix("10.0.0.0/8"), Via: "http"},
				described: "--ip 10.0.0.0/8 --via http", written: map[string]any{"ip": "10.0.0.0/8", "via": "http"},
				yes: true, reason: "stolen", format: format.TSV, standbyTimeout: sql.DefaultStandbyTimeout, pinned: map[string]string{}}},
		{[]string{"purge", "--older-than", "7d", "--batch", "100", "--dry-run", "--schema", "app_auth"},
			purgeOptions{conn: ConnOptions{URL: parseURL, Schema: "app_auth"},
				purge: sql.PurgeOptions{OlderThan: 7 * 24 * time.Hour, Batch: 100, DryRun: true, Pace: 0}, format: format.TSV, pinned: map[string]string{}}},
		{[]string{"purge", "--events-retention", "0d"},
			purgeOptions{conn: conn, purge: sql.PurgeOptions{OlderThan: time.Hour, Batch: sql.DefaultPurgeBatch}, format: format.TSV,
				pinned: map[string]string{sql.SettingEventsRetention: "0"}}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, code, stderr := parse(t, append(tt.args, "--url", parseURL)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got = withoutEnv(got); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("options\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// withoutEnv clears the options' Env, the test's own, to compare the rest.
func withoutEnv(o any) any {
	switch o := o.(type) {
	case loginOptions:
		o.env = nil
		return o
	case logoutOptions:
		o.env = nil
		return o
	case revokeOptions:
		o.env = nil
		return o
	case purgeOptions:
		o.env = nil
		return o
	}
	return o
}

// TestParseErrors: bad input is exit 2 with the error naming it, and the
// command never runs.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		args       []string
		wantStderr string
	}{
		{[]string{"login"}, `ERROR: missing USERNAME: usage: auth-session login USERNAME`},
		{[]string{"login", "u", "--expire-after", "soon"}, `invalid --expire-after "soon"`},
		{[]string{"login", "u", "--only-cookie", "--only-value"}, `--only-cookie and --only-value exclude each other`},
		{[]string{"login", "u", "--cookie-jar", "j", "--domain", "http://x"}, `invalid --domain "http://x"`},
		{[]string{"lgin", "u"}, `unknown command "lgin": did you mean "login"?`},
		{[]string{"list", "--formt", "json"}, `unknown flag "--formt": did you mean --format?`},
		{[]string{"list", "--state", "asleep"}, `"asleep"`},
		{[]string{"revoke", "--ip", "300.1.1.1"}, `"300.1.1.1"`},
		{[]string{"list", "--schema", "Bad-Name"}, `invalid schema name "Bad-Name"`},
		{[]string{"completion", "tcsh"}, `invalid SHELL "tcsh": want bash, zsh, fish`},
		{[]string{"serve", "--insecure", "--max-conns", "0"}, `invalid --max-conns 0`},
		{[]string{"logout", "u", "--standby-timeout", "soon"}, `invalid --standby-timeout "soon"`},
		{[]string{"revoke", "1", "--yes", "--standby-timeout", "-1s"}, `invalid --standby-timeout "-1s"`},
		{[]string{"serve", "--insecure", "--standby-timeout", "1ns"}, `invalid --standby-timeout "1ns": must be at least 10ms`},
		{[]string{"purge", "--batch", "0"}, `--batch`},
		{[]string{"purge", "--events-retention", "30m"}, `invalid --events-retention "30m": must be at least 1h0m0s; or 0 to keep every event`},
		{[]string{"list", "--idle-timeout", "30s"}, `invalid --idle-timeout "30s": must be at least 1m0s; or 0 to turn it off`},
		{[]string{"show", "1", "--idle-timeout", "soon"}, `invalid --idle-timeout "soon": want a duration`},
		{[]string{"login", "u", "--max-sessions", "-1"}, `invalid --max-sessions "-1": want a whole number from 1 to 100000; or 0 to set no limit`},
		{[]string{"serve", "--insecure", "--max-sessions-per-user", "many"}, `invalid --max-sessions-per-user "many": want a whole number from 1 to 100000`},
		{[]string{"serve", "--insecure", "--login-fail-limit", "-1"}, `invalid --login-fail-limit "-1": want a whole number from 1 to 1000000; or 0 to set no such limit`},
		{[]string{"throttle", "show", "--login-fail-window", "1ms"}, `invalid --login-fail-window "1ms": must be at least 1s; or 0 to turn the login throttle off`},
		{[]string{"serve", "--insecure", "--trusted-proxies", "proxy.example.com"}, `invalid --trusted-proxies "proxy.example.com": "proxy.example.com" is not an address or a network`},
		{[]string{"serve", "--insecure", "--idle-timeout", "1m"}, `--touch-interval 1m must be shorter than --idle-timeout 1m`},
		{[]string{"serve", "--insecure", "--forward-auth-user-header", "X User"}, `--forward-auth-user-header: invalid forward-auth user header "X User": want a header name`},
		{[]string{"serve", "--insecure", "--forward-auth-session-header", "Cookie"}, `--forward-auth-session-header: invalid forward-auth session header "Cookie": that header has a meaning of its own`},
		{[]string{"serve", "--insecure", "--forward-auth-session-header", ""}, `must not be empty`},
		{[]string{"serve", "--insecure", "--forward-auth-session-header", "x-auth-session-user"}, `both "X-Auth-Session-User"`},
		{[]string{"serve", "--insecure", "--forward-auth-login-url", "//evil.example/"}, `--forward-auth-login-url: invalid forward-auth login URL "//evil.example/": want an absolute http or https URL`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := tt.args
			if args[0] != "completion" {
				args = append(args, "--url", parseURL)
			}
			ran, code, stderr := parse(t, args...)
			if code != ExitUsage || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tt.wantStderr)
			}
			if ran != nil {
				t.Errorf("the command ran with %+v", ran)
			}
		})
	}
}
