package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

type logoutOptions struct {
	env       *Env
	conn      ConnOptions
	usernames []string
	// all logs out every user (but those except leaves out); ask confirms
	// it first, on the terminal.
	all, ask bool
	except   sql.Selection
	// exceptWritten is how the except flags were written, for the audit
	// trail (see sql.Matching).
	exceptWritten map[string]any
	reason        string
	dryRun        bool
	// ignoreMissing logs out the others when a name matches nothing.
	ignoreMissing bool
	format        format.Format
	// standbyTimeout bounds the commit's wait for the synchronous standbys.
	standbyTimeout time.Duration
}

func logoutCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "logout",
		Usage:     "revoke every session of one or more users, or of everyone",
		ArgsUsage: "USERNAME... | --all",
		Description: "logout revokes all of the users' sessions in one transaction and prints each of\n" +
			"their sessions with its revocation time; sessions revoked before keep their\n" +
			"first revocation time, and revoked now tells the two apart. It works for users\n" +
			"dropped since. Names are read as login reads them; --users-from reads one per\n" +
			"line verbatim, as list prints them (blank lines and lines starting with # are\n" +
			"skipped). A name that matches no role and no session is an error, suggesting\n" +
			"the closest role, unless --ignore-missing. --all --except, --except-from and\n" +
			"--except-role log out everyone but those users and the members of those roles.",
		Flags: append(append(append(connFlags(), notSQLUserFlag("to log out %[1]s, name it: auth-session logout %[1]s"),
			&cli.StringFlag{Name: "users-from", Usage: "also log out the users named in `FILE`, one per line; - for standard input"},
			&cli.BoolFlag{Name: "all", Usage: "log out every user, also of logins in flight; asks first on a terminal"}),
			exceptFlags(" from --all")...),
			&cli.BoolFlag{Name: "ignore-missing", Usage: "log out the other users when a name matches no role and no session, with a warning (without it: an error, nothing revoked)"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "with --all: do not ask (needed without a terminal)"},
			&cli.StringFlag{Name: "reason", Usage: "recorded with each user's user.logged_out event"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be revoked and change nothing"},
			standbyTimeoutFlag(),
			formatFlag(),
			noHeadersFlag(),
		),
		Action: func(c *cli.Context) error {
			opts := logoutOptions{env: env, conn: connFromFlags(c), dryRun: c.Bool("dry-run"), all: c.Bool("all"),
				ignoreMissing: c.Bool("ignore-missing")}
			var err error
			if opts.standbyTimeout, err = standbyTimeoutFromFlags(c); err != nil {
				return err
			}
			if opts.reason, err = reasonFromFlag(c); err != nil {
				return err
			}
			if opts.all {
				err = logoutAllFromFlags(c, env, &opts)
			} else if f := firstSet(c, flagExcept, flagExceptFrom, flagExceptRole); f != "" {
				err = usageErrorf("--%s leaves users out of --all: give it with --all, or name the users to log out", f)
			} else {
				opts.usernames, err = logoutUsersFromFlags(c, env)
			}
			if err != nil {
				return err
			}
			if opts.format, err = formatFromFlags(c, env.IO); err != nil {
				return err
			}
			return runCommand(c.Context, env, opts, runLogout)
		},
	}
}

// logoutAllFromFlags checks --all against the other flags and the terminal,
// and says whether to ask first.
func logoutAllFromFlags(c *cli.Context, env *Env, opts *logoutOptions) error {
	if c.NArg() > 0 || c.IsSet("users-from") {
		return usageErrorf("--all logs out every user: give it without USERNAME or --users-from")
	}
	given, _, err := namesFromFlags(c, env)
	if err != nil {
		return err
	}
	if opts.except, opts.exceptWritten, err = parseSelection(given, env); err != nil {
		return err
	}
	if c.Bool("yes") || opts.dryRun {
		return nil
	}
	if !(env.IO.InIsTerminal && env.IO.ErrIsTerminal) {
		return usageErrorf("logout --all: no terminal to confirm on; pass --yes to log out every user without asking")
	}
	opts.ask = true
	return nil
}

// logoutUsersFromFlags reads the users to log out: the arguments, then the
// lines of --users-from.
func logoutUsersFromFlags(c *cli.Context, env *Env) ([]string, error) {
	var usernames []string
	for _, arg := range c.Args().Slice() {
		name, err := parseRoleName("USERNAME", arg)
		if err != nil {
			return nil, err
		}
		usernames = append(usernames, name)
	}
	if from := c.String("users-from"); from != "" {
		names, err := readNameFile("--users-from", from, env.IO.In)
		if err != nil {
			return nil, err
		}
		usernames = append(usernames, names...)
	}
	if len(usernames) == 0 {
		if c.IsSet("users-from") {
			return nil, usageErrorf("--users-from %q names no user", c.String("users-from"))
		}
		return nil, usageErrorf("missing USERNAME: usage: auth-session logout USERNAME... or --users-from FILE")
	}
	return usernames, nil
}

// readNameFile reads role names one per line from path, given to flag, or
// from in for "-", verbatim: a line is the role's name exactly as list prints it, with
// no quoting and no folding (parseVerbatimRoleName). Blank lines and lines
// starting with # are skipped; a UTF-8 byte order mark and CRLF line ends
// are accepted. An error names the line.
func readNameFile(flag, path string, in io.Reader) ([]string, error) {
	r := in
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageErrorf("%s %q: %v", flag, path, errors.Unwrap(err))
		}
		defer f.Close()
		r = f
	}
	var names []string
	lines := bufio.NewScanner(r)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSuffix(lines.Text(), "\r")
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, err := parseVerbatimRoleName(fmt.Sprintf("user name on line %d of %s %q", n, flag, path), line)
		if err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	if err := lines.Err(); err != nil {
		return nil, usageErrorf("%s %q: %v", flag, path, err)
	}
	return names, nil
}

// logoutFields are what logout prints of each session, before whether
// this command revoked it.
var logoutFields = sql.SessionFieldsNamed("username", "id", "revoked_at")

func runLogout(ctx context.Context, opts logoutOptions) error {
	conn, caller, err := connectWriter(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := checkNames(ctx, conn, opts.except, opts.ignoreMissing, false, opts.env.IO.Err); err != nil {
		return err
	}
	if opts.ask {
		if err := confirmLogoutAll(ctx, conn, opts); err != nil {
			return err
		}
	}

	what := "sessions of " + describeUsers(opts.usernames)
	target := sql.Everyone()
	if !opts.except.IsEmpty() {
		what = "sessions of every user but those left out"
		target = sql.Matching(opts.except, opts.exceptWritten)
	}
	// Logging out a dropped user must keep working, but a typo should not
	// pass in silence: a user with no role is warned of when none of its
	// sessions is listed either.
	var missing []string
	if !opts.all {
		target = sql.OfUsers(opts.usernames...)
		if missing, err = sql.MissingRoles(ctx, conn, opts.usernames); err != nil {
			return fmt.Errorf("revoke %s: %w", what, err)
		}
		if len(missing) > 0 && !opts.ignoreMissing {
			if err := checkMissing(ctx, conn, missing, "to log out the other users anyway, pass --ignore-missing"); err != nil {
				return err
			}
		}
	}
	var listed map[string]bool
	return revokeAndPrint(ctx, sql.NewStore(conn), opts.env, revokeRun{
		command: "logout", what: what, format: opts.format, columns: revokedColumns(logoutFields), target: target,
		opts: sql.RevokeOptions{By: cliActor(opts.env, caller), Reason: opts.reason, DryRun: opts.dryRun, StandbyTimeout: opts.standbyTimeout,
			Attempt: func() { listed = map[string]bool{} }},
		row: func(w format.Writer, r sql.RevokedSession) error {
			listed[r.Username] = true
			return writeRevoked(w, logoutFields, r)
		},
		report: func(res sql.RevokeResult) {
			for _, u := range missing {
				if !listed[u] {
					fmt.Fprintf(opts.env.IO.Err, "warning: no role named %q and no sessions of it; nothing was revoked\n", u)
				}
			}
			printSummary(opts.env, res, opts.dryRun)
		},
	})
}

// confirmLogoutAll asks on the terminal whether to log out every user, or
// every user but those left out, saying how many sessions that revokes.
func confirmLogoutAll(ctx context.Context, db sql.DBTX, opts logoutOptions) error {
	if opts.except.IsEmpty() {
		n, err := sql.CountUnrevokedSessions(ctx, db)
		if err != nil {
			return fmt.Errorf("count the sessions not revoked yet: %w", err)
		}
		question := fmt.Sprintf("Log out every user, revoking the %s not revoked yet? [y/N] ", plural(n, "session", "sessions"))
		return confirm(ctx, opts.env.IO, "logout", question)
	}
	sessions, users, err := sql.CountMatching(ctx, db, opts.except)
	if err != nil {
		return fmt.Errorf("count the sessions not revoked yet: %w", err)
	}
	question := fmt.Sprintf("Log out every user but those left out, revoking %s of %s? [y/N] ",
		plural(sessions, "session", "sessions"), plural(users, "user", "users"))
	return confirm(ctx, opts.env.IO, "logout", question)
}

// firstSet is the first of the flags given on c's command line, or "".
func firstSet(c *cli.Context, flags ...string) string {
	for _, f := range flags {
		if c.IsSet(f) {
			return f
		}
	}
	return ""
}

// checkMissing fails a logout naming users that match no role and no
// session, before anything is revoked: typos, until told otherwise
// (--ignore-missing). It suggests the closest role.
func checkMissing(ctx context.Context, db sql.DBTX, noRole []string, more string) error {
	missing, err := withoutSessions(ctx, db, noRole)
	if err != nil || len(missing) == 0 {
		return err
	}
	quoted, hint, err := nameSuggestions(ctx, db, missing)
	if err != nil {
		return err
	}
	what := "no role named " + quoted + " and no sessions of it"
	if len(missing) > 1 {
		what = "no roles named " + quoted + " and no sessions of them"
	}
	return hintError{msg: what + ": nothing was revoked", hint: strings.TrimSpace(hint + more)}
}

// describeUsers names the users of an error message: one by name, several
// by count, none as every user (--all).
func describeUsers(usernames []string) string {
	switch len(usernames) {
	case 0:
		return "every user"
	case 1:
		return strconv.Quote(usernames[0])
	}
	return fmt.Sprintf("%d users", len(usernames))
}
