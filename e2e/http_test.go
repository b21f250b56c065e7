package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgtest"
)

const unauthorizedBody = `{"error":"a valid authentication cookie is required"}`

// loginRefusedBody is the body of every refused API login: the same for
// an unknown user and a wrong password.
const loginRefusedBody = `{"error":"the username and password were refused"}`

func TestCurlWithTheOnlyCookieLine(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	dir := t.TempDir()
	if r := sh(t, dir, "auth-session login "+s.user+" --url '"+s.adminURL+"' --insecure --only-cookie > cookie.txt"); r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	whoami := srv.url + "/api/v2/whoami"

	r := sh(t, dir, `curl --cookie "$(cat cookie.txt)" `+whoami+curlStatus)
	wantStatus(t, `curl --cookie "$(cat FILE)"`, r, 200)
	if !strings.Contains(r.stdout, `"username":"`+s.user+`"`) {
		t.Errorf("whoami does not name %s:\n%s", s.user, r)
	}
	wantStatus(t, `curl -H "Cookie: $(cat FILE)"`, sh(t, dir, `curl -H "Cookie: $(cat cookie.txt)" `+whoami+curlStatus), 200)

	// The seed's example: curl reads the file as a cookie jar, finds no
	// cookie in it, and sends none. The README says so; this keeps it true.
	r = sh(t, dir, `curl --cookie cookie.txt `+whoami+curlStatus)
	wantStatus(t, "curl --cookie FILE with the --only-cookie line", r, 401)
	if !strings.Contains(r.stdout, unauthorizedBody) {
		t.Errorf("401 body: %s", r)
	}
	if logs := srv.logs(); !strings.Contains(logs, "user="+s.user) {
		t.Errorf("request log does not name the user:\n%s", logs)
	}
}

func TestCookieJarWithCurlAndWget(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	dir := t.TempDir()
	if r := sh(t, dir, "auth-session login "+s.user+" --url '"+s.adminURL+"' --insecure --cookie-jar jar.txt"); r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	st, err := os.Stat(filepath.Join(dir, "jar.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("jar mode %v; want 0600", st.Mode().Perm())
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.url, "http://"))
	for _, host := range []string{"127.0.0.1", "localhost"} {
		whoami := "http://" + host + ":" + port + "/api/v2/whoami"
		wantStatus(t, "curl --cookie jar.txt "+whoami, sh(t, dir, "curl --cookie jar.txt "+whoami+curlStatus), 200)
		r := sh(t, dir, "wget -qO- --load-cookies jar.txt "+whoami)
		if r.code != 0 || !strings.Contains(r.stdout, `"username":"`+s.user+`"`) {
			t.Errorf("wget --load-cookies jar.txt %s:\n%s", whoami, r)
		}
	}
	// Without the jar, wget gets the 401, which it reports with exit 6
	// (authentication failure).
	if r := sh(t, dir, "wget -qO- "+srv.url+"/api/v2/whoami"); r.code != 6 {
		t.Errorf("wget without cookies: want exit 6 (authentication failure)\n%s", r)
	}
}

func TestCurlWithHeaderAndBearer(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	r := run(t, "login", s.user, "--url", s.adminURL, "--insecure", "--only-cookie")
	if r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	value := sessionValue(t, r.stdout)
	whoami := srv.url + "/api/v2/whoami"
	wantStatus(t, "X-Auth-Session", sh(t, "", `curl -H 'X-Auth-Session: `+value+`' `+whoami+curlStatus), 200)
	wantStatus(t, "Authorization: Bearer", sh(t, "", `curl -H 'Authorization: Bearer `+value+`' `+whoami+curlStatus), 200)
	wantStatus(t, "a wrong bearer", sh(t, "", `curl -H 'Authorization: Bearer x`+value[1:]+`' `+whoami+curlStatus), 401)
}

func TestAPILoginAndLogoutWithCurl(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure", "--session-lifetime", "2h")
	dir := t.TempDir()
	login := srv.url + "/api/v2/login/"
	whoami := srv.url + "/api/v2/whoami"

	r := sh(t, dir, "curl -c api-jar.txt -d username="+s.user+" --data-urlencode password="+s.password+" "+login+curlStatus)
	wantStatus(t, "login with the right password", r, 200)
	var body struct {
		Session   string `json:"session"`
		SessionID string `json:"session_id"`
		ExpiresAt string `json:"expires_at"`
	}
	first, _, _ := strings.Cut(r.stdout, "\n")
	if err := json.Unmarshal([]byte(first), &body); err != nil || body.Session == "" {
		t.Fatalf("login body: %v\n%s", err, r)
	}
	expires, err := time.Parse(time.RFC3339Nano, body.ExpiresAt)
	if err != nil || time.Until(expires) < 110*time.Minute || time.Until(expires) > 130*time.Minute {
		t.Errorf("expires_at %q is not about --session-lifetime 2h from now (%v)", body.ExpiresAt, err)
	}
	wantStatus(t, "whoami with curl's jar from the login", sh(t, dir, "curl -b api-jar.txt "+whoami+curlStatus), 200)

	for name, form := range map[string]string{
		"wrong password": "-d username=" + s.user + " -d password=wrong",
		"unknown user":   "-d username=" + pgtest.UniqueName("nobody") + " -d password=" + s.password,
	} {
		r := sh(t, dir, "curl "+form+" "+login+curlStatus)
		wantStatus(t, name, r, 401)
		if first, _, _ := strings.Cut(r.stdout, "\n"); first != loginRefusedBody {
			t.Errorf("%s: body %q; want %q", name, first, loginRefusedBody)
		}
	}
	wantStatus(t, "login without a password", sh(t, dir, "curl -d username="+s.user+" "+login+curlStatus), 400)

	r = sh(t, dir, "curl -b api-jar.txt -c api-jar.txt -X POST "+srv.url+"/api/v2/logout/"+curlStatus)
	wantStatus(t, "logout", r, 200)
	// curl dropped the cookie the logout deleted; send the value itself.
	r = sh(t, dir, "curl --cookie 'session="+body.Session+"' "+whoami+curlStatus)
	wantStatus(t, "whoami after logout", r, 401)

	r = run(t, "list", "--url", s.adminURL, "--user", s.user, "--format", "ndjson")
	if r.code != 0 || !strings.Contains(r.stdout, `"id":"`+body.SessionID+`"`) || strings.Contains(r.stdout, `"revoked_at":null`) {
		t.Errorf("list does not show session %s revoked:\n%s", body.SessionID, r)
	}

	var via, addr, agent string
	s.query(t, `SELECT audit_info->>'via', audit_info->>'client_addr', audit_info->>'user_agent'
		FROM system.web_sessions WHERE id = $1::BIGINT`, []any{body.SessionID}, &via, &addr, &agent)
	if via != "http" || addr != "127.0.0.1" || !strings.HasPrefix(agent, "curl/") {
		t.Errorf("audit_info via %q client_addr %q user_agent %q; want http, 127.0.0.1, curl/...", via, addr, agent)
	}
	var events string
	s.query(t, `SELECT string_agg(event || ':' || via, ' ' ORDER BY at, id) FROM system.session_events WHERE username = $1`,
		[]any{s.user}, &events)
	if events != "session.created:http login.failed:http session.revoked:http" {
		t.Errorf("events %q; want session.created, login.failed, session.revoked, all via http", events)
	}

	logs := srv.logs()
	for _, secret := range []string{s.password, body.Session} {
		if strings.Contains(logs, secret) {
			t.Errorf("server log contains a secret %q:\n%s", secret, logs)
		}
	}
}

// TestTrustClusterRefusesPasswordLogin runs serve against a cluster whose
// pg_hba.conf trusts every TCP connection: no password is ever checked
// there, so the API login must refuse even the right one.
func TestTrustClusterRefusesPasswordLogin(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{HostAuth: pgcluster.AuthTrust, StopWithProcess: true})
	if err != nil {
		t.Fatalf("start a trust-auth cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Remove(); err != nil {
			t.Errorf("remove the trust-auth cluster: %v", err)
		}
	})
	superURL := c.SuperURL("postgres")
	if r := run(t, "init", "--url", superURL); r.code != 0 {
		t.Fatalf("init: %s", r)
	}
	pgtest.MustExec(t, superURL, "CREATE ROLE web_user LOGIN PASSWORD 'right'")
	srv := startServe(t, "--url", superURL, "--insecure")

	r := sh(t, "", "curl -d username=web_user -d password=right "+srv.url+"/api/v2/login/"+curlStatus)
	wantStatus(t, "login with the right password on a trust cluster", r, 401)
	if first, _, _ := strings.Cut(r.stdout, "\n"); first != loginRefusedBody {
		t.Errorf("body %q; want the uniform 401 body of a refused login", first)
	}
	logs := srv.logs()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "without checking a password") || !strings.Contains(logs, "username=web_user") {
		t.Errorf("no warning about the unchecked password:\n%s", logs)
	}
	if strings.Contains(logs, "right") {
		t.Errorf("the log contains the password:\n%s", logs)
	}
}

func TestServeWithTLS(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	certsDir := t.TempDir()
	writeNodeCert(t, certsDir)
	srv := startServe(t, "--url", s.adminURL, "--certs-dir", certsDir)
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("serve with --certs-dir serves %s; want https", srv.url)
	}
	cacert := " --cacert " + filepath.Join(certsDir, "node.crt")
	dir := t.TempDir()
	if r := sh(t, dir, "auth-session login "+s.user+" --url '"+s.adminURL+"' --only-cookie > cookie.txt"); r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	wantStatus(t, "whoami over HTTPS", sh(t, dir, `curl`+cacert+` --cookie "$(cat cookie.txt)" `+srv.url+"/api/v2/whoami"+curlStatus), 200)
	r := sh(t, dir, "curl -i"+cacert+" -d username="+s.user+" -d password="+s.password+" "+srv.url+"/api/v2/login/"+curlStatus)
	wantStatus(t, "login over HTTPS", r, 200)
	if !strings.Contains(r.stdout, "; HttpOnly; Secure; SameSite=Lax") {
		t.Errorf("the cookie set over HTTPS is not HttpOnly, Secure and SameSite=Lax:\n%s", r)
	}
}

func TestServeRefusesToStart(t *testing.T) {
	t.Parallel()
	fresh := pgtest.NewDB(t)
	s := newSite(t)
	outdated := newSite(t)
	pgtest.MustExec(t, outdated.dbURL, "DELETE FROM system.schema_migrations WHERE version = (SELECT max(version) FROM system.schema_migrations)")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr []string
	}{
		{"schema missing", []string{"--url", fresh, "--insecure"}, 1,
			[]string{"ERROR: the auth-session schema is not installed", "HINT: run 'auth-session init'"}},
		{"schema older than the binary", []string{"--url", outdated.dbURL, "--insecure"}, 1,
			[]string{"ERROR: the auth-session schema is older than this binary"}},
		{"user is not an admin", []string{"--url", pgtest.WithUser(s.dbURL, s.user, s.password), "--insecure"}, 1,
			[]string{"is not a member of the admin role", "GRANT admin TO " + s.user}},
		{"neither TLS nor --insecure", []string{"--url", s.adminURL}, 2,
			[]string{"--certs-dir", "--insecure"}},
		{"certs dir without certificates", []string{"--url", s.adminURL, "--certs-dir", t.TempDir()}, 1,
			[]string{"node.crt"}},
		{"bad session lifetime", []string{"--url", s.adminURL, "--insecure", "--session-lifetime", "soon"}, 2,
			[]string{`invalid --session-lifetime "soon"`}},
		{"database down", []string{"--url", "postgres://u:p@127.0.0.1:1/db?connect_timeout=5", "--insecure"}, 1,
			[]string{"cannot connect to PostgreSQL at 127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, append([]string{"serve", "--http-addr", "127.0.0.1:0"}, tt.args...)...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d; want %d\n%s", r.code, tt.wantCode, r)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q\n%s", want, r)
				}
			}
			if strings.Contains(r.stderr, "serving HTTP") {
				t.Errorf("it served:\n%s", r)
			}
		})
	}
}

func TestDemoRunStory(t *testing.T) {
	t.Parallel()
	r := run(t, "demo", "--run-story")
	if r.code != 0 || !strings.Contains(r.stdout, "The story went as expected") {
		t.Fatalf("demo --run-story:\n%s", r)
	}
	for _, want := range []string{"HTTP 200", "HTTP 401", "--url      postgres://demo_admin:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r)
		}
	}
}

// writeNodeCert writes a self-signed node.crt and node.key for 127.0.0.1
// and localhost into dir.
func writeNodeCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "node"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, blockType string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("node.crt", "CERTIFICATE", der)
	write("node.key", "EC PRIVATE KEY", keyDER)
}
