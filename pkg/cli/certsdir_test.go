package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgtest"
)

// certsDir writes a CockroachDB certificate directory: ca.crt and, for each
// of users, client.USER.crt and client.USER.key signed by ca.
func certsDir(t *testing.T, caPEM []byte, ca *pgtest.CA, users ...string) string {
	t.Helper()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "ca.crt"), caPEM)
	for _, u := range users {
		cert, key := ca.Issue(t, u)
		mustWrite(t, filepath.Join(dir, "client."+u+".crt"), cert)
		mustWrite(t, filepath.Join(dir, "client."+u+".key"), key)
	}
	return dir
}

func mustWrite(t *testing.T, path string, content []byte) {
	t.Helper()
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCertsDir connects with --certs-dir to a PostgreSQL that speaks TLS
// with a certificate of the test's CA and lets web_admin in over TCP only
// with a client certificate (hostssl ... cert): no password is involved.
// Not parallel: the seed's example takes its URL from AUTH_SESSION_URL.
func TestCertsDir(t *testing.T) {
	ca := pgtest.NewCA(t, "auth-session test CA")
	serverCert, serverKey := ca.Issue(t, "localhost", "127.0.0.1", "localhost")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{
		TLS:             &pgcluster.TLS{Cert: serverCert, Key: serverKey, ClientCA: ca.PEM},
		HBA:             []string{"hostssl all all 127.0.0.1/32 cert"},
		StopWithProcess: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove() })   //nolint:errcheck
	superURL := c.SuperURL("postgres") // sslmode=disable: the host line with a password
	mustRun(t, "init", "--url", superURL)
	pgtest.MustExec(t, superURL, "CREATE ROLE web_admin LOGIN IN ROLE admin; CREATE ROLE web_user LOGIN")
	dir := certsDir(t, ca.PEM, ca, "web_admin")
	hostURL := fmt.Sprintf("postgres://%s/postgres", c.Addr())
	adminURL := fmt.Sprintf("postgres://web_admin@%s/postgres", c.Addr())

	t.Run("seed example", func(t *testing.T) {
		t.Setenv("AUTH_SESSION_URL", adminURL)
		r := runCLI(t, "login", "web_user", "--certs-dir="+dir, "--only-cookie")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "session=") || strings.Count(r.stdout, "\n") != 1 {
			t.Fatalf("login web_user --certs-dir=%s --only-cookie: exit %d, stdout %q, stderr:\n%s", dir, r.code, r.stdout, r.stderr)
		}
		if n := mustCount(t, superURL, "system.session_events WHERE event = 'session.created' AND actor = 'web_admin'"); n != 1 {
			t.Errorf("%d sessions created by web_admin, want 1", n)
		}
	})
	t.Run("-U names the certificate", func(t *testing.T) {
		r := runCLI(t, "list", "--url", hostURL, "-U", "web_admin", "--certs-dir", dir, "--format", "tsv")
		if r.code != 0 || strings.Count(r.stdout, "\n") != 2 {
			t.Errorf("list -U web_admin --certs-dir: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("wrong CA", func(t *testing.T) {
		other := pgtest.NewCA(t, "another CA")
		wrong := certsDir(t, other.PEM, ca, "web_admin")
		r := runCLI(t, "list", "--url", adminURL, "--certs-dir", wrong)
		if r.code != ExitRuntime || !strings.Contains(r.stderr, "certificate signed by unknown authority") ||
			!strings.Contains(r.stderr, filepath.Join(wrong, "ca.crt")) {
			t.Errorf("a ca.crt of another CA: exit %d, stderr:\n%s\nwant exit 1, the verification failure and the CA file", r.code, r.stderr)
		}
	})
	t.Run("client certificate of another CA", func(t *testing.T) {
		other := pgtest.NewCA(t, "another CA")
		wrong := certsDir(t, ca.PEM, other, "web_admin")
		r := runCLI(t, "list", "--url", adminURL, "--certs-dir", wrong)
		// Go's TLS client offers no certificate the server's CAs did not
		// sign, so the server says it got none.
		if r.code != ExitRuntime || !strings.Contains(r.stderr, "connection requires a valid client certificate") {
			t.Errorf("a client certificate the server does not trust: exit %d, stderr:\n%s\nwant exit 1 and the server's refusal", r.code, r.stderr)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		partial := certsDir(t, ca.PEM, ca, "web_admin")
		if err := os.Remove(filepath.Join(partial, "client.web_admin.key")); err != nil {
			t.Fatal(err)
		}
		nodeCert, nodeKey := ca.Issue(t, "node", "127.0.0.1")
		mustWrite(t, filepath.Join(partial, "node.crt"), nodeCert)
		mustWrite(t, filepath.Join(partial, "node.key"), nodeKey)
		for _, args := range [][]string{{"list"}, {"serve", "--http-addr", "127.0.0.1:0"}} {
			r := runCLI(t, append(args, "--url", adminURL, "--certs-dir", partial)...)
			if want := filepath.Join(partial, "client.web_admin.key"); r.code != ExitUsage || !strings.Contains(r.stderr, want) {
				t.Errorf("%s without the key: exit %d, stderr:\n%s\nwant exit 2 naming %s", args[0], r.code, r.stderr, want)
			}
		}
		r := runCLI(t, "list", "--url", adminURL, "--certs-dir", t.TempDir())
		if r.code != ExitUsage || !strings.Contains(r.stderr, "ca.crt") {
			t.Errorf("an empty --certs-dir: exit %d, stderr:\n%s\nwant exit 2 naming ca.crt", r.code, r.stderr)
		}
	})
	t.Run("serve", func(t *testing.T) {
		// serve's --certs-dir holds node.crt and node.key for HTTPS, and
		// here web_admin's client certificate for the database.
		nodeCert, nodeKey := ca.Issue(t, "node", "127.0.0.1", "localhost")
		mustWrite(t, filepath.Join(dir, "node.crt"), nodeCert)
		mustWrite(t, filepath.Join(dir, "node.key"), nodeKey)
		port, err := pgcluster.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		env, _, stderr := newEnv(terminals{})
		exited := make(chan int, 1)
		go func() {
			exited <- Main(ctx, []string{"auth-session", "serve", "--url", adminURL, "--certs-dir", dir, "--http-addr", addr}, env)
		}()
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(ca.PEM)
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		for {
			resp, err := client.Get("https://" + addr + "/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET /health: %s", resp.Status)
				}
				break
			}
			select {
			case code := <-exited:
				t.Fatalf("serve exited with %d; stderr:\n%s", code, stderr)
			case <-time.After(50 * time.Millisecond):
			}
		}
		// Its pool connects as web_admin over TLS, with the certificate.
		if n := mustCount(t, superURL, `pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
			WHERE a.usename = 'web_admin' AND a.application_name = 'auth-session' AND s.ssl AND s.client_dn = '/CN=web_admin'`); n == 0 {
			t.Errorf("no connection of web_admin with its client certificate")
		}
		cancel()
		if code := <-exited; code != 0 {
			t.Errorf("serve exited with %d, want 0; stderr:\n%s", code, stderr)
		}
	})
}

// TestSSLRootCert: the CA file a connection string names, as pgconn reads
// it (the last one wins), for the hint of a certificate that did not verify.
func TestSSLRootCert(t *testing.T) {
	t.Setenv("PGSSLROOTCERT", "")
	for s, want := range map[string]string{
		"postgres://u@h/db?sslrootcert=a.crt&sslrootcert=%2Fcerts%2Fca.crt":      "/certs/ca.crt",
		"postgres://u@h1:5432,h2:5432/db?sslmode=verify-full&sslrootcert=ca.crt": "ca.crt",
		"postgres://u@h/db":                                         "",
		"host=h sslrootcert=/a/ca.crt user=u":                       "/a/ca.crt",
		`host=h sslrootcert=x sslrootcert='/my certs/o\'brien.crt'`: "/my certs/o'brien.crt",
	} {
		if got := sslRootCert(s); got != want {
			t.Errorf("sslRootCert(%q) = %q, want %q", s, got, want)
		}
	}
}
