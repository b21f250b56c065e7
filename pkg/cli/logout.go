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

	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

type logoutOptions struct {
	env       *Env
	conn      ConnOptions
	usernames []string
	// all logs out every user; ask confirms it first, on the terminal.
	all, ask bool
	reason   string
	dryRun   bool
	format   format.Format
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
			"line (blank lines and lines starting with # are skipped).\n\n" +
			"  auth-session logout web_user\n" +
			"  auth-session logout alice bob --reason 'incident 42'\n" +
			"  auth-session logout --all --yes --reason 'signing key rotated'\n" +
			"  grep -v '^#' users.txt | auth-session logout --users-from - --dry-run",
		Flags: append(connFlagsWithUser(),
			&cli.StringFlag{Name: "users-from", Usage: "also log out the users named in `FILE`, one per line; - for standard input"},
			&cli.BoolFlag{Name: "all", Usage: "log out every user, also of logins in flight; asks first on a terminal"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "with --all: do not ask (needed without a terminal)"},
			&cli.StringFlag{Name: "reason", Usage: "recorded with each user's user.logged_out event"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be revoked and change nothing"},
			standbyTimeoutFlag(),
			formatFlag(),
		),
		Action: func(c *cli.Context) error {
			opts := logoutOptions{env: env, conn: connFromFlags(c), dryRun: c.Bool("dry-run"), all: c.Bool("all")}
			var err error
			if opts.standbyTimeout, err = standbyTimeoutFromFlags(c); err != nil {
				return err
			}
			if opts.reason, err = reasonFromFlag(c); err != nil {
				return err
			}
			if opts.all {
				err = logoutAllFromFlags(c, env, &opts)
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
		names, err := readUsernames(from, env.IO.In)
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

// readUsernames reads role names one per line from path, or from in for
// "-", by parseRoleName's rules; blank lines and lines starting with # are
// skipped, and a line may end in CRLF. An error names the line.
func readUsernames(path string, in io.Reader) ([]string, error) {
	r := in
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageErrorf("--users-from %q: %v", path, errors.Unwrap(err))
		}
		defer f.Close()
		r = f
	}
	var names []string
	lines := bufio.NewScanner(r)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSuffix(lines.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, err := parseRoleName(fmt.Sprintf("user name on line %d of --users-from %q", n, path), line)
		if err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	if err := lines.Err(); err != nil {
		return nil, usageErrorf("--users-from %q: %v", path, err)
	}
	return names, nil
}

var logoutColumns = []format.Column{
	{Header: "username", Key: "username"},
	{Header: "session ID", Key: "session_id", Type: format.TypeBigInt},
	{Header: "revoked", Key: "revoked_at", Type: format.TypeTimestamp},
	{Header: "revoked now", Key: "revoked_now", Type: format.TypeBoolean},
}

// errDryRun rolls back a dry run's transaction, once it has printed what it
// would have done.
var errDryRun = errors.New("dry run")

func runLogout(ctx context.Context, opts logoutOptions) error {
	conn, caller, err := connectWriter(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if opts.ask {
		n, err := sql.CountUnrevokedSessions(ctx, conn)
		if err != nil {
			return fmt.Errorf("count the sessions not revoked yet: %w", err)
		}
		question := fmt.Sprintf("Log out every user, revoking the %s not revoked yet? [y/N] ", plural(n, "session", "sessions"))
		if err := confirm(ctx, opts.env.IO, "logout", question); err != nil {
			return err
		}
	}

	var missing []string
	by := sql.Actor{Name: caller.Username, Via: "cli", ClientAddr: hostname(opts.env)}
	change := func(tx pgx.Tx, w format.Writer) (sql.RevokeResult, error) {
		missing = nil
		listed := map[string]bool{}
		row := func(r sql.RevokedSession) error {
			listed[r.Username] = true
			return w.WriteRow(r.Username, strconv.FormatInt(r.ID, 10), r.RevokedAt, r.Now)
		}
		if opts.all {
			return sql.LogOutEveryone(ctx, tx, by, opts.reason, row)
		}
		res, err := sql.LogOutUsers(ctx, tx, opts.usernames, 0, by, opts.reason, row)
		if err != nil {
			return res, err
		}
		// Logging out a dropped user must keep working, but a typo
		// should not pass in silence.
		var unlisted []string
		for _, u := range opts.usernames {
			if !listed[u] {
				unlisted = append(unlisted, u)
			}
		}
		if len(unlisted) > 0 {
			missing, err = sql.MissingRoles(ctx, tx, unlisted)
		}
		return res, err
	}
	printed := func() {
		for _, u := range missing {
			fmt.Fprintf(opts.env.IO.Err, "warning: no role named %q and no sessions of it; nothing was revoked\n", u)
		}
	}
	return revokeInTx(ctx, conn, opts.env, revokeRun{command: "logout", format: opts.format, columns: logoutColumns, dryRun: opts.dryRun,
		standbyTimeout: opts.standbyTimeout, what: "sessions of " + describeUsers(opts.usernames), change: change, printed: printed})
}

// revokeRun is one revoking command's transaction and what it prints.
type revokeRun struct {
	format  format.Format
	columns []format.Column
	dryRun  bool
	// standbyTimeout bounds the commit's wait for the synchronous standbys.
	standbyTimeout time.Duration
	// command names the command in messages: "revoke", "logout".
	command string
	// what names the sessions in messages: "sessions of 3 users".
	what string
	// change makes the change in tx, writing the rows to w.
	change func(tx pgx.Tx, w format.Writer) (sql.RevokeResult, error)
	// printed, when set, runs once the rows are out, before the summary.
	printed func()
}

// revokeInTx runs r's change in one transaction, retried on serialization
// failures, and prints its rows and a summary line on stderr: "revoked 3
// sessions of 2 users (1 were already revoked)". Rows are rendered as they
// arrive, so nothing may reach stdout before the transaction commits: a
// retried or failed transaction would print rows twice, or rows that were
// never revoked. The writer is therefore made per attempt over a spool that
// is flushed at the end. A dry run does all of it and rolls back.
func revokeInTx(ctx context.Context, conn *pgx.Conn, env *Env, r revokeRun) error {
	out := newSpool(env.IO.Out)
	defer out.discard()
	var res sql.RevokeResult
	committing := false
	err := sql.RunRevocation(ctx, conn, r.standbyTimeout, func(tx pgx.Tx) error {
		committing = false
		out.reset()
		w := format.New(r.format, out, r.columns)
		var err error
		if res, err = r.change(tx, w); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		if r.dryRun {
			return errDryRun
		}
		committing = true
		return nil
	})
	if interruptedBeforeCommit(ctx, err, committing) {
		return cancelled{command: r.command, interrupted: true}
	}
	// Committed on the primary only: the rows stand, and are printed
	// before the error.
	var standbyErr *sql.StandbyError
	if err != nil && !errors.Is(err, errDryRun) && !errors.As(err, &standbyErr) {
		return fmt.Errorf("revoke %s: %w", r.what, err)
	}
	if err := out.flush(); err != nil {
		if r.dryRun {
			return err
		}
		// The revocation stands: say so, or a failed print reads as a
		// failed revocation.
		return fmt.Errorf("%s were revoked, but printing them failed: %w", r.what, err)
	}
	if r.printed != nil {
		r.printed()
	}
	summary := fmt.Sprintf("revoked %s of %s (%s already revoked)", plural(res.Revoked, "session", "sessions"), plural(res.Users, "user", "users"), plural(res.AlreadyRevoked, "was", "were"))
	if r.dryRun {
		summary = "dry run: would have " + summary + "; nothing was changed"
	}
	fmt.Fprintln(env.IO.Err, summary)
	if standbyErr != nil {
		return fmt.Errorf("revoke %s: %w", r.what, standbyErr)
	}
	return nil
}

// interruptedBeforeCommit reports whether err ended a revocation that
// Ctrl-C (or SIGTERM) cancelled before its commit was sent: its transaction
// rolled back, and nothing was revoked. Once the commit is under way, an
// interruption's outcome is the database's to say, and err stands.
func interruptedBeforeCommit(ctx context.Context, err error, committing bool) bool {
	return err != nil && !committing && ctx.Err() != nil && errors.Is(err, context.Canceled)
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

// hostname names the machine the CLI runs on, or "" when unknown.
func hostname(env *Env) string {
	h, err := env.Hostname()
	if err != nil {
		return ""
	}
	return h
}
