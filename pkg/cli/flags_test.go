package cli

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/sql"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Duration
		wantErr string
	}{
		{value: "1h", want: time.Hour},
		{value: "4h30m", want: 4*time.Hour + 30*time.Minute},
		{value: "90m", want: 90 * time.Minute},
		{value: "7d", want: 7 * 24 * time.Hour},
		{value: "1w", want: 7 * 24 * time.Hour},
		{value: "1w2d3h4m5s", want: 9*24*time.Hour + 3*time.Hour + 4*time.Minute + 5*time.Second},
		{value: "1.5h", want: 90 * time.Minute},
		{value: " 2h ", wantErr: `invalid --expire-after " 2h ": want a duration such as 90m, 4h30m, 7d or 1w, without spaces or a sign`},
		{value: "+2h", wantErr: `invalid --expire-after "+2h": want a duration such as 90m, 4h30m, 7d or 1w, without spaces or a sign`},
		{value: "1s", want: time.Second},
		{value: "1000ms", want: time.Second},
		{value: "0", wantErr: `invalid --expire-after "0": must be positive, such as 90m, 4h30m, 7d or 1w (units: ns, us, ms, s, m, h, d (days), w (weeks))`},
		{value: "0h", wantErr: `invalid --expire-after "0h": must be positive`},
		{value: "-5m", wantErr: `invalid --expire-after "-5m": must be positive`},
		{value: "3x", wantErr: `invalid --expire-after "3x": want a duration such as 90m, 4h30m, 7d or 1w (units: ns, us, ms, s, m, h, d (days), w (weeks))`},
		{value: "", wantErr: `invalid --expire-after "": want a duration`},
		{value: "h", wantErr: `invalid --expire-after "h": want a duration`},
		{value: "4h 30m", wantErr: `invalid --expire-after "4h 30m": want a duration`},
		{value: "9999999999w", wantErr: `invalid --expire-after "9999999999w": too large (at most about 292 years)`},
		{value: "300y", wantErr: `invalid --expire-after "300y": want a duration`},
		{value: "999999h", want: 999999 * time.Hour},
		{value: "9999999h", wantErr: `invalid --expire-after "9999999h": too large`},
		{value: "999ms", wantErr: `invalid --expire-after "999ms": must be at least 1s`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := parseDuration("expire-after", tt.value, time.Second)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v, want %v", err, tt.want)
			case tt.wantErr == "" && got != tt.want:
				t.Errorf("= %v, want %v", got, tt.want)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one starting %q", err, tt.wantErr)
			case tt.wantErr != "" && ExitCode(err) != ExitUsage:
				t.Errorf("exit code %d, want %d", ExitCode(err), ExitUsage)
			}
		})
	}
}

func TestParseRoleName(t *testing.T) {
	tests := []struct {
		arg, want string
		wantErr   string // a substring of the error
	}{
		{arg: "web_user", want: "web_user"},
		{arg: "Web_User", want: "web_user"},
		{arg: "ROOT", want: "root"},
		// Only ASCII letters fold, as PostgreSQL folds unquoted identifiers
		// in a UTF-8 database.
		{arg: "ZOË", want: "zoË"},
		{arg: "with space", want: "with space"},
		{arg: `"MixedCase"`, want: "MixedCase"},
		{arg: `" web_user"`, want: " web_user"},
		{arg: `"a""b"`, want: `a"b`},
		{arg: `""""`, want: `"`},
		{arg: "\"tab\there\"", want: "tab\there"},
		{arg: "", wantErr: "must not be empty"},
		{arg: `""`, wantErr: "must not be empty"},
		{arg: "  alice ", wantErr: `put the name in double quotes, inside the shell's quotes: '"  alice "'`},
		{arg: " \t", wantErr: "whitespace at either end"},
		{arg: "alice\n", wantErr: "whitespace at either end"},
		{arg: "al\x1bice", wantErr: "control characters"},
		{arg: "a\x00b", wantErr: "NUL"},
		{arg: "\"a\x00b\"", wantErr: "NUL"},
		{arg: "\xff", wantErr: "UTF-8"},
		{arg: `"open`, wantErr: "closing double quote is missing"},
		{arg: `"`, wantErr: "closing double quote is missing"},
		{arg: `"a"b"`, wantErr: `written twice ("")`},
		{arg: `a"b`, wantErr: `'"a""b"'`},
	}
	for _, tt := range tests {
		got, err := parseRoleName("USERNAME", tt.arg)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("parseRoleName(%q) = %q, %v; want %q, error containing %q", tt.arg, got, err, tt.want, tt.wantErr)
		}
		if err != nil && (ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "USERNAME "+strconv.Quote(tt.arg))) {
			t.Errorf("parseRoleName(%q): error %q should quote the value and be a usage error", tt.arg, err)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	for name, want := range map[string]string{
		"web_user": "web_user", "_private_9": "_private_9", "MixedCase": `"MixedCase"`, `say "hi"`: `"say ""hi"""`, " web_user": `" web_user"`,
		`a"b`: `"a""b"`, "select": `"select"`, "user": `"user"`, "admin": "admin", "1abc": `"1abc"`,
	} {
		if got := quoteIdent(name); got != want {
			t.Errorf("quoteIdent(%q) = %s, want %s", name, got, want)
		}
	}
}

func TestInterspersed(t *testing.T) {
	env, _, _ := newEnv(terminals{})
	app := NewApp(env)
	tests := []struct {
		args, want string
	}{
		{"login web_user --expire-after=4h30m", "login --expire-after=4h30m -- web_user"},
		{"login web_user --expire-after 4h30m --only-cookie", "login --expire-after 4h30m --only-cookie -- web_user"},
		{"login --url U web_user", "login --url U -- web_user"},
		{"login -d db web_user --insecure", "login -d db --insecure -- web_user"},
		{"login -- -dash-user", "login -- -dash-user"},
		{"login web_user -- --only-cookie", "login -- web_user --only-cookie"},
		{"login web_user --expire-after", "login --expire-after"},
		{"list --active --user x", "list --active --user x"},
		{"list", "list"},
		{"nosuch a --b", "nosuch a --b"},
	}
	for _, tt := range tests {
		got := interspersed(app, append([]string{"auth-session"}, strings.Fields(tt.args)...))
		if strings.Join(got[1:], " ") != tt.want {
			t.Errorf("interspersed(%s) = %s, want %s", tt.args, strings.Join(got[1:], " "), tt.want)
		}
	}
}

func TestFlagError(t *testing.T) {
	tests := []struct{ in, want string }{
		{"flag provided but not defined: -formt", `unknown flag "--formt": did you mean --format?`},
		{"flag provided but not defined: -expire", `unknown flag "--expire": did you mean --expire-after?`},
		{"flag provided but not defined: -bogus", `unknown flag "--bogus"`},
		{"flag needs an argument: -format", `flag --format needs a value`},
		{"flag needs an argument: -d", `flag -d needs a value`},
		{`invalid value "soon" for flag -warn-stale-days: parse error`, `invalid --warn-stale-days "soon": want a whole number`},
		{"something else", "something else"},
	}
	env, _, _ := newEnv(terminals{})
	app := NewApp(env)
	c := cli.NewContext(app, nil, nil)
	c.Command = app.Command("login")
	for _, tt := range tests {
		if got := flagError(c, errorString(tt.in)).Error(); got != tt.want {
			t.Errorf("flagError(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestConnString(t *testing.T) {
	for _, tt := range []struct {
		opts ConnOptions
		want string
	}{
		{ConnOptions{URL: "postgres://u@h/db"}, "postgres://u@h/db"},
		{ConnOptions{URL: "postgres://u@h/db", User: "admin", Port: "5433"}, "postgres://u@h/db?port=5433&user=admin"},
		{ConnOptions{URL: "postgres://u@h/db?sslmode=disable", Host: "/tmp", Database: "x y"}, "postgres://u@h/db?sslmode=disable&host=%2Ftmp&dbname=x+y"},
		{ConnOptions{URL: "host=h user=u", User: "o'brien"}, `host=h user=u user='o\'brien'`},
		{ConnOptions{Host: "h", Port: "1"}, "host='h' port='1'"},
	} {
		if got := tt.opts.connString(); got != tt.want {
			t.Errorf("%+v: connString() = %q, want %q", tt.opts, got, tt.want)
		}
	}
	// A password holding / or @ does not hide the port.
	if err := checkConnSettings(ConnOptions{URL: "postgres://u:p/a@ss@h:5432/db"}); err != nil {
		t.Errorf("password with / and @: %v", err)
	}
	if err := checkConnSettings(ConnOptions{URL: "postgres://u:p/a@ss@h:99x/db"}); err == nil || !strings.Contains(err.Error(), `"99x"`) {
		t.Errorf("bad port after a password with / and @: %v", err)
	}
}

// A keyword/value string pgx cannot read is refused without echoing any of
// it: the fragment could be a mistyped password.
func TestParseConfigErrorEchoesNoFragment(t *testing.T) {
	_, err := ConnOptions{URL: "host=h password:s3cret-pw user=u"}.Config()
	if err == nil || ExitCode(err) != ExitUsage || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Config() = %v; want a usage error that does not echo the string", err)
	}
}

// TestEverySelectionFieldIsAFlag: list and revoke take every field of the
// selection the API takes, by its flag (sql.SelectionFields), and each
// field that is not a list has a usage for its help.
func TestEverySelectionFieldIsAFlag(t *testing.T) {
	env, _, _ := newEnv(terminals{})
	app := NewApp(env)
	for _, command := range []string{"list", "revoke"} {
		flags := map[string]bool{}
		for _, f := range app.Command(command).Flags {
			for _, name := range f.Names() {
				flags[name] = true
			}
		}
		for _, field := range sql.SelectionFields {
			if !flags[field.Flag] {
				t.Errorf("%s has no --%s for the selection field %s", command, field.Flag, field.Name)
			}
			if !field.List && field.Usage == "" {
				t.Errorf("selection field %s has no usage for its flag's help", field.Name)
			}
		}
	}
}
