package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

type revokeOptions struct {
	env        *Env
	conn       ConnOptions
	sessionIDs []int64
	yes        bool
	format     format.Format
}

func revokeCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke sessions by their ids",
		ArgsUsage: "SESSION_ID...",
		Description: "revoke revokes the sessions, in one transaction, and prints their rows: all of\n" +
			"them, or none when an id is not found. On a terminal it asks for confirmation\n" +
			"unless --yes; without a terminal it needs --yes. A session revoked before keeps\n" +
			"its first revocation time.\n\n" +
			"  auth-session revoke 915681813374959618\n" +
			"  auth-session revoke --yes 915681813374959618 915681814603890689",
		Flags: append(connFlagsWithUser(),
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "revoke without asking"},
			formatFlag(),
		),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageErrorf("missing SESSION_ID: usage: auth-session revoke SESSION_ID...")
			}
			opts := revokeOptions{env: env, conn: connFromFlags(c), yes: c.Bool("yes")}
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
			if !opts.yes && !(env.IO.InIsTerminal && env.IO.ErrIsTerminal) {
				return usageErrorf("revoke %s: no terminal to confirm on; pass --yes to revoke without asking", describeSessions(opts.sessionIDs))
			}
			f, err := formatFromFlags(c, env.IO)
			if err != nil {
				return err
			}
			opts.format = f
			return runRevoke(c.Context, opts)
		},
	}
}

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
	conn, caller, err := connectAdmin(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	if !opts.yes {
		ok, err := confirmRevoke(ctx, conn, opts)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("revoke cancelled: nothing was changed")
		}
	}

	revoked := make([]sql.Session, len(opts.sessionIDs))
	by := sql.Actor{Name: caller.Username, Via: "cli", ClientAddr: hostname(opts.env)}
	err = sql.RunInTx(ctx, conn, func(tx pgx.Tx) error {
		for i, id := range opts.sessionIDs {
			s, _, err := sql.RevokeByID(ctx, tx, id, nil, by)
			if errors.Is(err, sql.ErrSessionNotFound) {
				return sessionNotFound(id)
			}
			if err != nil {
				return fmt.Errorf("session %d: %w", id, err)
			}
			revoked[i] = s
		}
		return nil
	})
	var he hintError
	if errors.As(err, &he) {
		return err
	}
	if err != nil {
		return fmt.Errorf("revoke %s: %w", describeSessions(opts.sessionIDs), err)
	}
	w := format.New(opts.format, opts.env.IO.Out, listColumns)
	for _, s := range revoked {
		if err := w.WriteRow(s.Username, strconv.FormatInt(s.ID, 10), s.CreatedAt, s.ExpiresAt, s.RevokedAt, s.LastUsedAt); err != nil {
			return err
		}
	}
	return w.Close()
}

// confirmRevoke asks on the terminal whether to revoke the sessions, once
// it found each of them: an unknown id is an error before any question.
func confirmRevoke(ctx context.Context, db sql.DBTX, opts revokeOptions) (bool, error) {
	var question string
	users := map[string]bool{}
	for _, id := range opts.sessionIDs {
		s, err := sql.GetSession(ctx, db, id)
		if errors.Is(err, sql.ErrSessionNotFound) {
			return false, sessionNotFound(id)
		}
		if err != nil {
			return false, fmt.Errorf("look up session %d: %w", id, err)
		}
		users[s.Username] = true
		question = fmt.Sprintf("Revoke session %d of user %q (created %s UTC)? [y/N] ",
			s.ID, s.Username, s.CreatedAt.UTC().Format("2006-01-02 15:04:05"))
	}
	if len(opts.sessionIDs) > 1 {
		question = fmt.Sprintf("Revoke %d sessions of %d users? [y/N] ", len(opts.sessionIDs), len(users))
	}
	ok, err := confirm(opts.env.IO, question)
	if err != nil {
		return false, fmt.Errorf("revoke cancelled: %w", err)
	}
	return ok, nil
}

// confirm asks question on stderr and reads a yes or no from stdin.
func confirm(io *IOStreams, question string) (bool, error) {
	fmt.Fprint(io.Err, question)
	line, err := bufio.NewReader(io.In).ReadString('\n')
	if err != nil && line == "" {
		return false, errors.New("no answer read")
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
