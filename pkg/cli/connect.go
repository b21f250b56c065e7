package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/pkg/sql"
)

// ConnOptions say where the database is. Empty fields fall back to the URL,
// then to libpq's environment variables and defaults.
type ConnOptions struct {
	URL      string
	Host     string
	Port     string
	User     string
	Database string
	// CertsDir is a directory of certificates in CockroachDB's layout
	// (--certs-dir): for the user that connects, its ca.crt,
	// client.USER.crt and client.USER.key mean sslrootcert, sslcert and
	// sslkey, with sslmode=verify-full (see withCertsDir).
	CertsDir string
	// certsIfClientCert uses CertsDir only when it holds the user's
	// client.USER.crt: serve's --certs-dir is for its HTTPS first.
	certsIfClientCert bool
	// Schema holds the tables; empty means sql.DefaultSchema. Connect's
	// connection carries it (sql.InSchema).
	Schema string
	// Password says when the password is asked for on the terminal (-W,
	// -w; see connectAsking).
	Password PasswordPrompt
	// knownPassword, when not empty, is the password of an earlier
	// connection of the same command (typed at the prompt, perhaps): a
	// command that connects again uses it rather than ask again.
	knownPassword string
	// terminal is where the password may be asked for: the command's
	// streams, when its standard input and error are a terminal
	// (connFromFlags); nil never asks.
	terminal *IOStreams
	// noPasswordFlags leaves -W out of the advice on a missing password,
	// for a connection that the flags do not describe (serve's
	// --read-url).
	noPasswordFlags bool
}

// defaultConnectTimeout bounds a connection attempt when neither the URL
// nor PGCONNECT_TIMEOUT sets one, so a black-holed host fails in seconds.
const defaultConnectTimeout = 10 * time.Second

// commandQueryExecMode is how a command sends its statements: a command
// runs each statement once, so a statement is sent with its parameters'
// types taken from their Go values and runs in one round trip, where pgx's
// default prepares it first (a round trip more, for a plan used once). It
// keeps no named prepared statement, so the commands work through pgbouncer
// in transaction mode. A URL that sets default_query_exec_mode keeps its
// own, everywhere.
const commandQueryExecMode = pgx.QueryExecModeExec

// PoolerQueryExecMode is serve's mode behind a connection pooler: no named
// prepared statement on a connection, unlike pgx's default
// (cache_statement), since in transaction mode each transaction may get
// another server connection, where a statement prepared on one is missing
// or already exists. It caches each statement's parameter and result types,
// so serve's repeated statements cost one round trip; the server parses and
// plans them each time. Directly connected, serve prepares them (see
// openPool): re-planning its session lookup costs direct PostgreSQL about
// 40% of its whoami rate (bench/whoami).
const PoolerQueryExecMode = pgx.QueryExecModeCacheDescribe

// Config returns the pgx configuration for o.
func (o ConnOptions) Config() (*pgx.ConnConfig, error) {
	if err := checkConnSettings(o); err != nil {
		return nil, err
	}
	if o.Schema != "" {
		if err := sql.CheckSchemaName(o.Schema); err != nil {
			return nil, usageErrorf("--%s: %v", flagSchema, err)
		}
	}
	connString := o.connString()
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, parseConfigError(connString, err)
	}
	if o.CertsDir != "" {
		// The files are named after the user, which may come from the
		// URL, -U or PGUSER: parsed, the settings say which.
		settings, err := certsDirSettings(o.CertsDir, cfg.User, o.certsIfClientCert)
		if err != nil {
			return nil, err
		}
		if settings != nil {
			connString = appendSettings(connString, settings)
			if cfg, err = pgx.ParseConfig(connString); err != nil {
				return nil, parseConfigError(connString, err)
			}
		}
	}
	if o.knownPassword != "" {
		cfg.Password = o.knownPassword
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	preferTLSOnOneConnection(&cfg.Config)
	if !o.setsExecMode() {
		cfg.DefaultQueryExecMode = commandQueryExecMode
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "auth-session"
	}
	// Whatever the URL or the role's settings say: see sql.SafeSearchPath.
	cfg.RuntimeParams["search_path"] = sql.SafeSearchPath
	return cfg, nil
}

// setsExecMode reports whether the connection settings choose pgx's query
// mode themselves.
func (o ConnOptions) setsExecMode() bool {
	return strings.Contains(o.connString(), "default_query_exec_mode")
}

// behindPooler reports whether conn reaches PostgreSQL through a connection
// pooler. pgbouncer (like the other poolers) hands each client a process id
// and cancel key of its own making, because the server process behind the
// client changes, so the id the connection announced differs from the one
// of the process that answers.
func behindPooler(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var pid uint32
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return false, fmt.Errorf("check for a connection pooler: %w", err)
	}
	return pid != conn.PgConn().PID(), nil
}

// Connect opens one connection as o describes, its statements in o's
// schema.
func (o ConnOptions) Connect(ctx context.Context) (*sql.Conn, error) {
	cfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	conn, err := o.connectAsking(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return sql.InSchema(conn, o.Schema)
}

// connectConfig connects with cfg. A connection pooler that does not pass
// search_path on (pgbouncer before 1.20 refuses every startup parameter it
// does not track) is asked again without it, and cfg is left without it for
// the connections that follow; the search_path the server then gives is
// checked by sql.CheckTrust like the schema itself.
func connectConfig(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil && strings.Contains(err.Error(), "unsupported startup parameter") && cfg.RuntimeParams["search_path"] != "" {
		delete(cfg.RuntimeParams, "search_path")
		conn, err = pgx.ConnectConfig(ctx, cfg)
	}
	if err != nil {
		return nil, connectError{cfg: cfg, err: err}
	}
	return conn, nil
}

// connectAdmin opens a connection and checks that the schema is installed
// and that the connected user is a superuser or a member of admin, before
// anything is written.
func connectAdmin(ctx context.Context, o ConnOptions) (*sql.Conn, sql.Caller, error) {
	conn, err := o.Connect(ctx)
	if err != nil {
		return nil, sql.Caller{}, err
	}
	caller, err := checkCaller(ctx, conn)
	if err != nil {
		conn.Close(ctx)
		return nil, caller, err
	}
	return conn, caller, nil
}

// connectWriter is connectAdmin for a command that writes: it also refuses
// a read-only server (a hot standby) before anything is attempted, naming
// the server it reached.
func connectWriter(ctx context.Context, o ConnOptions) (*sql.Conn, sql.Caller, error) {
	conn, caller, err := connectAdmin(ctx, o)
	if err != nil {
		return nil, caller, err
	}
	if caller.ReadOnly {
		addr := conn.PgConn().Conn().RemoteAddr().String()
		conn.Close(ctx)
		return nil, caller, readOnlyError(fmt.Sprintf("PostgreSQL at %s", addr))
	}
	return conn, caller, nil
}

// readOnlyHint says how to reach the server that can write.
const readOnlyHint = "connect to the primary, or list every server in the URL and add target_session_attrs=read-write " +
	"(postgres://USER@HOST1:5432,HOST2:5432/DB?target_session_attrs=read-write) so that the one that can write is chosen"

// readOnlyError says that target cannot take the command's writes.
func readOnlyError(target string) error {
	return hintError{msg: target + " is read-only (a hot standby, or default_transaction_read_only is on); this command writes",
		hint: readOnlyHint, code: "25006"}
}

// checkCaller runs the preflight query and turns its findings into errors
// that say what to do next.
func checkCaller(ctx context.Context, db sql.DBTX) (sql.Caller, error) {
	// Before anything in the schema is read: see sql.CheckTrust.
	if err := sql.CheckTrust(ctx, db, sql.SchemaOf(db)); err != nil {
		if sql.IsUntrusted(err) {
			return sql.Caller{}, untrustedError(err)
		}
		return sql.Caller{}, err
	}
	caller, err := sql.Preflight(ctx, db)
	if errors.Is(err, sql.ErrSchemaMissing) {
		msg := "the auth-session schema is not installed in this database"
		if sql.SchemaOf(db) != sql.DefaultSchema {
			msg += fmt.Sprintf(" (in schema %s, from --%s)", sql.SchemaOf(db), flagSchema)
		}
		return caller, hintError{msg: msg, hint: "run 'auth-session init' with the same connection flags as a superuser"}
	}
	if err != nil {
		return caller, err
	}
	if !caller.IsAdmin {
		hint := fmt.Sprintf("connect as a superuser or a member of admin, or have one run: GRANT admin TO %s", quoteIdent(caller.Username))
		if caller.NoInherit {
			// GRANT would change nothing: the membership is there, but
			// NOINHERIT keeps admin's privileges from applying.
			hint = fmt.Sprintf("%s is a member of admin but does not inherit its privileges (NOINHERIT); have a superuser run: ALTER ROLE %s INHERIT",
				quoteIdent(caller.Username), quoteIdent(caller.Username))
		}
		return caller, hintError{msg: fmt.Sprintf("user %q is not a member of the admin role", caller.Username),
			hint: hint, code: "42501"}
	}
	if err := caller.CheckSchema(); err != nil {
		hint := "run 'auth-session init' with this binary to upgrade the schema"
		if errors.Is(err, sql.ErrSchemaTooNew) {
			hint = "use a newer auth-session binary"
		}
		return caller, hintError{msg: err.Error(), hint: hint}
	}
	if caller.CredentialsOwner != "" {
		view := sql.SchemaOf(db) + ".role_credentials"
		return caller, hintError{code: "42501",
			msg:  fmt.Sprintf("%s is owned by %s, which is not a superuser: it cannot read pg_authid, so no session can be checked", view, quoteIdent(caller.CredentialsOwner)),
			hint: fmt.Sprintf("have a superuser run: ALTER VIEW %s OWNER TO a superuser (see docs/security.md)", view)}
	}
	return caller, nil
}

// untrustedError says who controls the schema and what a superuser does
// about it.
func untrustedError(err error) error {
	var u *sql.ErrUntrusted
	errors.As(err, &u)
	return hintError{msg: err.Error(), code: "42501",
		hint: fmt.Sprintf("nothing was read or written; have a superuser give schema %s and everything in it to a superuser or a member of admin "+
			"(ALTER ... OWNER TO), revoke CREATE on it from other roles, and drop triggers and rules that auth-session init did not create", u.Schema)}
}
