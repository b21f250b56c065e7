package e2e

import (
	"net"
	"strings"
	"testing"
)

// TestOnlyValue pipes login --only-value into curl's headers as is.
func TestOnlyValue(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	dir := t.TempDir()
	whoami := srv.url + "/api/v2/whoami"
	login := "auth-session login " + s.user + " --url '" + s.adminURL + "' --only-value"
	r := sh(t, dir, `curl -H "Authorization: Bearer $(`+login+`)" `+whoami+curlStatus)
	wantStatus(t, "Authorization: Bearer $(login --only-value)", r, 200)
	wantStatus(t, "X-Auth-Session: $(login --only-value)", sh(t, dir, `curl -H "X-Auth-Session: $(`+login+`)" `+whoami+curlStatus), 200)
	r = sh(t, dir, login)
	if lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n"); r.code != 0 || len(lines) != 1 || strings.ContainsAny(lines[0], "; ") || strings.HasPrefix(lines[0], "session=") {
		t.Errorf("--only-value: want one line with the bare value:\n%s", r)
	}
}

// TestCookieJarForItsHost writes the jar for the host the HTTP interface
// runs on, and curl sends it there and only there.
func TestCookieJarForItsHost(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	dir := t.TempDir()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.url, "http://"))
	// curl --resolve makes the names reach the loopback server.
	resolve := func(host string) string {
		return " --resolve " + host + ":" + port + ":127.0.0.1 http://" + host + ":" + port + "/api/v2/whoami"
	}

	for _, tc := range []struct {
		domain string
		hosts  map[string]int // host -> status
	}{
		{"auth.example.test", map[string]int{"auth.example.test": 200, "other.example.test": 401, "localhost": 401}},
		{".example.test", map[string]int{"example.test": 200, "api.example.test": 200, "example.org": 401}},
	} {
		login := "auth-session login " + s.user + " --url '" + s.adminURL + "' --insecure --cookie-jar jar.txt --domain " + tc.domain
		if r := sh(t, dir, login); r.code != 0 {
			t.Fatalf("%s: %s", login, r)
		}
		for host, status := range tc.hosts {
			wantStatus(t, "--domain "+tc.domain+", curl to "+host, sh(t, dir, "curl -b jar.txt"+resolve(host)+curlStatus), status)
		}
	}

	var before int
	s.query(t, "SELECT count(*) FROM system.web_sessions", nil, &before)
	for _, args := range [][]string{
		{"--cookie-jar", "j.txt", "--domain", "https://auth.example.test"},
		{"--cookie-jar", "j.txt", "--domain", "auth.example.test:8080"},
		{"--cookie-jar", "j.txt", "--domain", "auth.example.test/path"},
		{"--cookie-jar", "j.txt", "--domain", ".10.0.0.5"},
		{"--domain", "auth.example.test"},
		{"--only-cookie", "--only-value"},
	} {
		r := run(t, append([]string{"login", s.user, "--url", s.adminURL}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "ERROR: ") {
			t.Errorf("login %s: want exit 2 with an error:\n%s", strings.Join(args, " "), r)
		}
		if v := args[len(args)-1]; strings.HasPrefix(args[len(args)-2], "--domain") && !strings.Contains(r.stderr, `"`+v+`"`) && len(args) == 4 {
			t.Errorf("login %s: the error does not quote %q:\n%s", strings.Join(args, " "), v, r)
		}
	}
	var after int
	s.query(t, "SELECT count(*) FROM system.web_sessions", nil, &after)
	if after != before {
		t.Errorf("bad flags changed the table: %d sessions, then %d", before, after)
	}
}
