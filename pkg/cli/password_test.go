package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/outage"
)

// terminalEnv is an Env whose standard input and error are a terminal, on
// which typed is typed.
func terminalEnv(typed string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	env, out, errOut := newEnv(terminals{err: true})
	env.IO.In, env.IO.InIsTerminal = strings.NewReader(typed), true
	return env, out, errOut
}

// parseOn is parse with env's streams.
func parseOn(t *testing.T, env *Env, args ...string) (opts any, code int) {
	t.Helper()
	env.RunF = func(o any) error {
		opts = o
		return nil
	}
	code = Main(context.Background(), append([]string{"auth-session"}, args...), env)
	return opts, code
}

// connOf is the prompt mode and terminal of a command's parsed options
// (their conn field).
func connOf(opts any) (PasswordPrompt, *IOStreams) {
	conn := reflect.ValueOf(opts).FieldByName("conn")
	// The terminal field is unexported: reflect gives its address only.
	return PasswordPrompt(conn.FieldByName("Password").Int()), (*IOStreams)(conn.FieldByName("terminal").UnsafePointer())
}

// TestPasswordFlags: psql's -W/--password and -w/--no-password on every
// command that connects; the prompt's terminal is the command's own when
// stdin and stderr are one, else there is none.
func TestPasswordFlags(t *testing.T) {
	for _, args := range [][]string{
		{"init"}, {"login", "web_user"}, {"logout", "web_user"}, {"list"}, {"revoke", "1", "--yes"},
		{"events"}, {"purge"}, {"serve", "--insecure"}, {"lock", "web_user"}, {"unlock", "web_user"}, {"locks"},
		{"throttle", "show"}, {"throttle", "clear", "--ip", "203.0.113.7"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			for _, tt := range []struct {
				flags []string
				want  PasswordPrompt
			}{
				{nil, PasswordWhenNeeded}, {[]string{"-W"}, PasswordFirst}, {[]string{"--password"}, PasswordFirst},
				{[]string{"-w"}, PasswordNever}, {[]string{"--no-password"}, PasswordNever},
			} {
				env, _, errOut := terminalEnv("")
				opts, code := parseOn(t, env, append(append(args, tt.flags...), "--url", parseURL)...)
				if code != 0 {
					t.Fatalf("%q: exit %d: %s", tt.flags, code, errOut)
				}
				if mode, terminal := connOf(opts); mode != tt.want || terminal != env.IO {
					t.Errorf("%q: Password %d, terminal %v; want %d on the command's streams", tt.flags, mode, terminal, tt.want)
				}
			}
			// Without a terminal, nothing is ever asked.
			for _, tty := range []terminals{{}, {err: true}} {
				env, _, _ := newEnv(tty)
				opts, code := parseOn(t, env, append(args, "--url", parseURL)...)
				if _, terminal := connOf(opts); code != 0 || terminal != nil {
					t.Errorf("%+v, stdin no terminal: exit %d, terminal %v; want none", tty, code, terminal)
				}
			}
		})
	}
}

// TestPasswordFlagErrors: -W with -w, -W without a terminal, and a value
// given to --password are usage errors, and the value is not repeated.
func TestPasswordFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args     []string
		terminal bool
		want     string
	}{
		{[]string{"list", "-W", "-w"}, true, "-W/--password and -w/--no-password exclude each other"},
		{[]string{"login", "u", "--no-password", "--password"}, true, "-W/--password and -w/--no-password exclude each other"},
		{[]string{"list", "-W"}, false, "-W/--password asks for the password on a terminal, and standard input or standard error is not one: give the password in PGPASSWORD or ~/.pgpass instead"},
		{[]string{"serve", "--insecure", "-W"}, false, "asks for the password on a terminal"},
		{[]string{"list", "--password=hunter2"}, true, "--password takes no value: it asks for the password on the terminal; a password given without a prompt goes in PGPASSWORD or ~/.pgpass"},
		{[]string{"logout", "u", "-W=hunter2"}, true, "-W takes no value"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			env, _, errOut := newEnv(terminals{})
			if tt.terminal {
				env, _, errOut = terminalEnv("")
			}
			ran, code := parseOn(t, env, append(tt.args, "--url", parseURL)...)
			if code != ExitUsage || !strings.Contains(errOut.String(), tt.want) || strings.Contains(errOut.String(), "hunter2") {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, errOut, tt.want)
			}
			if ran != nil {
				t.Errorf("the command ran with %+v", ran)
			}
		})
	}
}

// passwordRole makes a member of admin whose password is password, and
// returns a URL of dbURL's database as it, without the password and
// without a password file.
func passwordRole(t *testing.T, dbURL, password string) (role, noPasswordURL string) {
	t.Helper()
	role = mustCreateRole(t, dbURL, "pw_admin", "LOGIN PASSWORD '"+password+"' IN ROLE admin")
	return role, pgtest.WithUser(dbURL, role, "") + "&passfile=" + filepath.Join(t.TempDir(), "none")
}

// TestPasswordAskedWhenNeeded: the server wants a password that no setting
// gave, stdin and stderr are a terminal: the command asks as psql does,
// once, and connects with what was typed; -w does not ask, nor does a
// command without a terminal. (e2e/cli TestPasswordPrompt does it on a
// real pseudo-terminal, where the echo is off.)
func TestPasswordAskedWhenNeeded(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	role, roleURL := passwordRole(t, dbURL, "typed-pw")
	prompt := "Password for user " + role + ": "

	env, _, errOut := terminalEnv("typed-pw\n")
	if code := Main(context.Background(), []string{"auth-session", "list", "--url", roleURL}, env); code != 0 ||
		errOut.String() != prompt+"\n" {
		t.Errorf("list on a terminal: exit %d, stderr %q; want exit 0 and only the prompt", code, errOut)
	}

	env, _, errOut = terminalEnv("typed-pw\n")
	code := Main(context.Background(), []string{"auth-session", "list", "-w", "--url", roleURL}, env)
	want := `a password is required for user "` + role + `", and none was given` + "\nSQLSTATE: 28P01\n" +
		"HINT: put it in ~/.pgpass (a line 127.0.0.1:"
	if code != 1 || strings.Contains(errOut.String(), prompt) || !strings.Contains(errOut.String(), want) ||
		!strings.HasSuffix(errOut.String(), ":"+role+":PASSWORD, mode 0600) or PGPASSWORD, or give -W instead of -w to type it on a terminal\n") {
		t.Errorf("list -w: exit %d, stderr %q; want exit 1, no prompt, and %q", code, errOut, want)
	}

	// Enter alone: no password, and no second attempt.
	env, _, errOut = terminalEnv("\n")
	code = Main(context.Background(), []string{"auth-session", "list", "--url", roleURL}, env)
	if code != 1 || !strings.Contains(errOut.String(), "and none was typed") || !strings.Contains(errOut.String(), "or type it at the prompt") {
		t.Errorf("list, Enter at the prompt: exit %d, stderr %q", code, errOut)
	}

	r := runCLI(t, "list", "--url", roleURL)
	if r.code != 1 || strings.Contains(r.stderr, prompt) || !strings.Contains(r.stderr, "or give -W to type it on a terminal") {
		t.Errorf("list without a terminal: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestRefusedPasswordSaysWhence: a wrong password names where it came
// from (the URL, PGPASSWORD, the password file) and what to correct, and
// is never printed. Not parallel: it sets PGPASSWORD and PGPASSFILE.
func TestRefusedPasswordSaysWhence(t *testing.T) {
	dbURL := newSessionDB(t)
	role, roleURL := passwordRole(t, dbURL, "right-pw")
	check := func(name string, r cliResult, want ...string) {
		t.Helper()
		want = append(want, `the server refused the password for user "`+role+`"`, "SQLSTATE: 28P01", "-W asks for it on a terminal instead")
		for _, w := range want {
			if r.code != 1 || !strings.Contains(r.stderr, w) || strings.Contains(r.stderr, "wrong-pw") {
				t.Errorf("%s: exit %d, stderr %q; want exit 1 and %q, not the password", name, r.code, r.stderr, w)
			}
		}
	}
	check("URL", runCLI(t, "list", "--url", pgtest.WithUser(dbURL, role, "wrong-pw")),
		"(in the connection URL (--url or AUTH_SESSION_URL))", "HINT: correct it there, or leave it out of the URL and put it in ~/.pgpass")

	t.Setenv("PGPASSWORD", "wrong-pw")
	check("PGPASSWORD", runCLI(t, "list", "--url", roleURL), "(in PGPASSWORD)", "HINT: correct PGPASSWORD, or unset it to use ~/.pgpass")
	// Typed at -W, it is the one used.
	env, _, errOut := terminalEnv("right-pw\n")
	if code := Main(context.Background(), []string{"auth-session", "list", "-W", "--url", roleURL}, env); code != 0 {
		t.Errorf("list -W with a wrong PGPASSWORD: exit %d, stderr %q", code, errOut)
	}
	os.Unsetenv("PGPASSWORD")

	passfile := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(passfile, []byte("*:*:*:"+role+":wrong-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSFILE", passfile)
	check("password file", runCLI(t, "list", "--url", pgtest.WithUser(dbURL, role, "")),
		"(in "+passfile+")", "HINT: correct its line for "+role+" (127.0.0.1:")
}

// TestServeAsksOnce: serve's pool connects with the password typed at its
// one prompt, for every connection it opens.
func TestServeAsksOnce(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	_, roleURL := passwordRole(t, dbURL, "serve-pw")
	env, _, errOut := terminalEnv("serve-pw\n")
	o := ConnOptions{URL: roleURL, terminal: env.IO}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	pool, err := openPool(ctx, o, 3, outage.New(log), log)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var held []*pgxpool.Conn
	for range 3 {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatalf("connection %d of the pool: %v", len(held)+1, err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		c.Release()
	}
	if n := strings.Count(errOut.String(), "Password for user"); n != 1 || strings.Contains(errOut.String(), "serve-pw") {
		t.Errorf("stderr %q: want one prompt, and not the password", errOut)
	}
}

// TestPasswordPromptInterrupted: Ctrl-C at the password prompt is a plain
// line naming the command, exit 130.
func TestPasswordPromptInterrupted(t *testing.T) {
	t.Parallel()
	err := inCommand(cancelled{interrupted: true, atPassword: true}, "logout")
	var buf bytes.Buffer
	PrintError(&buf, err)
	if want := "logout interrupted at the password prompt: nothing changed\n"; buf.String() != want || ExitCode(err) != ExitInterrupted {
		t.Errorf("PrintError %q, exit %d; want %q, exit 130", buf.String(), ExitCode(err), want)
	}
}

// TestReadPasswordCancels: Ctrl-C (ctx cancelled by SIGINT) ends the
// prompt at once, while the read still waits for a line.
func TestReadPasswordCancels(t *testing.T) {
	t.Parallel()
	in, typing := io.Pipe()
	defer typing.Close()
	var errOut bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := readPassword(ctx, &IOStreams{In: in, Err: &errOut, InIsTerminal: true, ErrIsTerminal: true}, "Password for user a: ")
	if c, ok := err.(cancelled); !ok || !c.atPassword || !c.interrupted || errOut.String() != "Password for user a: \n" {
		t.Errorf("readPassword = %v, stderr %q; want cancelled at the password prompt", err, errOut.String())
	}
}
