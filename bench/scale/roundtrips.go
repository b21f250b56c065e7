package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/auth-session/auth-session/bench/internal/cmdbench"
	"github.com/auth-session/auth-session/internal/pgrelay"
)

// The round trips of the everyday commands: each command connects through
// a relay that passes every byte on and reads the frontend side of the
// PostgreSQL protocol (internal/pgrelay). A round trip is what the client
// sends before it waits for an answer, connecting included.

// commandTrips is what one command sent, round trip by round trip.
type commandTrips struct {
	command string
	// own is how the command's own statement begins, such as "INSERT
	// INTO system.web_sessions": the round trips before the first that
	// sends it are what the command does first.
	own   string
	trips []pgrelay.RoundTrip
}

// countRoundTrips runs each everyday command once through the relay, on a
// user or session that the rounds do not take, and psql's login INSERT
// beside them.
func (s *sizeRun) countRoundTrips(ctx context.Context) ([]commandTrips, error) {
	u, err := url.Parse(s.workURL)
	if err != nil {
		return nil, fmt.Errorf("the round trips need a postgres:// URL: %w", err)
	}
	relay, err := pgrelay.Listen(u.Host)
	if err != nil {
		return nil, fmt.Errorf("round trips: %w", err)
	}
	defer relay.Close() //nolint:errcheck
	u.Host = relay.Addr()
	via := u.String()
	// count runs one program through the relay and returns its round trips.
	count := func(program string, args ...string) ([]pgrelay.RoundTrip, error) {
		relay.Reset()
		if _, err := cmdbench.Exec(ctx, nil, program, args...); err != nil {
			return nil, err
		}
		got := relay.Counts()
		if got.Encrypted > 0 {
			return nil, fmt.Errorf("round trips of %s: the connection went on in TLS, which the relay cannot read: pass a URL with sslmode=disable", program)
		}
		return got.RoundTrips, nil
	}
	id := strconv.FormatInt(s.revokeIDs[len(s.revokeIDs)-2], 10)
	user := userName(firstLogoutUser + logoutUsers - 2)
	commands := []struct {
		args []string
		own  string
	}{
		{[]string{"login", userName(loginUser), "--only-cookie"}, "INSERT INTO system.web_sessions"},
		{[]string{"logout", user, "--format", "tsv"}, "WITH r AS ( UPDATE system.web_sessions"},
		{[]string{"list", "--user", listUser(0), "--format", "tsv"}, `SELECT s.username AS "username"`},
		{[]string{"revoke", id, "--yes", "--format", "tsv"}, "WITH s AS ( UPDATE system.web_sessions"},
		{[]string{"list", "--expired-within", "1h", "--format", "tsv"}, `SELECT s.username AS "username"`},
	}
	var all []commandTrips
	for _, c := range commands {
		trips, err := count(s.o.bin, append(c.args, "--url", via)...)
		if err != nil {
			return nil, err
		}
		all = append(all, commandTrips{command: "auth-session " + strings.Join(c.args, " "), own: c.own, trips: trips})
	}
	trips, err := count(s.o.psql, cmdbench.PsqlArgs(via, "-At", "-c", cmdbench.LoginSQL(userName(loginUser)))...)
	if err != nil {
		return nil, err
	}
	return append(all, commandTrips{command: "psql -c 'INSERT …' (login's raw counterpart)", own: "INSERT INTO system.web_sessions", trips: trips}), nil
}

func printRoundTrips(out io.Writer, all []commandTrips) {
	fmt.Fprintln(out, "Round trips to PostgreSQL, counted by a proxy that reads the protocol (a round trip: what the client sends before it waits for an answer):")
	fmt.Fprintln(out)
	for _, c := range all {
		own := slices.IndexFunc(c.trips, func(t pgrelay.RoundTrip) bool {
			return slices.ContainsFunc(t.Statements, func(s string) bool { return strings.HasPrefix(s, c.own) })
		})
		fmt.Fprintf(out, "- `%s`: %d round trips", c.command, len(c.trips))
		if own >= 0 {
			fmt.Fprintf(out, "; %d before the first that sends its own statement (%s …)", own, c.own)
		}
		fmt.Fprintln(out)
		for i, t := range c.trips {
			fmt.Fprintf(out, "  %d. %s\n", i+1, t)
		}
	}
}
