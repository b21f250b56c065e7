package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// lock, unlock and locks: a locked user gets no new session until
// unlocked or the lock expires; locking revokes the user's sessions in the
// same transaction.

type lockOptions struct {
	env       *Env
	conn      ConnOptions
	usernames []string
	lockFor   time.Duration
	reason    string
	dryRun    bool
	format    format.Format
	// standbyTimeout bounds the commit's wait for the synchronous standbys.
	standbyTimeout time.Duration
}

func lockCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "lock",
		Usage:     "lock users out: revoke their sessions and refuse them new ones until unlocked",
		ArgsUsage: "USERNAME...",
		Description: "lock revokes every session of the users, as logout does, and in the same\n" +
			"transaction refuses them any new session, from login and from the API's login,\n" +
			"until 'auth-session unlock' or the end of --for. The API answers a locked user\n" +
			"as it answers a wrong password and records login.locked in the audit trail.\n" +
			"Locking a locked user replaces the lock. Names are read as login reads them; a\n" +
			"name that matches no role and no session is an error.",
		Flags: append(connFlags(), notSQLUserFlag("to lock %[1]s, name it: auth-session lock %[1]s"),
			&cli.StringFlag{Name: "for", Usage: "lift the lock by itself after `DURATION` (90m, 7d); without it the lock lasts until unlock"},
			&cli.StringFlag{Name: "reason", Usage: "recorded with the lock, shown by locks, and in the audit events"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be revoked and change nothing"},
			standbyTimeoutFlag(),
			formatFlag(),
			noHeadersFlag(),
		),
		Action: func(c *cli.Context) error {
			opts := lockOptions{env: env, conn: connFromFlags(c), dryRun: c.Bool("dry-run")}
			var err error
			if opts.usernames, err = roleNameArgs(c, "lock"); err != nil {
				return err
			}
			if c.IsSet("for") {
				if opts.lockFor, err = parseDuration("for", c.String("for"), time.Second); err != nil {
					return err
				}
			}
			if opts.reason, err = reasonFromFlag(c); err != nil {
				return err
			}
			if opts.standbyTimeout, err = standbyTimeoutFromFlags(c); err != nil {
				return err
			}
			if opts.format, err = formatFromFlags(c, env.IO); err != nil {
				return err
			}
			return runCommand(c.Context, env, opts, runLock)
		},
	}
}

// roleNameArgs reads the USERNAME arguments of command, as login reads
// names; at least one.
func roleNameArgs(c *cli.Context, command string) ([]string, error) {
	var names []string
	for _, arg := range c.Args().Slice() {
		name, err := parseRoleName("USERNAME", arg)
		if err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil, usageErrorf("missing USERNAME: usage: auth-session %s USERNAME...", command)
	}
	return names, nil
}

func runLock(ctx context.Context, opts lockOptions) error {
	conn, caller, err := connectWriter(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	missing, err := sql.MissingRoles(ctx, conn, opts.usernames)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		if err := checkMissing(ctx, conn, missing, ""); err != nil {
			return err
		}
	}
	until := "until unlocked"
	if opts.lockFor > 0 {
		until = "until " + opts.env.Now().Add(opts.lockFor).UTC().Format("2006-01-02 15:04:05") + " UTC"
	}
	return revokeAndPrint(ctx, sql.NewStore(conn), opts.env, revokeRun{
		command: "lock", what: "sessions of " + describeUsers(opts.usernames), format: opts.format, columns: revokedColumns(logoutFields),
		target: sql.OfUsers(opts.usernames...),
		opts: sql.RevokeOptions{By: cliActor(opts.env, caller), Reason: opts.reason, DryRun: opts.dryRun,
			StandbyTimeout: opts.standbyTimeout, Lock: &sql.LockSpec{For: opts.lockFor}},
		row: func(w format.Writer, r sql.RevokedSession) error {
			return writeRevoked(w, logoutFields, r)
		},
		report: func(res sql.RevokeResult) {
			verb := "locked"
			if opts.dryRun {
				verb = "would have locked"
			}
			fmt.Fprintf(opts.env.IO.Err, "%s %s %s\n", verb, plural(len(opts.usernames), "user", "users"), until)
			printSummary(opts.env, res, opts.dryRun)
		},
	})
}

type unlockOptions struct {
	env       *Env
	conn      ConnOptions
	usernames []string
	reason    string
}

func unlockCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "unlock",
		Usage:     "lift the locks of users, so that they can log in again",
		ArgsUsage: "USERNAME...",
		Description: "unlock lifts the users' locks, with a user.unlocked event each. A user who\n" +
			"was not locked is named in a warning; the sessions lock revoked stay revoked.",
		Flags: append(connFlags(), notSQLUserFlag("to unlock %[1]s, name it: auth-session unlock %[1]s"),
			&cli.StringFlag{Name: "reason", Usage: "recorded in the audit events"},
		),
		Action: func(c *cli.Context) error {
			opts := unlockOptions{env: env, conn: connFromFlags(c)}
			var err error
			if opts.usernames, err = roleNameArgs(c, "unlock"); err != nil {
				return err
			}
			if opts.reason, err = reasonFromFlag(c); err != nil {
				return err
			}
			return runCommand(c.Context, env, opts, runUnlock)
		},
	}
}

func runUnlock(ctx context.Context, opts unlockOptions) error {
	conn, caller, err := connectWriter(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	unlocked, err := sql.NewStore(conn).Unlock(ctx, opts.usernames, cliActor(opts.env, caller), opts.reason)
	if err != nil {
		return fmt.Errorf("unlock %s: %w", describeUsers(opts.usernames), err)
	}
	done := map[string]bool{}
	for _, u := range unlocked {
		done[u] = true
	}
	for _, u := range opts.usernames {
		if !done[u] {
			fmt.Fprintf(opts.env.IO.Err, "warning: %q was not locked\n", u)
		}
	}
	fmt.Fprintf(opts.env.IO.Err, "unlocked %s\n", plural(len(unlocked), "user", "users"))
	return nil
}

type locksOptions struct {
	env    *Env
	conn   ConnOptions
	format format.Format
}

var locksColumns = []format.Column{
	{Header: "username", Key: "username"},
	{Header: "locked", Key: "locked_at", Type: format.TypeTimestamp},
	{Header: "until", Key: "locked_until", Type: format.TypeTimestamp},
	{Header: "by", Key: "locked_by"},
	{Header: "reason", Key: "reason"},
}

func locksCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:        "locks",
		Usage:       "show who is locked, by whom, why and until when",
		Description: "locks lists the locks that hold now, by user name; an empty until is a lock\nuntil unlocked.",
		Flags:       append(connFlags(), formatFlag(), noHeadersFlag()),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			opts := locksOptions{env: env, conn: connFromFlags(c)}
			var err error
			if opts.format, err = formatFromFlags(c, env.IO); err != nil {
				return err
			}
			return runCommand(c.Context, env, opts, runLocks)
		},
	}
}

func runLocks(ctx context.Context, opts locksOptions) error {
	conn, _, err := connectAdmin(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	locks, err := sql.ListLocks(ctx, conn)
	if err != nil {
		return err
	}
	w := format.New(opts.format, opts.env.IO.Out, locksColumns)
	for _, l := range locks {
		var until any
		if l.Until != nil {
			until = *l.Until
		}
		if err := w.WriteRow(l.Username, l.LockedAt, until, l.By, l.Reason); err != nil {
			return err
		}
	}
	return w.Close()
}

// lockedError explains a login refused by a lock.
func lockedError(username string, l sql.Lock) error {
	var b strings.Builder
	fmt.Fprintf(&b, "create session for %q: user %q is locked", username, username)
	if l.Until != nil {
		fmt.Fprintf(&b, " until %s UTC", l.Until.UTC().Format("2006-01-02 15:04:05"))
	}
	if l.By != "" {
		fmt.Fprintf(&b, " by %s", l.By)
	}
	if l.Reason != "" {
		fmt.Fprintf(&b, ": %s", l.Reason)
	}
	return hintError{msg: b.String(), hint: "lift it with: auth-session unlock " + quoteIdent(username)}
}
