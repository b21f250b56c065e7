package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

type eventsOptions struct {
	env    *Env
	conn   ConnOptions
	filter sql.EventFilter
	format format.Format
	// noPager prints straight to a terminal, not through a pager.
	noPager bool
}

func eventsCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "show the audit trail: sessions created and revoked, users logged out, failed logins",
		Description: "events prints system.session_events oldest first. Every change made by the CLI\n" +
			"or the HTTP interface writes its event in the same transaction as the change.",
		Flags: append(connFlags(),
			userFilterFlag("only events about this `USERNAME`"),
			&cli.StringFlag{Name: "since", Usage: "only events of the last `D`, such as 24h or 7d"},
			formatFlag(),
			noHeadersFlag(),
			noPagerFlag(),
		),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			opts := eventsOptions{env: env, conn: connFromFlags(c)}
			var err error
			if opts.filter.Username, err = userFilter(c); err != nil {
				return err
			}
			if c.IsSet("since") {
				d, err := parseDuration("since", c.String("since"), time.Second)
				if err != nil {
					return err
				}
				opts.filter.Since = d
			}
			f, err := formatFromFlags(c, env.IO)
			if err != nil {
				return err
			}
			opts.format = f
			opts.noPager = c.Bool("no-pager")
			return runCommand(c.Context, env, opts, runEvents)
		},
	}
}

var eventsColumns = []format.Column{
	{Header: "time", Key: "at", Type: format.TypeTimestamp},
	{Header: "event", Key: "event"},
	{Header: "actor", Key: "actor"},
	{Header: "username", Key: "username"},
	{Header: "session ID", Key: "session_id", Type: format.TypeBigInt},
	{Header: "via", Key: "via"},
	{Header: "client", Key: "client_addr"},
	{Header: "user agent", Key: "user_agent"},
	{Header: "detail", Key: "detail", Type: format.TypeJSONB},
}

func runEvents(ctx context.Context, opts eventsOptions) error {
	conn, _, err := connectAdmin(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var endPager func()
	opts.env, endPager = withPager(opts.env, opts.noPager)
	defer endPager()

	w := format.New(opts.format, opts.env.IO.Out, eventsColumns)
	err = sql.ListEvents(ctx, conn, opts.filter, func(e *sql.Event) error {
		var sessionID any
		if e.SessionID != nil {
			sessionID = strconv.FormatInt(*e.SessionID, 10)
		}
		detail := json.RawMessage("{}")
		if len(e.Detail) > 0 {
			b, err := json.Marshal(e.Detail)
			if err != nil {
				return err
			}
			detail = b
		}
		return w.WriteRow(e.At, e.Event, e.Actor, e.Username, sessionID, e.Via, e.ClientAddr, e.UserAgent, detail)
	})
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	return w.Close()
}
