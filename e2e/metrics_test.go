package e2e

import (
	"regexp"
	"strings"
	"testing"
)

var servingMetrics = regexp.MustCompile(`msg="serving metrics" url=(\S+)`)

// TestMetricsWithCurl scrapes serve's metrics with curl on the listener of
// --metrics-addr, after a login and a refused whoami made with curl; the
// main address answers /metrics 404.
func TestMetricsWithCurl(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure", "--metrics-addr", "127.0.0.1:0")
	m := servingMetrics.FindStringSubmatch(srv.logs())
	if m == nil {
		t.Fatalf("serve did not log where it serves the metrics:\n%s", srv.logs())
	}
	metricsURL := m[1]
	if !strings.HasSuffix(metricsURL, "/metrics") || strings.HasPrefix(metricsURL, srv.url+"/") {
		t.Fatalf("metrics served at %s, want /metrics on a listener other than %s", metricsURL, srv.url)
	}

	apiLogin(t, srv, s.user, s.password)
	wantStatus(t, "whoami without a session", curl(t, srv.url+"/api/v2/whoami"), 401)
	wantStatus(t, "/metrics on the main address", curl(t, srv.url+"/metrics"), 404)

	r := curl(t, metricsURL)
	wantStatus(t, "the metrics", r, 200)
	for _, line := range []string{
		`auth_session_logins_total{outcome="ok"} 1`,
		`auth_session_logins_total{outcome="wrong_password"} 0`,
		`auth_session_session_checks_total{outcome="absent"} 1`,
		`auth_session_http_requests_total{route="GET /api/v2/whoami",status="401"} 1`,
		`auth_session_http_requests_total{route="unrouted",status="404"} 1`,
		`auth_session_db_pool_max_connections{pool="primary"} 16`,
		`auth_session_db_down{pool="primary"} 0`,
	} {
		if !strings.Contains(r.stdout, "\n"+line+"\n") {
			t.Errorf("the metrics lack the line %s:\n%s", line, r.stdout)
		}
	}
	for _, secret := range []string{s.user, s.password} {
		if strings.Contains(r.stdout, secret) {
			t.Errorf("the metrics name %q", secret)
		}
	}
}
