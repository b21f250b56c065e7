package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// runFollow is events --follow: the events matching the filter (those
// already committed first when --since is given), then each new one as it
// commits, until ctx is done (Ctrl-C, SIGTERM), which ends it with exit 0:
// stopping a follow is how it is meant to end. tail -f, killed by the
// signal, reports 130 to the shell; 0 lets a log shipper's unit stopped by
// systemd read as a success, and a pipeline under pipefail not fail. Rows
// are written out after each read; a table keeps the widths of its first
// rows (a wider value widens the rows from there on). No pager: it would
// hold the rows back.
func runFollow(ctx context.Context, opts eventsOptions) error {
	w := format.New(opts.format, opts.env.IO.Out, eventsColumns)
	stderr := opts.env.IO.Err
	err := sql.FollowEvents(ctx, sql.FollowOptions{
		Filter:  opts.filter,
		History: !opts.filter.Since.IsZero(),
		// After an outage, and to leave when interrupted mid-read, the
		// follow connects again: with the password of its first
		// connection, never asking for it a second time.
		Connect: func(ctx context.Context) (*sql.Conn, error) {
			conn, _, err := connectAdmin(ctx, opts.conn)
			if err == nil {
				opts.conn.terminal, opts.conn.knownPassword = nil, conn.Config().Password
			}
			return conn, err
		},
		Flush: w.Flush,
		Lost: func(err error, retryIn time.Duration) {
			fmt.Fprintf(stderr, "events: no connection to the database (%v); trying again in %s: the events written meanwhile will follow\n",
				strings.ReplaceAll(err.Error(), "\n", "; "), retryIn.Round(time.Millisecond))
		},
		Back: func(down time.Duration) {
			fmt.Fprintf(stderr, "events: connected again after %s, having printed the events written meanwhile\n", down.Round(time.Millisecond))
		},
	}, func(e *sql.Event) error { return writeEvent(w, e) })
	if err != nil {
		return fmt.Errorf("follow events: %w", err)
	}
	return w.Close()
}
