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

type listOptions struct {
	env    *Env
	conn   ConnOptions
	filter sql.ListFilter
	// pinned is --idle-timeout, when given (see pinnedFromFlags).
	pinned map[string]string
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
			"recorded of its client: the address and User-Agent of its login (ip,\n" +
			"user_agent), those of its last use over HTTP (last_ip, last_user_agent: empty\n" +
			"until its first, for a session login made; recorded with last_used_at, so as\n" +
			"late as it is), how it was made and by whom (via, actor); other formats with\n" +
			"--wide.",
		Flags: append(append(connFlags(), selectionFlags()...),
			&cli.StringFlag{Name: "limit", Usage: "list at most `N` sessions"},
			&cli.StringFlag{Name: "order", Usage: "order the sessions by `COLUMN`: " + strings.Join(sql.Orders, ", ") + " (default created)"},
			&cli.BoolFlag{Name: "desc", Usage: "newest (or latest) first"},
			&cli.IntFlag{Name: "warn-stale-days", Value: 30,
				Usage: "flag active sessions not used for `N` days in a stale column; 0 disables"},
			&cli.BoolFlag{Name: "wide", Usage: "also the ip, user agent, last ip, last user agent, via and actor columns, in every format"},
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
			if opts.pinned, err = pinnedFromFlags(c, flagIdleTimeout); err != nil {
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
			opts.filter.Client = showsClient(f, c.Bool("wide"))
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

// A session prints as its fields (sql.SessionFields): their headers and
// keys are the columns, and each value is read from its own field, by
// name, never by its place in the row.

// sessionColumns are the columns of fields.
func sessionColumns(fields []sql.SessionField) []format.Column {
	cols := make([]format.Column, len(fields))
	for i, f := range fields {
		cols[i] = format.Column{Header: f.Header, Key: f.Key, Type: f.Type}
	}
	return cols
}

// appendSession appends the values of fields in s to row.
func appendSession(row []any, fields []sql.SessionField, s *sql.ListedSession) []any {
	for _, f := range fields {
		row = append(row, f.Value(s))
	}
	return row
}

// showsClient reports whether list in format f shows what the sessions
// recorded of their clients: always in the formats of nested data, in the
// others with --wide.
func showsClient(f format.Format, wide bool) bool {
	return wide || f == format.JSON || f == format.NDJSON || f == format.YAML
}

var staleColumn = format.Column{Header: "stale", Key: "stale", Type: format.TypeBoolean}

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
	if err := readIdleTimeout(ctx, conn, opts.pinned, &opts.filter.Selection); err != nil {
		return err
	}
	if err := checkNames(ctx, conn, opts.filter.Selection, false, false, opts.env.IO.Err); err != nil {
		return err
	}
	var endPager func()
	opts.env, endPager = withPager(opts.env, opts.noPager)
	defer endPager()

	if opts.summary {
		return runListSummary(ctx, conn, opts)
	}
	fields := opts.filter.Fields()
	cols := sessionColumns(fields)
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
		row = appendSession(row[:0], fields, s)
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
