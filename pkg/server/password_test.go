package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auth-session/auth-session/pkg/outage"
)

// How a password check sorts the errors of its connection attempts: the
// wording of pgbouncer 1.18's refusals, and of its errors that mean it
// cannot be asked; PostgreSQL's refusals before and after it checked the
// password. Only "cannot ask" may become a 503.
func TestRefusal(t *testing.T) {
	const (
		wrong    = "wrong password"
		after    = "role refused"
		cannotBe = "cannot ask"
	)
	for _, tc := range []struct {
		code, message string
		want          string
	}{
		{"28P01", `password authentication failed for user "alice"`, wrong},
		{"28000", `role "alice" is not permitted to log in`, wrong},
		{"08P01", "SASL authentication failed", wrong},
		{"08P01", "password authentication failed", wrong},
		{"08P01", "no such user", wrong},
		{"08P01", "server login has been failing, try again later (server_login_retry)", cannotBe},
		{"08P01", "no more connections allowed (max_client_conn)", cannotBe},
		{"08006", "connection failure", cannotBe},
		{"57P03", "the database system is starting up", cannotBe},
		{"53300", `too many connections for role "alice"`, after},
		{"42501", `permission denied for database "app"`, after},
		{"53300", "remaining connection slots are reserved for roles with the SUPERUSER attribute", after},
	} {
		err := refusal(fmt.Errorf("connect: %w", &pgconn.PgError{Code: tc.code, Message: tc.message}))
		if got := sortOf(err, wrong, after, cannotBe); got != tc.want {
			t.Errorf("refusal(%s %q) = %v: %s; want %s", tc.code, tc.message, err, got, tc.want)
		}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{io.ErrUnexpectedEOF, cannotBe},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, cannotBe},
		{outage.ErrUnavailable, cannotBe},
		{context.DeadlineExceeded, cannotBe},
		// pg_hba.conf asks for an authentication method pgx cannot use.
		{errors.New("gss auth is not supported"), after},
	} {
		err := refusal(fmt.Errorf("connect: %w", tc.err))
		if got := sortOf(err, wrong, after, cannotBe); got != tc.want {
			t.Errorf("refusal(%v): %s; want %s", tc.err, got, tc.want)
		}
	}
}

func sortOf(err error, wrong, after, cannotAsk string) string {
	var refused *roleRefused
	switch {
	case errors.Is(err, errWrongPassword):
		return wrong
	case errors.As(err, &refused):
		return after
	}
	return cannotAsk
}
