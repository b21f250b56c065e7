package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auth-session/auth-session/internal/lazyregexp"
	"github.com/auth-session/auth-session/pkg/sql"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitRuntime = 1
	ExitUsage   = 2
	// ExitInterrupted is Ctrl-C at a prompt: 128 + SIGINT, as shells say it.
	ExitInterrupted = 130
)

// cancelled is a command the operator called off at its prompt, by
// answering no (or nothing) or with Ctrl-C: nothing was changed. It is a
// plain line, not an ERROR.
type cancelled struct {
	command     string
	interrupted bool
	// atPassword is Ctrl-C at the database password prompt, before
	// anything was read or written; its command is set by inCommand.
	atPassword bool
}

func (e cancelled) Error() string {
	switch {
	case e.atPassword:
		return e.command + " interrupted at the password prompt: nothing changed"
	case e.interrupted:
		return e.command + " interrupted: nothing revoked"
	}
	return e.command + " cancelled: nothing revoked"
}

// usageError marks a bad flag or argument: exit 2, nothing was attempted.
type usageError struct {
	err error
	// command, when known, is the command whose help the hint points to.
	command string
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf makes a usageError.
func usageErrorf(format string, args ...any) error {
	return usageError{err: fmt.Errorf(format, args...)}
}

// hintError is a runtime error of ours with advice on what to do next.
type hintError struct {
	msg  string
	hint string
	// code is a SQLSTATE to print, when the condition has one.
	code string
}

func (e hintError) Error() string { return e.msg }

// connectError is a failed connection attempt, with the settings tried.
type connectError struct {
	cfg *pgx.ConnConfig
	err error
}

func (e connectError) Error() string { return e.err.Error() }
func (e connectError) Unwrap() error { return e.err }

// inCommand makes a usage error of command point to its help, and names
// command in a cancellation at the password prompt, which the connection
// code cannot name.
func inCommand(err error, command string) error {
	var (
		ue usageError
		c  cancelled
	)
	switch {
	case command == "":
		return err
	case errors.As(err, &c) && c.command == "":
		c.command = command
		return c
	case errors.As(err, &ue):
		return usageError{err: err, command: command}
	}
	return err
}

// ExitCode returns the process exit code for err.
func ExitCode(err error) int {
	var (
		ue usageError
		c  cancelled
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &c) && c.interrupted:
		return ExitInterrupted
	}
	return ExitRuntime
}

// PrintError writes err to w the way cockroach and psql do: an ERROR line,
// then SQLSTATE, DETAIL and HINT lines when known. No stack traces, and no
// driver internals beyond what the database itself said.
func PrintError(w io.Writer, err error) {
	var (
		ce         connectError
		cc         cancelled
		he         hintError
		pgErr      *pgconn.PgError
		standbyErr *sql.StandbyError
	)
	switch {
	case errors.As(err, &cc):
		fmt.Fprintln(w, cc)
	case errors.As(err, &pgErr):
		// A database error: keep our context (what we were doing), then the
		// server's own words.
		prefix := strings.TrimSuffix(err.Error(), pgErr.Error())
		if errors.As(err, &ce) {
			prefix = fmt.Sprintf("connect to %s: ", describeTarget(ce.cfg))
		}
		fmt.Fprintf(w, "ERROR: %s%s\nSQLSTATE: %s\n", prefix, pgErr.Message, pgErr.Code)
		if pgErr.Detail != "" {
			fmt.Fprintf(w, "DETAIL: %s\n", pgErr.Detail)
		}
		switch {
		case pgErr.Hint != "":
			fmt.Fprintf(w, "HINT: %s\n", pgErr.Hint)
		case pgErr.Code == "25006": // read_only_sql_transaction: a standby
			fmt.Fprintf(w, "HINT: the server is read-only (a hot standby?); %s\n", readOnlyHint)
		}
	case errors.As(err, &ce) && certificateError(ce.err) != nil:
		fmt.Fprintf(w, "ERROR: cannot connect to %s: the server's certificate failed verification: %s\nHINT: %s\n",
			describeTarget(ce.cfg), certificateError(ce.err), certificateHint(ce.cfg))
	case errors.As(err, &ce):
		fmt.Fprintf(w, "ERROR: cannot connect to %s: %s; check --url (or AUTH_SESSION_URL, PGHOST, PGPORT) and that PostgreSQL is running and accepting connections there\n",
			describeTarget(ce.cfg), connectReason(ce.err))
	case errors.As(err, &he):
		fmt.Fprintf(w, "ERROR: %s\n", strings.TrimPrefix(err.Error(), "ERROR: "))
		if he.code != "" {
			fmt.Fprintf(w, "SQLSTATE: %s\n", he.code)
		}
		if he.hint != "" {
			fmt.Fprintf(w, "HINT: %s\n", he.hint)
		}
	case errors.As(err, &standbyErr):
		fmt.Fprintf(w, "ERROR: %s\nHINT: %s\n", err, standbyHint)
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(w, "ERROR: interrupted")
	default:
		fmt.Fprintf(w, "ERROR: %s\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(w, "HINT: see '%s --help'\n", strings.TrimSpace("auth-session "+ue.command))
		}
	}
}

// standbyHint says what to do after a revocation that a synchronous
// standby did not confirm.
const standbyHint = "the sessions are revoked on the primary, and refused by serve when it checks there; " +
	"a serve --read-url that checks sessions on that standby still accepts them until it replays the revocation. " +
	"On the standby, SELECT pg_is_wal_replay_paused() says whether replay was paused, and SELECT pg_wal_replay_resume() resumes it; " +
	"pg_stat_replication on the primary shows how far behind it is. If it cannot catch up soon, point serve --read-url elsewhere " +
	"(or drop it) and remove the standby from synchronous_standby_names. Running the same revocation again is safe"

// describeTarget names the server, user and database of a connection
// attempt, never its password.
func describeTarget(cfg *pgx.ConnConfig) string {
	host := cfg.Host
	if strings.HasPrefix(host, "/") {
		host = fmt.Sprintf("socket %s/.s.PGSQL.%d", host, cfg.Port)
	} else {
		host = net.JoinHostPort(host, fmt.Sprint(cfg.Port))
	}
	return fmt.Sprintf("PostgreSQL at %s as user %q, database %q", host, cfg.User, cfg.Database)
}

// connectReason reduces a dial error to its cause ("connection refused",
// "timed out", "no such host").
func connectReason(err error) string {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		var sysErr interface{ Unwrap() error }
		if errors.As(opErr.Err, &sysErr) && sysErr.Unwrap() != nil {
			return sysErr.Unwrap().Error()
		}
		return opErr.Err.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "cannot resolve host " + dnsErr.Name + ": " + dnsErr.Err
	}
	// Keep only the innermost cause: pgx's outer layers repeat the target.
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// certificateError is why the server's certificate did not verify (signed
// by another CA, expired, not naming the host), or nil when that is not
// why a connection failed.
func certificateError(err error) error {
	var (
		verify    *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
	)
	switch {
	case errors.As(err, &verify):
		return verify.Err
	case errors.As(err, &unknownCA):
		return unknownCA
	case errors.As(err, &invalid):
		return invalid
	case errors.As(err, &hostname):
		return hostname
	}
	return nil
}

// certificateHint says which CA the server's certificate was checked
// against, and what to check.
func certificateHint(cfg *pgx.ConnConfig) string {
	ca := "the sslrootcert file"
	if f := sslRootCert(cfg.ConnString()); f != "" {
		ca = f
	}
	return fmt.Sprintf("the server's certificate (its ssl_cert_file) must be signed by the CA in %s and name the host connected to; "+
		"check that file (ca.crt of --certs-dir) and the host in --url or --host", ca)
}

// keywordRootCert finds sslrootcert in a keyword/value connection string.
var keywordRootCert = lazyregexp.New(`(?:^|\s)sslrootcert\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// sslRootCert is the sslrootcert a connection string sets (its last, as
// pgconn reads it), else PGSSLROOTCERT's; "" when neither.
func sslRootCert(connString string) string {
	file := os.Getenv("PGSSLROOTCERT")
	if isURL(connString) {
		// The query is read alone: net/url refuses a URL with several hosts.
		if _, query, ok := strings.Cut(connString, "?"); ok {
			if q, err := url.ParseQuery(query); err == nil && len(q["sslrootcert"]) > 0 {
				file = q["sslrootcert"][len(q["sslrootcert"])-1]
			}
		}
		return file
	}
	if m := keywordRootCert().FindAllStringSubmatch(connString, -1); m != nil {
		v := m[len(m)-1][1]
		if strings.HasPrefix(v, "'") {
			v = strings.NewReplacer(`\\`, `\`, `\'`, `'`).Replace(v[1 : len(v)-1])
		}
		file = v
	}
	return file
}
