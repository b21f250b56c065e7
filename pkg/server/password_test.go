package server

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// The wording of pgbouncer 1.18's refusals, and of its errors that mean it
// cannot be asked, which must stay 503s.
func TestRefusedLogin(t *testing.T) {
	for _, tc := range []struct {
		code, message string
		want          bool
	}{
		{"28P01", `password authentication failed for user "alice"`, true},
		{"28000", `role "alice" is not permitted to log in`, true},
		{"08P01", "SASL authentication failed", true},
		{"08P01", "password authentication failed", true},
		{"08P01", "no such user", true},
		{"08P01", "server login has been failing, try again later (server_login_retry)", false},
		{"08P01", "no more connections allowed (max_client_conn)", false},
		{"08006", "connection failure", false},
		{"57P03", "the database system is starting up", false},
	} {
		err := fmt.Errorf("connect: %w", &pgconn.PgError{Code: tc.code, Message: tc.message})
		if got := refusedLogin(err); got != tc.want {
			t.Errorf("refusedLogin(%s %q) = %v; want %v", tc.code, tc.message, got, tc.want)
		}
	}
}
