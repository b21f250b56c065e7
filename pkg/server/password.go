package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auth-session/auth-session/pkg/outage"
)

var (
	// errWrongPassword means the database refused the role with that
	// password: a wrong password, an unknown role, a role that may not log
	// in or one past its VALID UNTIL. The database does not tell them apart,
	// and neither do we.
	errWrongPassword = errors.New("wrong password or unknown user")
	// errPasswordNotChecked means the database let the role in with a
	// password it never checked (trust or peer in pg_hba.conf).
	errPasswordNotChecked = errors.New("the database lets this role in without checking a password")
)

// roleRefused is the database refusing the role for another reason than
// its password, mostly once it checked the password: a CONNECTION LIMIT
// reached, no CONNECT on the database, the slots left reserved for
// superusers, or an authentication method we cannot use (pg_hba.conf). To
// the client it is a wrong password (anything else could tell it that the
// password was right); the reason is for the admin, in the login.failed
// event.
type roleRefused struct {
	reason string
}

func (e *roleRefused) Error() string {
	return "the database refused the role: " + e.reason
}

// passwordChecker asks the database whether a password is right, by
// connecting as the role with it. The server never sees a password hash.
type passwordChecker struct {
	// base holds the host, port, database and TLS settings of the pool.
	base *pgconn.Config
	// outage holds back connection attempts during an outage, as it does
	// the pool's.
	outage *outage.Guard
}

// check returns nil when the database accepts password for username and
// did check it; errWrongPassword, a *roleRefused or
// errPasswordNotChecked when it refuses or did not check; and another error
// only when it could not be asked (see cannotAsk).
func (p *passwordChecker) check(ctx context.Context, username, password string) error {
	if err := p.connect(ctx, username, password); err != nil {
		return err
	}
	// The password got in. A random one must not: if it does, or is
	// refused only after authentication, nothing checked either of them.
	var refused *roleRefused
	switch err := p.connect(ctx, username, randomPassword()); {
	case err == nil, errors.As(err, &refused):
		return errPasswordNotChecked
	case errors.Is(err, errWrongPassword):
		return nil
	default:
		return err
	}
}

// connect opens a connection as username with password, and closes it.
func (p *passwordChecker) connect(ctx context.Context, username, password string) error {
	if err := p.outage.Admit(); err != nil {
		return err
	}
	cfg := p.base.Copy()
	cfg.User, cfg.Password = username, password
	// The pool's hooks are for the pool's own connections.
	cfg.ValidateConnect, cfg.AfterConnect, cfg.AfterNetConnect = nil, nil, nil
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return refusal(err)
	}
	// The answer is in; a failed goodbye does not change it.
	_ = conn.Close(ctx)
	p.outage.Connected()
	return nil
}

// bouncerRefusals are the words pgbouncer uses, with SQLSTATE 08P01
// (protocol violation) rather than PostgreSQL's 28P01, when it refuses a
// login itself: a wrong password or an unknown role. Its other 08P01 errors
// (the server is down, too many clients) mean it cannot be asked, and stay
// errors.
var bouncerRefusals = []string{
	"password authentication failed",
	"SASL authentication failed",
	"no such user",
}

// refusal sorts the error of a connection attempt as a password check sees
// it. SQLSTATE class 28 (invalid authorization specification: a wrong
// password, an unknown role, NOLOGIN, a pg_hba reject), and pgbouncer's own
// refusals, are errWrongPassword. An error that says the database could not
// be asked (see cannotAsk) stays an error, the only kind that may become a
// 503 and an outage. Anything else is a *roleRefused: whatever a client
// sends, it cannot make the server think the database is gone.
func refusal(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case cannotAsk(err):
		return fmt.Errorf("connect to the database to check a password: %w", err)
	case !errors.As(err, &pgErr):
		return &roleRefused{reason: err.Error()}
	case strings.HasPrefix(pgErr.Code, "28") || bouncerRefused(pgErr):
		return errWrongPassword
	default:
		return &roleRefused{reason: pgErr.Message}
	}
}

// cannotAsk reports whether err, of a connection attempt, means the
// database could not be asked: the network failed (a refused or cut
// connection, a timeout), the outage Guard held the attempt back, or the
// server said that it is shutting down or starting up, or that the
// connection failed (class 08, except pgbouncer's refusals of a login).
func cannotAsk(err error) bool {
	var pgErr *pgconn.PgError
	var netErr net.Error
	if errors.As(err, &pgErr) {
		switch {
		case bouncerRefused(pgErr):
			return false
		case strings.HasPrefix(pgErr.Code, "08"):
			return true
		}
		return pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	return errors.Is(err, outage.ErrUnavailable) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// bouncerRefused reports whether pgErr is pgbouncer refusing a login
// itself (see bouncerRefusals).
func bouncerRefused(pgErr *pgconn.PgError) bool {
	if pgErr.Code != "08P01" {
		return false
	}
	for _, words := range bouncerRefusals {
		if strings.Contains(pgErr.Message, words) {
			return true
		}
	}
	return false
}

func randomPassword() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
