package clie2e

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// passwordRole makes a member of admin whose password is password, and
// returns its name and a URL that connects as it without the password.
// The server must ask for it: pgtest's cluster takes scram-sha-256 over
// TCP.
func passwordRole(t *testing.T, dbURL, password string) (role, noPasswordURL string) {
	t.Helper()
	role = newRole(t, dbURL, "pw_admin", "LOGIN PASSWORD '"+password+"' IN ROLE admin")
	noPasswordURL = pgtest.WithUser(dbURL, role, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pgErr *pgconn.PgError
	conn, err := pgx.Connect(ctx, noPasswordURL+"&passfile=/nonexistent")
	if err == nil {
		conn.Close(ctx)
	}
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("the test server must refuse %s without a password (pg_hba scram-sha-256, as pgtest's own cluster), got %v", role, err)
	}
	return role, noPasswordURL
}

// noPasswordEnv is the environment of a user with no password anywhere:
// no PGPASSWORD (cleanEnv drops it) and no ~/.pgpass.
func noPasswordEnv(t *testing.T, dbURL string) []string {
	return []string{"AUTH_SESSION_URL=" + dbURL, "HOME=" + t.TempDir()}
}

// TestPasswordPrompt: as psql, a command connects without a password
// first; when the server asks for one and stdin and stderr are a
// terminal, it asks "Password for user NAME: " without echo and connects
// with what is typed. -w never asks; -W asks before connecting; a wrong
// password is refused with a hint; Ctrl-C at the prompt changes nothing.
func TestPasswordPrompt(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	webUser := newRole(t, dbURL, "web_user", "LOGIN")
	const password = "s3cret-typed-pw"
	role, roleURL := passwordRole(t, dbURL, password)
	env := noPasswordEnv(t, roleURL)
	question := "Password for user " + role + ": "

	noSecret := func(name, screen, stdout string) {
		t.Helper()
		if strings.Contains(screen, password) || strings.Contains(stdout, password) || strings.Contains(screen, "wrong-pw") {
			t.Errorf("%s: a password typed was shown:\n%s\n%s", name, screen, stdout)
		}
	}

	t.Run("asked when needed, without echo", func(t *testing.T) {
		var out bytes.Buffer
		screen, code := onTerminal(t, env, &out, question, password+"\n", "login", webUser, "--only-cookie")
		if code != 0 || !strings.Contains(screen, question) || !strings.HasPrefix(out.String(), "session=") {
			t.Errorf("exit %d, terminal %q, stdout %q; want the prompt, then a session made", code, screen, out.String())
		}
		noSecret("typed password", screen, out.String())
	})

	t.Run("-w never asks", func(t *testing.T) {
		var out bytes.Buffer
		screen, code := onTerminal(t, env, &out, "", "", "login", webUser, "-w")
		for _, want := range []string{`a password is required for user "` + role + `", and none was given`, "SQLSTATE: 28P01",
			"HINT: put it in ", "PGPASSWORD", "-W instead of -w"} {
			if !strings.Contains(screen, want) {
				t.Errorf("exit %d, terminal %q: want %q", code, screen, want)
			}
		}
		if code != 1 || strings.Contains(screen, "Password for user") || out.Len() != 0 {
			t.Errorf("exit %d, terminal %q, stdout %q; want exit 1, no prompt", code, screen, out.String())
		}
	})

	t.Run("a wrong password is refused", func(t *testing.T) {
		var out bytes.Buffer
		screen, code := onTerminal(t, env, &out, question, "wrong-pw\n", "login", webUser)
		for _, want := range []string{`the server refused the password for user "` + role + `" (typed at the prompt)`,
			"SQLSTATE: 28P01", "HINT: check it and try again, or put it in ~/.pgpass (a line 127.0.0.1:", "PGPASSWORD"} {
			if !strings.Contains(screen, want) {
				t.Errorf("exit %d, terminal %q: want %q", code, screen, want)
			}
		}
		if code != 1 || out.Len() != 0 {
			t.Errorf("exit %d, stdout %q; want exit 1", code, out.String())
		}
		noSecret("wrong password", screen, out.String())
	})

	t.Run("-W asks before connecting", func(t *testing.T) {
		// Nothing listens on port 1: the prompt comes first all the same.
		closed := noPasswordEnv(t, "postgres://"+role+"@127.0.0.1:1/db?sslmode=disable")
		screen, code := onTerminal(t, closed, nil, question, password+"\n", "list", "-W")
		if code != 1 || !strings.Contains(screen, question) || !strings.Contains(screen, "connection refused") ||
			strings.Index(screen, question) > strings.Index(screen, "connection refused") {
			t.Errorf("exit %d, terminal %q; want the prompt, then connection refused", code, screen)
		}
		noSecret("-W", screen, "")
		// And the typed password is the one used.
		var out bytes.Buffer
		screen, code = onTerminal(t, env, &out, question, password+"\n", "list", "-W", "--format", "tsv")
		if code != 0 || !strings.Contains(out.String(), webUser) {
			t.Errorf("list -W: exit %d, terminal %q, stdout %q", code, screen, out.String())
		}
		noSecret("-W", screen, out.String())
	})
	// Only the first subtest made a session.
	before := tableChecksum(t, dbURL)

	t.Run("Ctrl-C at the prompt", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			keys string
		}{
			{[]string{"logout", webUser}, "\x03"},
			{[]string{"logout", webUser, "-W"}, "\x03"},
			// Half a password, then Ctrl-C: none of it is shown.
			{[]string{"logout", webUser, "-W"}, "s3cret-ty\x03"},
		} {
			var out bytes.Buffer
			screen, code := onTerminal(t, env, &out, question, tt.keys, tt.args...)
			lines := strings.Split(strings.TrimSpace(screen), "\n")
			last := strings.TrimSpace(lines[len(lines)-1])
			if code != 130 || last != "logout interrupted at the password prompt: nothing changed" || strings.Contains(screen, "ERROR") ||
				strings.Contains(screen, "s3cret") || out.Len() != 0 {
				t.Errorf("%q, keys %q: exit %d, terminal %q, stdout %q; want exit 130 and one line", tt.args, tt.keys, code, screen, out.String())
			}
			if tableChecksum(t, dbURL) != before {
				t.Fatalf("%q: Ctrl-C at the password prompt changed the tables", tt.args)
			}
		}
	})

	t.Run("no terminal", func(t *testing.T) {
		r := runEnv(t, env, "list")
		if r.code != 1 || !strings.Contains(r.stderr, `a password is required for user "`+role+`"`) ||
			!strings.Contains(r.stderr, "give -W to type it on a terminal") || strings.Contains(r.stderr, "Password for user") {
			t.Errorf("list without a terminal: %s", r)
		}
	})
}
