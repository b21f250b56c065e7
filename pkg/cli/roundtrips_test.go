package cli

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgrelay"
)

// viaRelay returns dbURL pointed at relay r instead of the server.
func viaRelay(t testing.TB, dbURL string, r *pgrelay.Relay) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = r.Addr()
	// libpq's default, prefer: ask for TLS, go on without it if refused.
	q := u.Query()
	q.Del("sslmode")
	u.RawQuery = q.Encode()
	return u.String()
}

// TestEverydayCommandsRoundTrips holds the commands a DBA runs most to one
// connection and the round trips they need (issue 21, section 3): on a
// network each round trip is a wait, and a new connection is a new
// PostgreSQL process whose catalog caches start cold.
func TestEverydayCommandsRoundTrips(t *testing.T) {
	dbURL := newSessionDB(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	relay := pgrelay.Start(t, u.Host)
	relayURL := viaRelay(t, dbURL, relay)
	user := mustCreateRole(t, dbURL, "rtt", "LOGIN")

	var ids []string
	for range 3 {
		out := mustRun(t, "login", user, "--url", dbURL, "--format", "tsv")
		lines := strings.Split(out.stdout, "\n")
		ids = append(ids, strings.Split(lines[1], "\t")[1])
	}
	if _, err := strconv.ParseInt(ids[0], 10, 64); err != nil {
		t.Fatalf("login printed no session id: %v", ids)
	}

	for _, tc := range []struct {
		args []string
		// roundTrips bounds the round trips of the whole command,
		// connecting excluded.
		roundTrips int
	}{
		{[]string{"login", user, "--only-cookie"}, 7},
		// list also reads the settings (sql.ReadPolicy), for the idle
		// timeout serve applies.
		{[]string{"list", "--user", user, "--format", "tsv"}, 6},
		{[]string{"revoke", ids[0], "--yes", "--format", "tsv"}, 7},
		{[]string{"logout", user, "--format", "tsv"}, 9},
	} {
		relay.Reset()
		mustRun(t, append(tc.args, "--url", relayURL)...)
		got := relay.Counts()
		var tlsRequests, roundTrips int
		var sent []string
		for _, rt := range got.RoundTrips {
			switch {
			case rt.Kind == pgrelay.SSLRequest || rt.Kind == pgrelay.GSSENCRequest:
				tlsRequests++
			case !rt.Connecting():
				roundTrips++
			}
			sent = append(sent, rt.String())
		}
		t.Logf("%s: %d connections, %d round trips after connecting:\n\t%s", tc.args[0], got.Connections, roundTrips, strings.Join(sent, "\n\t"))
		if got.Connections != 1 || tlsRequests > 1 {
			t.Errorf("%s: %d connections, %d TLS requests; want one connection, at most one TLS request on it",
				strings.Join(tc.args, " "), got.Connections, tlsRequests)
		}
		if roundTrips > tc.roundTrips {
			t.Errorf("%s: %d round trips; want at most %d", strings.Join(tc.args, " "), roundTrips, tc.roundTrips)
		}
	}
}
