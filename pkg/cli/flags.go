package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// Flag names shared by several commands.
const (
	flagURL      = "url"
	flagHost     = "host"
	flagPort     = "port"
	flagUser     = "sql-user"
	flagDatabase = "database"
	flagCertsDir = "certs-dir"
	flagSchema   = "schema"
	flagFormat   = "format"
)

// psql's -W and -w, of every command that connects.
const (
	flagPassword   = "password"
	flagNoPassword = "no-password"
)

// Categories of the flags in help: a command's own flags come first, then
// these.
const (
	categoryConnection = "Connection"
	categoryOutput     = "Output"
	categorySelection  = "Selection"
)

// inCategory puts flags in category for help, and returns them.
func inCategory(category string, flags ...cli.Flag) []cli.Flag {
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			f.Category = category
		case *cli.BoolFlag:
			f.Category = category
		case *cli.GenericFlag:
			f.Category = category
		case *cli.IntFlag:
			f.Category = category
		default:
			panic(fmt.Sprintf("inCategory: flag type %T", f))
		}
	}
	return flags
}

// connFlags are the SQL connection flags every command accepts, as
// cockroach's commands accept its standard SQL flags.
func connFlags() []cli.Flag {
	return connFlagsCertsDir("connect with the certificates in `DIR`, in CockroachDB's layout: ca.crt, " +
		"client.USER.crt and client.USER.key for the database user USER (sslrootcert, sslcert, sslkey, sslmode=verify-full)")
}

// connFlagsCertsDir is connFlags with --certs-dir described by
// certsDirUsage: serve reads its HTTPS certificate there too.
func connFlagsCertsDir(certsDirUsage string) []cli.Flag {
	return inCategory(categoryConnection,
		&cli.StringFlag{Name: flagURL, EnvVars: []string{"AUTH_SESSION_URL"},
			Usage: "connection URL, postgres://user:password@host:port/database?sslmode=...; without it, libpq's PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE and ~/.pgpass apply"},
		// As psql: -p, -U and -d; --host has no short form, -h is help.
		&cli.StringFlag{Name: flagHost, Usage: "database host or socket directory (overrides --url)"},
		&cli.StringFlag{Name: flagPort, Aliases: []string{"p"}, Usage: "database port (overrides --url)"},
		&cli.StringFlag{Name: flagUser, Aliases: []string{"U"}, Usage: "database user to connect as (overrides --url)"},
		&cli.StringFlag{Name: flagDatabase, Aliases: []string{"d"}, Usage: "database name (overrides --url)"},
		&cli.StringFlag{Name: flagCertsDir, TakesFile: true, Usage: certsDirUsage},
		// As psql: -W and -w. Without either, the password is asked for
		// when the server wants one and no setting gave it.
		&cli.BoolFlag{Name: flagPassword, Aliases: []string{"W"}, Action: checkPasswordFlags,
			Usage: "ask for the database password on the terminal before connecting; without -W or -w it is asked for on a terminal " +
				"when the server wants one that --url, PGPASSWORD and ~/.pgpass did not give"},
		&cli.BoolFlag{Name: flagNoPassword, Aliases: []string{"w"}, Action: checkPasswordFlags,
			Usage: "never ask for the database password; fail if the server wants one that --url, PGPASSWORD and ~/.pgpass did not give"},
		&cli.StringFlag{Name: flagSchema, EnvVars: []string{"AUTH_SESSION_SCHEMA"}, Value: sql.DefaultSchema,
			Usage: "`SCHEMA` that holds the tables, for sessions kept in an application's own schema",
			// Checked while parsing, before the command runs.
			Action: func(_ *cli.Context, name string) error {
				if err := sql.CheckSchemaName(name); err != nil {
					return usageErrorf("--%s: %v", flagSchema, err)
				}
				return nil
			}},
	)
}

// notSQLUserFlag is --user on the commands where it names no sessions'
// user to filter by: it used to be the database user there, so it is
// refused, pointing to -U/--sql-user, rather than read one way here and
// another in list. It is hidden from help and completion. also, when not
// empty, says what else the value may have meant, with %[1]s for it: the
// argument that names the user to log out, say.
func notSQLUserFlag(also string) cli.Flag {
	return &cli.StringFlag{Name: "user", Hidden: true,
		Action: func(_ *cli.Context, v string) error {
			msg := fmt.Sprintf("--user is the sessions' user (a filter of list, events and revoke), not the database user: "+
				"to connect as %q, use -U/--%s (-U %s)", v, flagUser, shellQuote(v))
			if also != "" {
				msg += "; " + fmt.Sprintf(also, shellQuote(v))
			}
			return usageErrorf("%s", msg)
		}}
}

// checkPasswordFlags refuses -W with -w, and -W where there is no
// terminal to ask on, before anything runs.
func checkPasswordFlags(c *cli.Context, _ bool) error {
	switch {
	case c.Bool(flagPassword) && c.Bool(flagNoPassword):
		return usageErrorf("-W/--%s and -w/--%s exclude each other: ask for the password, or never", flagPassword, flagNoPassword)
	case c.Bool(flagPassword) && passwordTerminal(c) == nil:
		return usageErrorf("-W/--%s asks for the password on a terminal, and standard input or standard error is not one: "+
			"give the password in PGPASSWORD or ~/.pgpass instead", flagPassword)
	}
	return nil
}

// passwordTerminal is where c's command may ask for the password: its
// streams when standard input and error are terminals whose echo can be
// turned off, else nil.
func passwordTerminal(c *cli.Context) *IOStreams {
	env, _ := c.App.Metadata[metadataEnv].(*Env)
	if env == nil || !env.IO.InIsTerminal || !env.IO.ErrIsTerminal || !canHideInput {
		return nil
	}
	return env.IO
}

// connFromFlags reads the connection flags of c.
func connFromFlags(c *cli.Context) ConnOptions {
	o := ConnOptions{
		URL:      c.String(flagURL),
		Host:     c.String(flagHost),
		Port:     c.String(flagPort),
		User:     c.String(flagUser),
		Database: c.String(flagDatabase),
		CertsDir: c.String(flagCertsDir),
		Schema:   c.String(flagSchema),
		terminal: passwordTerminal(c),
	}
	switch {
	case c.Bool(flagPassword):
		o.Password = PasswordFirst
	case c.Bool(flagNoPassword):
		o.Password = PasswordNever
	}
	return o
}

// formatFlag is --format; its default depends on whether stdout is a terminal.
func formatFlag() cli.Flag {
	return &cli.StringFlag{Name: flagFormat, Category: categoryOutput,
		Usage: "output format: " + strings.Join(format.Names(), ", ") + " (default: table on a terminal, tsv otherwise)"}
}

// formatFromFlags parses --format, choosing the default from the streams.
func formatFromFlags(c *cli.Context, io *IOStreams) (format.Format, error) {
	f := format.Default(io.OutIsTerminal)
	if c.IsSet(flagFormat) {
		var err error
		if f, err = format.Parse(c.String(flagFormat)); err != nil {
			return "", usageError{err: fmt.Errorf("--format: %w", err)}
		}
	}
	if c.Bool(flagNoHeaders) {
		if headerLines[f] == 0 {
			return "", usageErrorf("--no-headers applies to --format table, tsv and csv, not %s", f)
		}
		// The command's one output: its rows, from here on.
		io.Out = withoutHeaders(io.Out, f)
	}
	return f, nil
}

// durationUnits is what go-str2duration accepts, for error messages.
const durationUnits = sql.DurationUnits

// parseDuration parses the value of a duration flag (sql.ParseDuration):
// zero, negative, overflowing and sub-minimum values are usage errors that
// quote the value and name the accepted units.
func parseDuration(flag, value string, minimum time.Duration) (time.Duration, error) {
	d, err := sql.ParseDuration(value, minimum)
	if err != nil {
		return 0, usageError{err: fmt.Errorf("invalid --%s %q: %w", flag, value, err)}
	}
	return d, nil
}

// parseDurationOrZero is parseDuration that also accepts zero ("0", "0s",
// "0d"), to which the flag gives a meaning of its own, such as "off";
// zeroMeans completes the phrase "or 0 to" in the error message.
func parseDurationOrZero(flag, value string, minimum time.Duration, zeroMeans string) (time.Duration, error) {
	d, err := sql.ParseDurationOrZero(value, minimum)
	if err != nil {
		return 0, usageErrorf("invalid --%s %q: %w; or 0 to %s", flag, value, err, zeroMeans)
	}
	return d, nil
}

// reasonFromFlag reads --reason, recorded with the audit events of logout
// and revoke: printable text (see sql.CheckText), or "" for none.
func reasonFromFlag(c *cli.Context) (string, error) {
	v := c.String("reason")
	if err := sql.CheckText(v); err != nil {
		return "", usageErrorf("invalid --reason %q: %w", v, err)
	}
	return v, nil
}

// userFilterFlag is --user where it filters rows by the sessions' user.
func userFilterFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "user", Usage: usage}
}

// flagStandbyTimeout bounds a revocation's wait for the synchronous standbys.
const flagStandbyTimeout = "standby-timeout"

// standbyTimeoutFlag is --standby-timeout, of the commands that revoke.
func standbyTimeoutFlag() cli.Flag {
	return &cli.StringFlag{Name: flagStandbyTimeout, EnvVars: []string{"AUTH_SESSION_STANDBY_TIMEOUT"},
		Value: sql.DefaultStandbyTimeout.String(),
		Usage: "how long a revocation waits for the synchronous standbys to apply it before it fails (exit 1), committed on the primary; 0 waits as long as it takes"}
}

// standbyTimeoutFromFlags reads --standby-timeout: 0 (no bound) or at
// least 10ms.
func standbyTimeoutFromFlags(c *cli.Context) (time.Duration, error) {
	return parseDurationOrZero(flagStandbyTimeout, c.String(flagStandbyTimeout), 10*time.Millisecond, "wait as long as it takes")
}
