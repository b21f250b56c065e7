package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

type logoutOptions struct {
	env      *Env
	conn     ConnOptions
	username string
	format   format.Format
}

func logoutCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:      "logout",
		Usage:     "revoke every session of USERNAME",
		ArgsUsage: "USERNAME",
		Description: "logout revokes all of the user's sessions in one statement and prints each of\n" +
			"the user's sessions with its revocation time; sessions revoked before keep\n" +
			"their first revocation time. It works for a user that was dropped since.",
		Flags: append(connFlagsWithUser(), formatFlag()),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "username"); err != nil {
				return err
			}
			username, err := parseRoleName("USERNAME", c.Args().First())
			if err != nil {
				return err
			}
			f, err := formatFromFlags(c, env.IO)
			if err != nil {
				return err
			}
			return runLogout(c.Context, logoutOptions{env: env, conn: connFromFlags(c), username: username, format: f})
		},
	}
}

var logoutColumns = []format.Column{
	{Header: "username", Key: "username"},
	{Header: "session ID", Key: "session_id"},
	{Header: "revoked", Key: "revoked_at"},
}

func runLogout(ctx context.Context, opts logoutOptions) error {
	conn, caller, err := connectAdmin(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	// Rows are rendered as they arrive, so nothing may reach stdout before
	// the transaction commits: a retried or failed transaction would print
	// rows twice or print rows that were never revoked. The writer is
	// therefore created per attempt over a spool that is flushed at the end.
	out := newSpool(opts.env.IO.Out)
	defer out.discard()
	matched := true
	err = sql.RunInTx(ctx, conn, func(tx pgx.Tx) error {
		out.reset()
		w := format.New(opts.format, out, logoutColumns)
		listed := 0
		by := sql.Actor{Name: caller.Username, Via: "cli", ClientAddr: hostname(opts.env)}
		_, err := sql.LogOut(ctx, tx, opts.username, 0, by, func(r sql.RevokedSession) error {
			listed++
			return w.WriteRow(r.Username, strconv.FormatInt(r.ID, 10), r.RevokedAt)
		})
		if err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		if listed == 0 {
			// Logging out a dropped user must keep working, but a typo
			// should not pass in silence.
			matched, err = sql.RoleExists(ctx, tx, opts.username)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke sessions of %q: %w", opts.username, err)
	}
	if err := out.flush(); err != nil {
		// The revocation stands: say so, or a failed print reads as a
		// failed logout.
		return fmt.Errorf("sessions of %q were revoked, but printing them failed: %w", opts.username, err)
	}
	if !matched {
		fmt.Fprintf(opts.env.IO.Err, "warning: no role named %q and no sessions of it; nothing was revoked\n", opts.username)
	}
	return nil
}

// hostname names the machine the CLI runs on, or "" when unknown.
func hostname(env *Env) string {
	h, err := env.Hostname()
	if err != nil {
		return ""
	}
	return h
}
