package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

type listOptions struct {
	env    *Env
	conn   ConnOptions
	filter sql.ListFilter
	// staleAfter flags active sessions unused for this long; 0 disables.
	staleAfter time.Duration
	format     format.Format
}

func listCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list sessions: active, expired and revoked (until purged), oldest first",
		Description: "list prints every session in system.web_sessions in creation order, streaming\n" +
			"rows as they come. revoked is NULL while a session is not revoked.",
		Flags: append(connFlags(),
			userFilterFlag("only sessions of this `USERNAME`"),
			&cli.BoolFlag{Name: "active", Usage: "only sessions neither revoked nor expired"},
			&cli.IntFlag{Name: "warn-stale-days", Value: 30,
				Usage: "flag active sessions not used for `N` days in a stale column; 0 disables"},
			formatFlag(),
		),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			opts := listOptions{env: env, conn: connFromFlags(c), filter: sql.ListFilter{ActiveOnly: c.Bool("active")}}
			var err error
			if opts.filter.Username, err = userFilter(c); err != nil {
				return err
			}
			days := c.Int("warn-stale-days")
			if days < 0 || days > 36500 {
				return usageErrorf("invalid --warn-stale-days %d: want a number of days from 0 (off) to 36500", days)
			}
			opts.staleAfter = time.Duration(days) * 24 * time.Hour
			f, err := formatFromFlags(c, env.IO)
			if err != nil {
				return err
			}
			opts.format = f
			return runList(c.Context, opts)
		},
	}
}

var listColumns = []format.Column{
	{Header: "username", Key: "username"},
	{Header: "session ID", Key: "session_id"},
	{Header: "created", Key: "created_at"},
	{Header: "expires", Key: "expires_at"},
	{Header: "revoked", Key: "revoked_at"},
	{Header: "last used", Key: "last_used_at"},
}

var staleColumn = format.Column{Header: "stale", Key: "stale"}

func runList(ctx context.Context, opts listOptions) error {
	conn, _, err := connectAdmin(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	cols := listColumns
	if opts.staleAfter > 0 {
		cols = append(cols[:len(cols):len(cols)], staleColumn)
	}
	w := format.New(opts.format, opts.env.IO.Out, cols)
	staleBefore := opts.env.Now().Add(-opts.staleAfter)
	stale := 0
	row := make([]any, len(cols))
	err = sql.ListSessions(ctx, conn, opts.filter, func(s *sql.ListedSession) error {
		row[0], row[1], row[2], row[3], row[5] = s.Username, strconv.FormatInt(s.ID, 10), s.CreatedAt, s.ExpiresAt, s.LastUsedAt
		row[4] = nil
		if s.RevokedAt != nil {
			row[4] = *s.RevokedAt
		}
		if opts.staleAfter > 0 {
			isStale := s.Active && s.LastUsedAt.Before(staleBefore)
			if isStale {
				stale++
			}
			row[6] = isStale
		}
		return w.WriteRow(row...)
	})
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	if err := w.Close(); err != nil {
		return err
	}
	if stale > 0 && opts.env.IO.ErrIsTerminal {
		fmt.Fprintf(opts.env.IO.Err, "warning: %d active session(s) not used for %d days or more; revoke them with 'auth-session revoke SESSION_ID'\n",
			stale, int(opts.staleAfter.Hours()/24))
	}
	return nil
}
