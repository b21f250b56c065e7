package pgrelay_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgrelay"
	"github.com/auth-session/auth-session/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestRoundTrips: the relay counts a round trip for each message a client
// waits on, connecting included, and names the statements each ran, from
// the simple protocol and the extended one.
func TestRoundTrips(t *testing.T) {
	u, err := url.Parse(pgtest.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	relay := pgrelay.Start(t, u.Host)
	u.Host = relay.Addr()
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	connecting := relay.Counts()
	if connecting.Connections != 1 || len(connecting.RoundTrips) == 0 || connecting.RoundTrips[0].Kind != pgrelay.Startup ||
		slices.ContainsFunc(connecting.RoundTrips, func(rt pgrelay.RoundTrip) bool { return !rt.Connecting() }) {
		t.Fatalf("connecting: %+v; want one connection, its round trips the startup packet and then any authentication", connecting)
	}

	relay.Reset()
	// Over 110 bytes, and on several lines.
	long := "SELECT 1 AS one,\n\t" + strings.Repeat("2 AS two, ", 12) + "3 AS three"
	if _, err := conn.Exec(ctx, "SELECT  1", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Prepare(ctx, "long", long); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "long"); err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	b.Queue("long")
	b.Queue("long")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}

	longStart := "SELECT 1 AS one, " + strings.Repeat("2 AS two, ", 12)[:110-len("SELECT 1 AS one, ")] + " …"
	want := []string{
		"simple query: `SELECT 1`",
		"describe: `" + longStart + "`",
		"execute: `" + longStart + "`",
		"execute: `" + longStart + "`; execute: `" + longStart + "`",
	}
	got := relay.Counts()
	var gotTrips []string
	for _, rt := range got.RoundTrips {
		gotTrips = append(gotTrips, rt.String())
	}
	if got.Connections != 0 || !slices.Equal(gotTrips, want) {
		t.Errorf("%d connections, round trips:\n\t%s\nwant none and:\n\t%s", got.Connections, strings.Join(gotTrips, "\n\t"), strings.Join(want, "\n\t"))
	}
}
