package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

type revokeOptions struct {
	env        *Env
	conn       ConnOptions
	sessionIDs []int64
	// byCookie: the session is that of the cookie read from standard
	// input (--cookie -), whose secret must be the session's; it is
	// sessionIDs' one id once the secret is checked.
	byCookie bool
	secret   []byte
	// sel picks the sessions when no id is given; described and written
	// are how the flags wrote it (see selectionFromFlags).
	sel       sql.Selection
	described string
	written   map[string]any
	// pinned is --idle-timeout, when given (see pinnedFromFlags).
	pinned map[string]string
	yes    bool
	reason string
	dryRun bool
	format format.Format
	// standbyTimeout bounds the commit's wait for the synchronous standbys.
	standbyTimeout time.Duration
}

func revokeCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke sessions by their ids, or every session matching the selection flags",
		ArgsUsage: "SESSION_ID... | --cookie - | SELECTION FLAGS",
		Description: "revoke revokes the sessions, in one transaction, and prints their rows: all of\n" +
			"them, or none when an id is not found. Instead of ids it takes the selection\n" +
			"flags list takes, and revokes every session they match as of one instant. On a\n" +
			"terminal it shows what it would revoke and asks unless --yes; without a terminal\n" +
			"it needs --yes. A session revoked before keeps its first revocation time.\n" +
			"--cookie - revokes the session of the cookie read from standard input, in any\n" +
			"form lookup reads; a cookie whose secret is not its session's is not found.",
		Flags: append(append(connFlags(), selectionFlags()...),
			&cli.StringFlag{Name: flagCookie, Usage: "revoke the session of the cookie read from standard input: `-` only, never the cookie itself, which would stay in the shell history (see lookup)"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "revoke without asking (needed without a terminal)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be revoked and change nothing"},
			&cli.StringFlag{Name: "reason", Usage: "recorded with the revocation's audit events"},
			standbyTimeoutFlag(),
			formatFlag(),
			noHeadersFlag(),
		),
		Action: func(c *cli.Context) error {
			opts := revokeOptions{env: env, conn: connFromFlags(c), yes: c.Bool("yes"), dryRun: c.Bool("dry-run")}
			var err error
			if opts.standbyTimeout, err = standbyTimeoutFromFlags(c); err != nil {
				return err
			}
			if opts.sel, opts.described, opts.written, err = selectionFromFlags(c, env); err != nil {
				return err
			}
			if opts.pinned, err = pinnedFromFlags(c, flagIdleTimeout); err != nil {
				return err
			}
			if opts.reason, err = reasonFromFlag(c); err != nil {
				return err
			}
			opts.byCookie = c.IsSet(flagCookie)
			switch {
			case opts.byCookie && c.String(flagCookie) != "-":
				return cookieArgRefused("--cookie takes - only")
			case opts.byCookie && (c.NArg() > 0 || !opts.sel.IsEmpty()):
				// An argument may be the cookie: it is not repeated.
				return usageErrorf("give --cookie -, SESSION_IDs or selection flags, one of them")
			case opts.byCookie:
			case c.NArg() > 0 && !opts.sel.IsEmpty():
				return usageErrorf("give SESSION_IDs or selection flags, not both: %s", opts.described)
			case c.NArg() == 0 && opts.sel.IsEmpty():
				return usageErrorf("missing SESSION_ID or selection flags: usage: auth-session revoke SESSION_ID... or auth-session revoke --ip 203.0.113.0/24 (see --help); to revoke every session, use 'auth-session logout --all'")
			}
			seen := map[int64]bool{}
			for _, arg := range c.Args().Slice() {
				id, err := parseSessionID(arg)
				if err != nil {
					return err
				}
				if !seen[id] {
					seen[id] = true
					opts.sessionIDs = append(opts.sessionIDs, id)
				}
			}
			if !opts.yes && !opts.dryRun && !(env.IO.InIsTerminal && env.IO.ErrIsTerminal) {
				what := describeSelection(opts.described)
				switch {
				case opts.byCookie:
					what = "the session of the cookie"
				case len(opts.sessionIDs) > 0:
					what = describeSessions(opts.sessionIDs)
				}
				return usageErrorf("revoke %s: no terminal to confirm on; pass --yes to revoke without asking, or --dry-run to see what it would revoke", what)
			}
			if opts.format, err = formatFromFlags(c, env.IO); err != nil {
				return err
			}
			if opts.byCookie {
				var id int64
				if id, opts.secret, err = readCookie(c.Context, "revoke", env.IO); err != nil {
					return err
				}
				opts.sessionIDs = []int64{id}
				return runCommand(c.Context, env, opts, runRevoke)
			}
			if len(opts.sessionIDs) == 0 {
				return runCommand(c.Context, env, opts, runRevokeMatching)
			}
			return runCommand(c.Context, env, opts, runRevoke)
		},
	}
}

// flagCookie is revoke's --cookie: - reads the cookie from standard input.
const flagCookie = "cookie"

// parseSessionID parses a session id argument: a positive 64-bit integer.
func parseSessionID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 || arg[0] == '+' {
		return 0, usageErrorf("invalid SESSION_ID %q: want a positive integer, as shown in the session ID column of 'auth-session list'", arg)
	}
	return id, nil
}

// describeSessions names sessions in a message: one by id, several by count.
func describeSessions(ids []int64) string {
	if len(ids) == 1 {
		return fmt.Sprintf("session %d", ids[0])
	}
	return fmt.Sprintf("%d sessions", len(ids))
}

func sessionNotFound(id int64) error {
	return hintError{msg: fmt.Sprintf("session %d not found", id), hint: "list sessions with 'auth-session list'"}
}

func runRevoke(ctx context.Context, opts revokeOptions) error {
	conn, caller, err := connectWriter(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	if opts.byCookie {
		// Before any question: a cookie whose session is not there is
		// not found, whatever the answer would be.
		if _, err := findSession(ctx, conn, opts.sessionIDs[0], true, opts.secret, 0); err != nil {
			return err
		}
	}
	if !opts.yes && !opts.dryRun {
		if err := confirmRevoke(ctx, conn, opts); err != nil {
			return err
		}
	}
	if err := endChangedCredentials(ctx, opts.env, conn, caller, "revoke", opts.dryRun); err != nil {
		return err
	}
	what := describeSessions(opts.sessionIDs)
	// The sessions print as list prints them, but for its stale column:
	// the same fields, read back by the revocation.
	fields := sql.ListFilter{Client: showsClient(opts.format, false)}.Fields()
	return revokeAndPrint(ctx, sql.NewStore(conn), opts.env, revokeRun{
		command: "revoke", what: what, format: opts.format, columns: sessionColumns(fields), target: sql.ByIDs(opts.sessionIDs...),
		opts: sql.RevokeOptions{By: cliActor(opts.env, caller), Reason: opts.reason, DryRun: opts.dryRun, StandbyTimeout: opts.standbyTimeout},
		row: func(w format.Writer, r sql.RevokedSession) error {
			return w.WriteRow(appendSession(nil, fields, &r.ListedSession)...)
		},
		report: func(sql.RevokeResult) {
			if opts.dryRun {
				fmt.Fprintf(opts.env.IO.Err, "dry run: would have revoked %s; nothing was changed\n", what)
			}
		},
	})
}

// revokedFields are what revoke prints of each session of a selection,
// before whether this command revoked it.
var revokedFields = sql.SessionFieldsNamed("username", "id", "created_at", "revoked_at")

// runRevokeMatching revokes every session the selection picks, in one
// transaction, printing them once it commits.
func runRevokeMatching(ctx context.Context, opts revokeOptions) error {
	conn, caller, err := connectWriter(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := readIdleTimeout(ctx, conn, opts.pinned, &opts.sel); err != nil {
		return err
	}
	if err := checkNames(ctx, conn, opts.sel, false, true, opts.env.IO.Err); err != nil {
		return err
	}
	what := describeSelection(opts.described)
	if !opts.yes && !opts.dryRun {
		sessions, users, err := sql.CountMatching(ctx, conn, opts.sel)
		if errors.Is(err, sql.ErrPicksEveryone) {
			return fmt.Errorf("revoke %s: %w", what, picksEveryone(err))
		}
		if err != nil {
			return fmt.Errorf("count %s: %w", what, err)
		}
		if sessions == 0 {
			fmt.Fprintf(opts.env.IO.Err, "no session not revoked yet matches %s; nothing to do\n", opts.described)
			return nil
		}
		question := fmt.Sprintf("Revoke %s of %s matching %s? [y/N] ",
			plural(sessions, "session", "sessions"), plural(users, "user", "users"), opts.described)
		if err := confirm(ctx, opts.env.IO, "revoke", question); err != nil {
			return err
		}
	}
	if err := endChangedCredentials(ctx, opts.env, conn, caller, "revoke", opts.dryRun); err != nil {
		return err
	}
	return revokeAndPrint(ctx, sql.NewStore(conn), opts.env, revokeRun{
		command: "revoke", what: what, format: opts.format, columns: revokedColumns(revokedFields), target: sql.Matching(opts.sel, opts.written),
		opts: sql.RevokeOptions{By: cliActor(opts.env, caller), Reason: opts.reason, DryRun: opts.dryRun, StandbyTimeout: opts.standbyTimeout},
		row: func(w format.Writer, r sql.RevokedSession) error {
			return writeRevoked(w, revokedFields, r)
		},
		report: func(res sql.RevokeResult) { printSummary(opts.env, res, opts.dryRun) },
	})
}

// picksEveryone is the usage error of a selection that, in effect, picks
// everyone (sql.ErrPicksEveryone): as revoke without a selection, it says
// how to log everyone out.
func picksEveryone(err error) error {
	return usageErrorf("%w: narrow it, or log everyone out with 'auth-session logout --all'", err)
}

// confirmRevoke asks on the terminal whether to revoke the sessions, once
// it found each of them: an unknown id is an error before any question.
func confirmRevoke(ctx context.Context, db sql.DBTX, opts revokeOptions) error {
	var question string
	users := map[string]bool{}
	for _, id := range opts.sessionIDs {
		s, err := sql.GetSession(ctx, db, id)
		if errors.Is(err, sql.ErrSessionNotFound) {
			return sessionNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("look up session %d: %w", id, err)
		}
		users[s.Username] = true
		question = fmt.Sprintf("Revoke session %d of user %q (created %s UTC)? [y/N] ",
			s.ID, s.Username, s.CreatedAt.UTC().Format("2006-01-02 15:04:05"))
	}
	if len(opts.sessionIDs) > 1 {
		question = fmt.Sprintf("Revoke %d sessions of %s? [y/N] ", len(opts.sessionIDs), plural(len(users), "user", "users"))
	}
	return confirm(ctx, opts.env.IO, "revoke", question)
}
