package cli

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgrelay"
	"github.com/auth-session/auth-session/internal/pgtest"
)

// TestPreferTLSOnOneConnection: under sslmode=prefer (the default) a
// command makes one connection, in TLS when the server speaks it. Here the
// server refuses the test's role every connection in the clear, so a
// command that did not ask for TLS, or dropped it, fails; the server
// without TLS is TestEverydayCommandsRoundTrips's.
func TestPreferTLSOnOneConnection(t *testing.T) {
	ca := pgtest.NewCA(t, "auth-session test CA")
	serverCert, serverKey := ca.Issue(t, "localhost", "127.0.0.1", "localhost")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{
		TLS:             &pgcluster.TLS{Cert: serverCert, Key: serverKey},
		HBA:             []string{"hostnossl all tls_only 127.0.0.1/32 reject", "hostssl all tls_only 127.0.0.1/32 trust"},
		StopWithProcess: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove() }) //nolint:errcheck
	pgtest.MustExec(t, c.SuperURL("postgres"), "CREATE ROLE tls_only LOGIN SUPERUSER")
	relay := pgrelay.Start(t, c.Addr())
	for _, sslmode := range []string{"", "prefer"} {
		u := url.URL{Scheme: "postgres", User: url.User("tls_only"), Host: relay.Addr(), Path: "/postgres"}
		if sslmode != "" {
			u.RawQuery = "sslmode=" + sslmode
		}
		relay.Reset()
		r := runCLI(t, "init", "--url", u.String())
		if r.code != 0 {
			t.Fatalf("init over %s: exit %d, stderr:\n%s", u.Redacted(), r.code, r.stderr)
		}
		got := relay.Counts()
		if got.Connections != 1 || got.Encrypted != 1 {
			t.Errorf("init with sslmode %q: %+v; want one connection, in TLS", sslmode, got)
		}
	}
}
