package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// showOptions are those of show, and of lookup, which is show for the
// session of a cookie.
type showOptions struct {
	env  *Env
	conn ConnOptions
	// command is "show" or "lookup", for messages.
	command   string
	sessionID int64
	// byCookie is set for lookup: secret is the cookie's, which must be
	// the session's, or the session is not found.
	byCookie bool
	secret   []byte
	// pinned is --idle-timeout, when given (see pinnedFromFlags).
	pinned map[string]string
	format format.Format
}

// showFlags are the flags of show and lookup.
func showFlags() []cli.Flag {
	return append(connFlags(),
		idleTimeoutFlag("read a session not used for `DURATION` as idle, not active, as serve refuses it; 0 for off"),
		formatFlag(),
		noHeadersFlag(),
	)
}

func showCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one session by its id: its user, state, times, and the address and User-Agent it logged in from and was last used from",
		ArgsUsage: "SESSION_ID",
		Description: "show prints the session as list --wide prints it, in every format: the ip,\n" +
			"user agent, last ip, last user agent, via and actor columns included. A\n" +
			"session not found is an error.",
		Flags: showFlags(),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "session_id"); err != nil {
				return err
			}
			id, err := parseSessionID(c.Args().First())
			if err != nil {
				return err
			}
			opts := showOptions{env: env, conn: connFromFlags(c), command: "show", sessionID: id}
			if err := opts.readFlags(c); err != nil {
				return err
			}
			return runCommand(c.Context, env, opts, runShow)
		},
	}
}

func lookupCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "lookup",
		Usage: "show the session of a cookie read from standard input, such as a leaked one",
		Description: "lookup reads a session cookie from standard input and prints its session as\n" +
			"show does: which session it is, its user, state, times, the IP and User-Agent\n" +
			"of its login and of its last use, and nothing about any other session. The\n" +
			"cookie may be the line login prints (session=...; Path=/; HttpOnly), a\n" +
			"Cookie:, Set-Cookie:, X-Auth-Session: or Authorization: Bearer header, a line\n" +
			"of a curl or wget cookie jar (or the whole jar), or the bare value. It is never\n" +
			"taken as an argument, which would stay in the shell history and show in ps; on\n" +
			"a terminal it is asked for and not echoed. A cookie whose secret is not its\n" +
			"session's is not found, as an unknown one. Revoke the session with\n" +
			"'auth-session revoke --cookie -'.",
		Flags: showFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cookieArgRefused("lookup takes no argument")
			}
			opts := showOptions{env: env, conn: connFromFlags(c), command: "lookup", byCookie: true}
			if err := opts.readFlags(c); err != nil {
				return err
			}
			var err error
			if opts.sessionID, opts.secret, err = readCookie(c.Context, "lookup", env.IO); err != nil {
				return err
			}
			return runCommand(c.Context, env, opts, runShow)
		},
	}
}

// readFlags reads the flags show and lookup share.
func (opts *showOptions) readFlags(c *cli.Context) error {
	var err error
	if opts.pinned, err = pinnedFromFlags(c, flagIdleTimeout); err != nil {
		return err
	}
	opts.format, err = formatFromFlags(c, opts.env.IO)
	return err
}

func runShow(ctx context.Context, opts showOptions) error {
	conn, caller, err := connectAdmin(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := endChangedCredentials(ctx, opts.env, conn, caller, opts.command, false); err != nil {
		return err
	}
	policy, err := sql.ReadPolicy(ctx, conn, opts.pinned)
	if err != nil {
		return err
	}
	s, err := findSession(ctx, conn, opts.sessionID, opts.byCookie, opts.secret, policy.IdleTimeout)
	if err != nil {
		return err
	}
	// One session: every field, in every format, as list --wide has them.
	w := format.New(opts.format, opts.env.IO.Out, sessionColumns(sql.SessionFields))
	if err := w.WriteRow(appendSession(nil, sql.SessionFields, &s)...); err != nil {
		return err
	}
	return w.Close()
}

// findSession reads session id as list shows it. By cookie, the cookie's
// secret must be the session's: an unknown id and a wrong secret take the
// same path (auth.PresentedSecretMatches) to the same error.
func findSession(ctx context.Context, db sql.DBTX, id int64, byCookie bool, secret []byte, idle time.Duration) (sql.ListedSession, error) {
	s, hashed, err := sql.GetListedSession(ctx, db, id, idle)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrSessionNotFound) {
		return s, fmt.Errorf("look up session %d: %w", id, err)
	}
	switch {
	case byCookie && !auth.PresentedSecretMatches(secret, hashed, found):
		return sql.ListedSession{}, cookieNotFound(id)
	case !found:
		return s, sessionNotFound(id)
	}
	return s, nil
}
