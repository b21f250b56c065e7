package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// defaultExpireAfter is cockroach's default session lifetime.
const defaultExpireAfter = "1h"

// flagMaxSessions is login's flag of the setting max-sessions-per-user.
const flagMaxSessions = "max-sessions"

type loginOptions struct {
	env      *Env
	conn     ConnOptions
	username string
	// typed is the USERNAME argument as given, before parseRoleName.
	typed       string
	expireAfter time.Duration
	// expireAfterText is --expire-after as given, for messages.
	expireAfterText string
	onlyCookie      bool
	// onlyValue prints the bare cookie value, for a header or bearer token.
	onlyValue bool
	insecure  bool
	cookieJar string
	// jarHosts are the hosts the jar names; empty means cookieJarHosts.
	jarHosts []string
	// maxSessions is --max-sessions; beyond it, a login revokes the
	// user's least recently used live sessions. nil when not given: the
	// login applies the setting max-sessions-per-user.
	maxSessions *int
	format      format.Format
}

func loginCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "create a session for USERNAME and print its authentication cookie",
		ArgsUsage: "USERNAME",
		Description: "login mints a session for an existing role that may log in and prints the\n" +
			"cookie that authenticates it to the HTTP interface. Only a hash of the\n" +
			"session secret is stored; the cookie is shown once. Give the line --only-cookie\n" +
			"prints to curl --cookie \"$(cat FILE)\", or write a cookie jar (--cookie-jar)\n" +
			"that curl --cookie and wget --load-cookies read.",
		Flags: append(connFlags(), notSQLUserFlag("to make a session for %[1]s, name it: auth-session login %[1]s"),
			&cli.StringFlag{Name: "expire-after", Value: defaultExpireAfter,
				Usage: "lifetime of the session, such as 90m, 4h30m, 7d or 1w (units: " + durationUnits + ")"},
			&cli.BoolFlag{Name: "only-cookie", Usage: "print only the cookie line (session=VALUE; attributes), for curl --cookie and other tools"},
			&cli.BoolFlag{Name: "only-value", Usage: "print only the cookie's value, for Authorization: Bearer, X-Auth-Session, HTTPie or a script"},
			&cli.BoolFlag{Name: "insecure", Usage: "leave out the cookie's Secure attribute, for an HTTP interface without TLS"},
			&cli.StringFlag{Name: "cookie-jar", Usage: "also write the cookie to `FILE` (mode 0600) in the Netscape format curl --cookie FILE and wget --load-cookies FILE read"},
			&cli.StringFlag{Name: "domain", Usage: "the `HOST` the HTTP interface runs on, which the --cookie-jar names (default: localhost and 127.0.0.1); .example.com for it and its subdomains"},
			namedSettingFlag(flagMaxSessions, sql.SettingMaxSessionsPerUser,
				"keep the user at `N` live sessions at most: revoke the least recently used beyond it, with this one; 0 for no limit"),
			formatFlag(),
		),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "username"); err != nil {
				return err
			}
			username, err := parseRoleName("USERNAME", c.Args().First())
			if err != nil {
				return err
			}
			expireAfter, err := parseDuration("expire-after", c.String("expire-after"), time.Second)
			if err != nil {
				return err
			}
			f, err := formatFromFlags(c, env.IO)
			if err != nil {
				return err
			}
			maxSessions, err := maxSessionsFromFlag(c)
			if err != nil {
				return err
			}
			if c.Bool("only-cookie") && c.Bool("only-value") {
				return usageErrorf("--only-cookie and --only-value exclude each other: choose the cookie line or its bare value")
			}
			jarHosts, err := jarHostsFromFlags(c)
			if err != nil {
				return err
			}
			return runCommand(c.Context, env, loginOptions{
				env: env, conn: connFromFlags(c), username: username, typed: c.Args().First(), expireAfter: expireAfter, expireAfterText: c.String("expire-after"),
				onlyCookie: c.Bool("only-cookie"), onlyValue: c.Bool("only-value"), insecure: c.Bool("insecure"),
				cookieJar: c.String("cookie-jar"), jarHosts: jarHosts, maxSessions: maxSessions, format: f,
			}, runLogin)
		},
	}
}

// maxSessionsFromFlag reads --max-sessions, checked as the setting
// max-sessions-per-user checks its values: nil when it is not given.
func maxSessionsFromFlag(c *cli.Context) (*int, error) {
	pinned := map[string]string{}
	if err := pinFlag(c, pinned, flagMaxSessions, sql.SettingMaxSessionsPerUser); err != nil || len(pinned) == 0 {
		return nil, err
	}
	n, err := strconv.Atoi(pinned[sql.SettingMaxSessionsPerUser])
	return &n, err
}

var loginColumns = []format.Column{
	{Header: "username", Key: "username"},
	{Header: "session ID", Key: "session_id", Type: format.TypeBigInt},
	{Header: "authentication cookie", Key: "cookie"},
}

func runLogin(ctx context.Context, opts loginOptions) error {
	secret, err := auth.NewSecret()
	if err != nil {
		return err
	}
	var jar *cookieJar
	if opts.cookieJar != "" {
		if jar, err = openCookieJar(opts.cookieJar, opts.jarHosts); err != nil {
			return err
		}
		defer jar.abort()
	}
	conn, caller, err := connectWriter(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	session, err := sql.NewStore(conn).Login(ctx, sql.NewSession{
		Username: opts.username, HashedSecret: auth.HashSecret(secret), ExpireAfter: opts.expireAfter,
	}, cliActor(opts.env, caller), sql.LoginOptions{MaxSessions: opts.maxSessions, BeforeCommit: func(s sql.Session) error {
		if jar == nil {
			return nil
		}
		// Before the commit: a jar that cannot be written rolls the
		// session back rather than leave one whose cookie is lost.
		return jar.write(auth.EncodeValue(s.ID, secret), s.ExpiresAt, !opts.insecure)
	}})
	if err != nil {
		if jar != nil {
			jar.unwrite()
		}
		if errors.As(err, new(*sql.LifetimeCapError)) {
			return lifetimeError("--expire-after", opts.expireAfterText, err)
		}
		return loginError(opts.username, opts.typed, err)
	}

	value := auth.EncodeValue(session.ID, secret)
	cookie := auth.SetCookieString(value, !opts.insecure)
	if opts.onlyValue {
		_, err := fmt.Fprintln(opts.env.IO.Out, value)
		return err
	}
	if opts.onlyCookie {
		if _, err := fmt.Fprintln(opts.env.IO.Out, cookie); err != nil {
			return err
		}
		if opts.env.IO.ErrIsTerminal {
			fmt.Fprintf(opts.env.IO.Err, "hint: pass the cookie to curl as a string, not a file name:\n"+
				"  curl --cookie \"$(auth-session login %s --only-cookie)\" URL\n"+
				"  or write a cookie jar for curl --cookie FILE and wget --load-cookies FILE with --cookie-jar FILE\n",
				opts.username)
		}
		return nil
	}
	w := format.New(opts.format, opts.env.IO.Out, loginColumns)
	if err := w.WriteRow(session.Username, strconv.FormatInt(session.ID, 10), cookie); err != nil {
		return err
	}
	return w.Close()
}

// lifetimeError explains a *sql.LifetimeCapError of the duration flag
// given as text; any other error is returned as it is.
func lifetimeError(flag, text string, err error) error {
	var capErr *sql.LifetimeCapError
	if !errors.As(err, &capErr) {
		return err
	}
	return hintError{
		msg: fmt.Sprintf("%s %s is longer than the maximum session lifetime, %s (setting %s)", flag, text, capErr.CapText, sql.SettingMaxSessionLifetime),
		hint: fmt.Sprintf("ask for %s or less, or raise the cap: auth-session settings set %s %s",
			capErr.CapText, sql.SettingMaxSessionLifetime, text),
	}
}

// loginError explains why no session was created for username, which the
// user typed as typed.
func loginError(username, typed string, err error) error {
	const hint = "the user must be an existing role with LOGIN; create it with: CREATE ROLE %s LOGIN PASSWORD '...'"
	var locked *sql.LockedError
	switch {
	case errors.Is(err, sql.ErrUserNotFound):
		return hintError{msg: fmt.Sprintf("create session for %q: user %q does not exist", username, username),
			hint: fmt.Sprintf(hint, quoteIdent(username)) + foldHint(typed, username), code: "42704"}
	case errors.Is(err, sql.ErrUserCannotLogin):
		return hintError{msg: fmt.Sprintf("create session for %q: role %q is not permitted to log in (NOLOGIN)", username, username),
			hint: fmt.Sprintf("allow it with: ALTER ROLE %s LOGIN", quoteIdent(username)), code: "28000"}
	case errors.As(err, &locked):
		return lockedError(username, locked.Lock)
	case errors.Is(err, sql.ErrUserExpired):
		return hintError{msg: fmt.Sprintf("create session for %q: role %q is past its VALID UNTIL time", username, username),
			hint: fmt.Sprintf("extend it with: ALTER ROLE %s VALID UNTIL 'infinity'", quoteIdent(username)), code: "28000"}
	}
	return fmt.Errorf("create session for %q: %w", username, err)
}
