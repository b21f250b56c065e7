package cli

import (
	"context"
	"strings"
	"testing"
)

// TestCompletionRunsNothing: a command line asking for completions is
// answered, never run, wherever the request stands and whatever precedes
// it; and should one reach urfave/cli all the same, no action runs.
func TestCompletionRunsNothing(t *testing.T) {
	for _, args := range [][]string{
		{"logout", "victim", "--", completionFlag},
		{"logout", "--", completionFlag},
		{"logout", "-", completionFlag},
		{"logout", "--users-from", "victims.txt", "--", completionFlag},
		{"revoke", "--yes", "--user", "victim", "--", completionFlag},
		{"logout", "--reason", completionFlag},
		{"logout", completionFlag, "victim"},
	} {
		opts, code, stderr := parse(t, args...)
		if opts != nil || code != ExitOK || stderr != "" {
			t.Errorf("%q: ran %+v, exit %d, stderr %q; want exit 0 and nothing run", args, opts, code, stderr)
		}
		env, _, _ := newEnv(terminals{})
		ran := false
		env.RunF = func(any) error { ran = true; return nil }
		err := NewApp(env).RunContext(context.Background(), append([]string{"auth-session"}, args...))
		if ran || err == nil {
			t.Errorf("%q given to urfave/cli: ran %v, error %v; want refused", args, ran, err)
		}
	}
}

// TestComplete: what completion offers after each kind of word.
func TestComplete(t *testing.T) {
	tests := []struct {
		words []string
		want  string
	}{
		{[]string{""}, "init login logout list show lookup serve demo revoke lock unlock locks throttle events purge settings completion man version"},
		{[]string{"-"}, "--help --version"},
		{[]string{"logout", "victim", "--"}, "--url --host --port -p --sql-user -U --database -d --certs-dir --password -W --no-password -w --schema --users-from --all --except --except-from --except-role --ignore-missing --yes -y --reason --dry-run --standby-timeout --format --no-headers --help -h"},
		{[]string{"list", "--format", ""}, "table tsv csv json ndjson yaml records sql html raw"},
		{[]string{"list", "--format", "="}, "table tsv csv json ndjson yaml records sql html raw"},
		{[]string{"list", "--format=t"}, "--format=table --format=tsv --format=csv --format=json --format=ndjson --format=yaml --format=records --format=sql --format=html --format=raw"},
		{[]string{"revoke", "--state", "a"}, "active idle expired revoked all"},
		{[]string{"list", "--order", ""}, "created expires last-used"},
		{[]string{"list", "--via", ""}, "cli http"},
		{[]string{"serve", "--log-level", ""}, "debug info warn error"},
		{[]string{"completion", ""}, "bash zsh fish"},
		{[]string{"logout", "--users-from", ""}, ""},
		{[]string{"logout", "victim", ""}, ""},
		{[]string{"logout", "--", "-"}, ""},
		{[]string{"frobnicate", "-"}, ""},
	}
	for _, tt := range tests {
		env, out, _ := newEnv(terminals{})
		complete(env.IO.Out, NewApp(env), tt.words)
		if got := strings.Join(strings.Fields(out.String()), " "); got != tt.want {
			t.Errorf("completing %q:\n got %q\nwant %q", tt.words, got, tt.want)
		}
	}
}
