package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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
	// summary prints one row per user instead of one per session.
	summary bool
	format  format.Format
	// noPager prints straight to a terminal, not through a pager.
	noPager bool
}

func listCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list sessions: active, expired and revoked (until purged), oldest first",
		Description: "list prints every session in system.web_sessions in creation order, streaming\n" +
			"rows as they come. revoked is NULL while a session is not revoked; status is\n" +
			"active, expired or revoked. JSON, NDJSON and YAML also carry what a session\n" +
			"recorded of its client (ip, user_agent, via, actor); other formats with --wide.\n\n" +
			"  auth-session list --active --format table\n" +
			"  auth-session list --summary            # who is logged in, one row per user\n" +
			"  auth-session list --user web_user --wide --format csv",
		Flags: append(append(connFlags(), selectionFlags()...),
			&cli.StringFlag{Name: "limit", Usage: "list at most `N` sessions"},
			&cli.StringFlag{Name: "order", Usage: "order the sessions by `COLUMN`: " + strings.Join(sql.Orders, ", ") + " (default created)"},
			&cli.BoolFlag{Name: "desc", Usage: "newest (or latest) first"},
			&cli.IntFlag{Name: "warn-stale-days", Value: 30,
				Usage: "flag active sessions not used for `N` days in a stale column; 0 disables"},
			&cli.BoolFlag{Name: "wide", Usage: "also the ip, user agent, via and actor columns, in every format"},
			&cli.BoolFlag{Name: "summary", Usage: "one row per user: active, expired and revoked sessions and last use, most active first"},
			formatFlag(),
			noHeadersFlag(),
			noPagerFlag(),
		),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			opts := listOptions{env: env, conn: connFromFlags(c), filter: sql.ListFilter{Desc: c.Bool("desc")}}
			var err error
			if opts.filter.Selection, _, _, err = selectionFromFlags(c, env); err != nil {
				return err
			}
			if c.IsSet("limit") {
				if opts.filter.Limit, err = parseLimit(c.String("limit")); err != nil {
					return err
				}
			}
			if c.IsSet("order") {
				if opts.filter.Order, err = parseOrder(c.String("order")); err != nil {
					return err
				}
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
			opts.summary = c.Bool("summary")
			opts.noPager = c.Bool("no-pager")
			opts.filter.Client = c.Bool("wide") || f == format.JSON || f == format.NDJSON || f == format.YAML
			if opts.summary && c.Bool("wide") {
				return usageErrorf("--summary and --wide exclude each other: a summary has one row per user")
			}
			for _, flag := range []string{"limit", "order", "desc"} {
				if opts.summary && c.IsSet(flag) {
					return usageErrorf("--summary and --%s exclude each other: a summary lists every user, most active first", flag)
				}
			}
			return runCommand(c.Context, env, opts, runList)
		},
	}
}

var listColumns = []format.Column{
	{Header: "username", Key: "username"},
	{Header: "session ID", Key: "session_id", Type: format.TypeBigInt},
	{Header: "created", Key: "created_at", Type: format.TypeTimestamp},
	{Header: "expires", Key: "expires_at", Type: format.TypeTimestamp},
	{Header: "revoked", Key: "revoked_at", Type: format.TypeTimestamp},
	{Header: "last used", Key: "last_used_at", Type: format.TypeTimestamp},
}

var (
	statusColumn = format.Column{Header: "status", Key: "status"}
	// reasonColumn is why the credential check revoked a session (NULL
	// for any other revocation, whose reason is in the audit trail).
	reasonColumn  = format.Column{Header: "reason", Key: "revoke_reason"}
	clientColumns = []format.Column{
		{Header: "ip", Key: "ip"},
		{Header: "user agent", Key: "user_agent"},
		{Header: "via", Key: "via"},
		{Header: "actor", Key: "actor"},
	}
	staleColumn = format.Column{Header: "stale", Key: "stale", Type: format.TypeBoolean}
)

var summaryColumns = []format.Column{
	{Header: "username", Key: "username"},
	{Header: "active", Key: "active", Type: format.TypeBigInt},
	{Header: "expired", Key: "expired", Type: format.TypeBigInt},
	{Header: "revoked", Key: "revoked", Type: format.TypeBigInt},
	{Header: "last used", Key: "last_used_at", Type: format.TypeTimestamp},
}

func runList(ctx context.Context, opts listOptions) error {
	conn, caller, err := connectAdmin(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := endChangedCredentials(ctx, opts.env, conn, caller, "list", false); err != nil {
		return err
	}
	var endPager func()
	opts.env, endPager = withPager(opts.env, opts.noPager)
	defer endPager()

	if opts.summary {
		return runListSummary(ctx, conn, opts)
	}
	cols := append(listColumns[:len(listColumns):len(listColumns)], statusColumn, reasonColumn)
	if opts.filter.Client {
		cols = append(cols, clientColumns...)
	}
	if opts.staleAfter > 0 {
		cols = append(cols, staleColumn)
	}
	w := format.New(opts.format, opts.env.IO.Out, cols)
	staleBefore := opts.env.Now().Add(-opts.staleAfter)
	stale := 0
	// One row slice for all rows: list streams a million rows without an
	// allocation per row.
	row := make([]any, 0, len(cols))
	err = sql.ListSessions(ctx, conn, opts.filter, func(s *sql.ListedSession) error {
		var revoked any
		if s.RevokedAt != nil {
			revoked = *s.RevokedAt
		}
		var reason any
		if s.RevokeReason != "" {
			reason = s.RevokeReason
		}
		row = append(row[:0], s.Username, strconv.FormatInt(s.ID, 10), s.CreatedAt, s.ExpiresAt, revoked, s.LastUsedAt, s.Status, reason)
		if opts.filter.Client {
			row = append(row, s.Client.IP, s.Client.UserAgent, s.Client.Via, s.Client.Actor)
		}
		if opts.staleAfter > 0 {
			isStale := s.Active && s.LastUsedAt.Before(staleBefore)
			if isStale {
				stale++
			}
			row = append(row, isStale)
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
		fmt.Fprintf(opts.env.IO.Err, "warning: %s not used for %s or more; revoke with 'auth-session revoke SESSION_ID'\n",
			plural(stale, "active session", "active sessions"), plural(int(opts.staleAfter.Hours()/24), "day", "days"))
	}
	return nil
}

// runListSummary prints one row per user with sessions matching the filter.
func runListSummary(ctx context.Context, db sql.TxBeginner, opts listOptions) error {
	w := format.New(opts.format, opts.env.IO.Out, summaryColumns)
	err := sql.SummarizeUsers(ctx, db, opts.filter.Selection, func(u *sql.UserSummary) error {
		return w.WriteRow(u.Username, u.Active, u.Expired, u.Revoked, u.LastUsed)
	})
	if err != nil {
		return fmt.Errorf("summarize sessions: %w", err)
	}
	return w.Close()
}
