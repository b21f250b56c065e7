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
	env       *Env
	conn      ConnOptions
	sessionID int64
	yes       bool
	format    format.Format
}

func revokeCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke one session by its id",
		ArgsUsage: "SESSION_ID",
		Description: "revoke revokes one session and prints its row. On a terminal it asks for\n" +
			"confirmation unless --yes; without a terminal it needs --yes. A session revoked\n" +
			"before keeps its first revocation time.",
		Flags: append(connFlagsWithUser(),
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "revoke without asking"},
			formatFlag(),
		),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "session_id"); err != nil {
				return err
			}
			id, err := parseSessionID(c.Args().First())
			if err != nil {
				return err
			}
			if !c.Bool("yes") && !(env.IO.InIsTerminal && env.IO.ErrIsTerminal) {
				return usageErrorf("revoke session %d: no terminal to confirm on; pass --yes to revoke without asking", id)
			}
			f, err := formatFromFlags(c, env.IO)
			if err != nil {
				return err
			}
			return runRevoke(c.Context, revokeOptions{env: env, conn: connFromFlags(c), sessionID: id, yes: c.Bool("yes"), format: f})
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

func runRevoke(ctx context.Context, opts revokeOptions) error {
	conn, caller, err := connectAdmin(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	notFound := hintError{msg: fmt.Sprintf("session %d not found", opts.sessionID),
		hint: "list sessions with 'auth-session list'"}
	if !opts.yes {
		s, err := sql.GetSession(ctx, conn, opts.sessionID)
		if errors.Is(err, sql.ErrSessionNotFound) {
			return notFound
		}
		if err != nil {
			return fmt.Errorf("look up session %d: %w", opts.sessionID, err)
		}
		ok, err := confirm(opts.env.IO, fmt.Sprintf("Revoke session %d of user %q (created %s UTC)? [y/N] ",
			s.ID, s.Username, s.CreatedAt.UTC().Format("2006-01-02 15:04:05")))
		if err != nil {
			return fmt.Errorf("revoke cancelled: %w", err)
		}
		if !ok {
			return errors.New("revoke cancelled: nothing was changed")
		}
	}

	var s sql.Session
	by := sql.Actor{Name: caller.Username, Via: "cli", ClientAddr: hostname(opts.env)}
	err = sql.RunInTx(ctx, conn, func(tx pgx.Tx) error {
		var err error
		s, _, err = sql.RevokeByID(ctx, tx, opts.sessionID, nil, by)
		return err
	})
	if errors.Is(err, sql.ErrSessionNotFound) {
		return notFound
	}
	if err != nil {
		return fmt.Errorf("revoke session %d: %w", opts.sessionID, err)
	}
	w := format.New(opts.format, opts.env.IO.Out, listColumns)
	if err := w.WriteRow(s.Username, strconv.FormatInt(s.ID, 10), s.CreatedAt, s.ExpiresAt, s.RevokedAt, s.LastUsedAt); err != nil {
		return err
	}
	return w.Close()
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
