package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestPrintError(t *testing.T) {
	cfg, err := pgx.ParseConfig("postgres://bob:pw@db.example:6543/sessions")
	if err != nil {
		t.Fatal(err)
	}
	pgErr := &pgconn.PgError{Severity: "ERROR", Code: "23505", Message: "duplicate key value violates unique constraint \"web_sessions_pkey\"",
		Detail: "Key (id)=(1) already exists.", Hint: "pick another id"}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name string
		err  error
		want string
		code int
	}{
		{"database error keeps our context, SQLSTATE, DETAIL and HINT",
			fmt.Errorf("create session for %q: %w", "web_user", pgErr),
			"ERROR: create session for \"web_user\": duplicate key value violates unique constraint \"web_sessions_pkey\"\n" +
				"SQLSTATE: 23505\nDETAIL: Key (id)=(1) already exists.\nHINT: pick another id\n", 1},
		{"database error without detail or hint",
			&pgconn.PgError{Severity: "ERROR", Code: "42P01", Message: "relation \"x\" does not exist"},
			"ERROR: relation \"x\" does not exist\nSQLSTATE: 42P01\n", 1},
		{"refused connection: one line with what to check",
			connectError{cfg: cfg, err: fmt.Errorf("failed to connect to `host=db.example`: dial error (%w)", refused)},
			"ERROR: cannot connect to PostgreSQL at db.example:6543 as user \"bob\", database \"sessions\": connection refused; " +
				"check --url (or AUTH_SESSION_URL, PGHOST, PGPORT) and that PostgreSQL is running and accepting connections there\n", 1},
		{"timed out connection",
			connectError{cfg: cfg, err: fmt.Errorf("failed to connect: %w", context.DeadlineExceeded)},
			"ERROR: cannot connect to PostgreSQL at db.example:6543 as user \"bob\", database \"sessions\": timed out; " +
				"check --url (or AUTH_SESSION_URL, PGHOST, PGPORT) and that PostgreSQL is running and accepting connections there\n", 1},
		{"server refuses the login",
			connectError{cfg: cfg, err: fmt.Errorf("failed to connect: %w", &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: "password authentication failed for user \"bob\""})},
			"ERROR: connect to PostgreSQL at db.example:6543 as user \"bob\", database \"sessions\": password authentication failed for user \"bob\"\nSQLSTATE: 28P01\n", 1},
		{"hint error with a code",
			hintError{msg: "user \"bob\" is not a member of the admin role", hint: "ask", code: "42501"},
			"ERROR: user \"bob\" is not a member of the admin role\nSQLSTATE: 42501\nHINT: ask\n", 1},
		{"hint error without a code",
			hintError{msg: "no schema", hint: "run init"},
			"ERROR: no schema\nHINT: run init\n", 1},
		{"usage error",
			usageErrorf("invalid --port %q", "x"),
			"ERROR: invalid --port \"x\"\nHINT: see 'auth-session --help'\n", 2},
		{"usage error of a command",
			inCommand(fmt.Errorf("revoke sessions: %w", usageErrorf("invalid --port %q", "x")), "revoke"),
			"ERROR: revoke sessions: invalid --port \"x\"\nHINT: see 'auth-session revoke --help'\n", 2},
		{"interrupted",
			fmt.Errorf("list sessions: %w", context.Canceled),
			"ERROR: interrupted\n", 1},
		{"anything else",
			errors.New("write cookie jar \"x\": disk full"),
			"ERROR: write cookie jar \"x\": disk full\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			PrintError(&buf, tt.err)
			if buf.String() != tt.want {
				t.Errorf("PrintError:\n%s\nwant:\n%s", buf.String(), tt.want)
			}
			if got := ExitCode(tt.err); got != tt.code {
				t.Errorf("ExitCode = %d, want %d", got, tt.code)
			}
		})
	}
	if ExitCode(nil) != ExitOK {
		t.Errorf("ExitCode(nil) = %d, want 0", ExitCode(nil))
	}
}
