package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	// follow prints the events as they are committed, until interrupted.
	follow bool
}

// The flags of events that narrow the trail.
const (
	flagEvent   = "event"
	flagSession = "session"
	flagActor   = "actor"
	flagSince   = "since"
	flagUntil   = "until"
	flagFollow  = "follow"
)

func eventsCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "show the audit trail: sessions created and revoked, users logged out, failed logins",
		Description: "events prints system.session_events oldest first. Every change made by the CLI\n" +
			"or the HTTP interface writes its event in the same transaction as the change.\n\n" +
			"With --follow it then prints each event as its transaction commits, in commit\n" +
			"order, until interrupted (Ctrl-C or SIGTERM: exit 0); --follow without --since\n" +
			"prints only the events committed from then on. After an outage it reconnects\n" +
			"with backoff, saying so on stderr, and prints what it missed: nothing is lost\n" +
			"or printed twice. --format ndjson is the format for log shippers.",
		Flags: append(connFlags(),
			userFilterFlag("only events about this `USERNAME` (the name as events prints it, or in double quotes)"),
			&cli.GenericFlag{Name: flagEvent, Value: &repeated{}, Usage: "only events of this `TYPE` (repeatable): " + strings.Join(sql.EventTypes, ", ")},
			&cli.StringFlag{Name: flagSession, Usage: "only events about the session with this `ID`"},
			&cli.StringFlag{Name: flagIP, Usage: "only events whose HTTP client came from `ADDR` or network ADDR/BITS (the CLI's have none)"},
			&cli.StringFlag{Name: flagActor, Usage: "only events made by this `ROLE`: the database user of a command, the signed-in user of a request (as events prints it, or in double quotes)"},
			&cli.StringFlag{Name: flagSince, Usage: "only events at or after `TIME`: a duration ago (24h, 7d), RFC 3339 (2026-11-30T12:00:00Z), or a time as events prints it, read in UTC"},
			&cli.StringFlag{Name: flagUntil, Usage: "only events before `TIME`, in the forms of --since"},
			&cli.BoolFlag{Name: flagFollow, Aliases: []string{"f"}, Usage: "then print each new event as it is committed, until interrupted"},
			formatFlag(),
			noHeadersFlag(),
			noPagerFlag(),
		),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			opts := eventsOptions{env: env, conn: connFromFlags(c), follow: c.Bool(flagFollow)}
			var err error
			if opts.filter, err = eventFilterFromFlags(c, env); err != nil {
				return err
			}
			if opts.follow && c.IsSet(flagUntil) {
				return usageErrorf("--%s and --%s exclude each other: --%s prints events until interrupted", flagFollow, flagUntil, flagFollow)
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

// eventFilterFromFlags reads the flags of events that narrow the trail, by
// sql.ParseEventFilter: the rules of the admin events route's query string
// too, whose parameters are the flags' names. The CLI reads --user and
// --actor as list reads --user: a name as events prints it, or in double
// quotes (parseListedName).
func eventFilterFromFlags(c *cli.Context, env *Env) (sql.EventFilter, error) {
	given := map[string][]string{}
	for _, field := range sql.EventFields {
		switch {
		case field.List:
			given[field.Name] = repeatedValues(c, field.Name)
		case c.IsSet(field.Name):
			given[field.Name] = []string{c.String(field.Name)}
		}
	}
	for _, name := range []string{"user", flagActor} {
		if vs := given[name]; vs != nil {
			role, err := parseListedName("--"+name, vs[0])
			if err != nil {
				return sql.EventFilter{}, err
			}
			given[name] = []string{role}
		}
	}
	f, err := sql.ParseEventFilter(func(field *sql.EventField) []string { return given[field.Name] }, env.Now())
	var fieldErr *sql.EventFieldError
	var rangeErr *sql.EventRangeError
	switch {
	case errors.As(err, &fieldErr):
		return f, usageErrorf("invalid --%s %q: %w", fieldErr.Field.Name, fieldErr.Value, fieldErr.Err)
	case errors.As(err, &rangeErr):
		return f, usageErrorf("--%s %s is not later than --%s %s: no event is in between", flagUntil, rangeErr.Until, flagSince, rangeErr.Since)
	}
	return f, err
}

var eventsColumns = []format.Column{
	{Header: "event ID", Key: "id", Type: format.TypeBigInt},
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
	if opts.follow {
		return runFollow(ctx, opts)
	}
	conn, _, err := connectAdmin(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var endPager func()
	opts.env, endPager = withPager(opts.env, opts.noPager)
	defer endPager()

	w := format.New(opts.format, opts.env.IO.Out, eventsColumns)
	err = sql.ListEvents(ctx, conn, opts.filter, func(e *sql.Event) error { return writeEvent(w, e) })
	if err != nil {
		return fmt.Errorf("list events: %w", err)
	}
	return w.Close()
}

// writeEvent writes e as a row of eventsColumns. Ids are text, as in every
// command's output: JSON numbers lose digits beyond 2^53.
func writeEvent(w format.Writer, e *sql.Event) error {
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
	return w.WriteRow(strconv.FormatInt(e.ID, 10), e.At, e.Event, e.Actor, e.Username, sessionID, e.Via, e.ClientAddr, e.UserAgent, detail)
}
