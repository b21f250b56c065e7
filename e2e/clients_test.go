package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/client"
	"github.com/auth-session/auth-session/pkg/sql"
)

// TestClients runs the tests of the TypeScript and the Python client
// (clients/typescript, clients/python) against a real serve, each with a
// user of its own and a member of admin, and checks that the Go client's
// types have exactly the fields the server sends. Each client's tests
// compare every body the server answers with the fields the client
// declares, so a field added to the server fails here until all three
// clients have it. Node, npm and python3 are required, not optional:
// scripts/install-deps.sh installs them.
func TestClients(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"node", "npm", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the clients' tests need %s on PATH: run scripts/install-deps.sh (apt-get install nodejs npm python3)", tool)
		}
	}
	s := newSite(t)
	srv := startServe(t, "--url", s.adminURL, "--insecure")
	t.Cleanup(func() { wantNoErrorsLogged(t, srv) })
	admin, err := url.Parse(s.adminURL)
	if err != nil {
		t.Fatal(err)
	}
	adminName := admin.User.Username()
	clientEnv := func(user, password string) []string {
		return []string{
			"AUTH_SESSION_CLIENT_TEST_URL=" + srv.url,
			"AUTH_SESSION_CLIENT_TEST_USER=" + user,
			"AUTH_SESSION_CLIENT_TEST_PASSWORD=" + password,
			"AUTH_SESSION_CLIENT_TEST_ADMIN=" + adminName,
			"AUTH_SESSION_CLIENT_TEST_ADMIN_PASSWORD=adminpw",
		}
	}

	t.Run("go", func(t *testing.T) {
		t.Parallel()
		checkGoClientFields(t, srv.url, s.user, s.password, adminName, "adminpw")
	})
	t.Run("typescript", func(t *testing.T) {
		t.Parallel()
		user, password := newClientUser(t, s, "ts_user")
		dir := typescriptCopy(t)
		step(t, dir, nil, "npm", "ci", "--no-audit", "--no-fund", "--prefer-offline")
		step(t, dir, nil, "npm", "run", "--silent", "build")
		tests, err := filepath.Glob(filepath.Join(dir, "dist", "test", "*.test.js"))
		if err != nil || len(tests) == 0 {
			t.Fatalf("no compiled tests in %s/dist/test (%v)", dir, err)
		}
		r := step(t, dir, clientEnv(user, password), "node", append([]string{"--test", "--test-reporter=tap"}, tests...)...)
		if !nodeSummary.MatchString(r.stdout) {
			t.Errorf("node --test: want every test run and passed, none skipped:\n%s", r)
		}
	})
	t.Run("python", func(t *testing.T) {
		t.Parallel()
		user, password := newClientUser(t, s, "py_user")
		env := append(clientEnv(user, password), "PYTHONDONTWRITEBYTECODE=1")
		r := step(t, "../clients/python", env, "python3", "-m", "unittest", "discover", "-s", "tests", "-t", ".")
		if !pythonSummary.MatchString(r.stderr) {
			t.Errorf("python3 -m unittest: want every test run and passed, none skipped:\n%s", r)
		}
	})
}

// The summaries of runs where tests ran, none was skipped and all passed.
var (
	nodeSummary   = regexp.MustCompile(`(?m)^# pass [1-9][0-9]*\n# fail 0\n# cancelled 0\n# skipped 0\n# todo 0$`)
	pythonSummary = regexp.MustCompile(`(?m)^Ran [1-9][0-9]* tests? in .*\n\nOK$`)
)

// newClientUser creates a login role for one client's tests, dropped after
// the test, and returns its name and password.
func newClientUser(t *testing.T, s *site, prefix string) (name, password string) {
	t.Helper()
	name, password = pgtest.UniqueName(prefix), "pw-"+pgtest.UniqueName("x")
	pgtest.MustExec(t, s.dbURL, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", name, password))
	t.Cleanup(func() { pgtest.MustExec(t, s.dbURL, "DROP ROLE IF EXISTS "+name) })
	return name, password
}

// typescriptCopy copies the TypeScript client's sources to a directory of
// the test's own, so that its build leaves the checkout as it was.
func typescriptCopy(t *testing.T) string {
	t.Helper()
	const src = "../clients/typescript"
	dir := t.TempDir()
	for _, name := range []string{"package.json", "package-lock.json", "tsconfig.json"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []string{"src", "test"} {
		if err := os.CopyFS(filepath.Join(dir, sub), os.DirFS(filepath.Join(src, sub))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// step runs one command of a client's build or tests in dir, with env
// added, and fails the test with its output unless it succeeds.
func step(t *testing.T, dir string, env []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	start := time.Now()
	r := runIn(t, dir, cmd)
	if r.code != 0 {
		t.Fatalf("%s %s: %s", name, strings.Join(args, " "), r)
	}
	t.Logf("%s %s: %.1fs", name, strings.Join(args, " "), time.Since(start).Seconds())
	return r
}

// checkGoClientFields compares the json tags of pkg/client's types with the
// keys of the bodies they decode, as a live server sends them.
func checkGoClientFields(t *testing.T, serverURL, user, password, admin, adminPassword string) {
	t.Helper()
	ctx := context.Background()
	c := client.New(serverURL)
	if _, err := c.Login(ctx, user, password); err != nil {
		t.Fatal(err)
	}
	root := client.New(serverURL)
	if _, err := root.Login(ctx, admin, adminPassword); err != nil {
		t.Fatal(err)
	}
	get := func(c *client.Client, method, path, body string, out any) map[string]any {
		t.Helper()
		return getJSON(t, serverURL, c.Session(), method, path, body, out)
	}
	wantFields[client.Identity](t, "whoami", get(c, "GET", "/api/v2/whoami", "", nil))
	var own struct{ Sessions []map[string]any }
	get(c, "GET", "/api/v1/auth/sessions", "", &own)
	if len(own.Sessions) == 0 {
		t.Fatal("no own sessions to compare")
	}
	wantSession[client.Session](t, "own session", own.Sessions[0], sql.OwnSessionFields, "current")
	var page struct{ Sessions []map[string]any }
	get(root, "GET", "/api/v1/admin/sessions?user="+url.QueryEscape(user), "", &page)
	if len(page.Sessions) == 0 {
		t.Fatal("no admin sessions to compare")
	}
	wantSession[client.AdminSession](t, "admin session", page.Sessions[0], sql.SessionFields, "active", "current")
	body := fmt.Sprintf(`{"users":[%q],"dry_run":true}`, user)
	wantFields[client.RevokeResult](t, "revoke by selection", get(root, "POST", "/api/v1/admin/sessions/revoke", body, nil))
}

// getJSON sends a request with the session and decodes its JSON answer
// into out, or returns it as a map when out is nil.
func getJSON(t *testing.T, serverURL, session, method, path, body string, out any) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, serverURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(client.SessionHeader, session)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if out == nil {
		out = &m
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d, %v", method, path, resp.StatusCode, err)
	}
	return m
}

// wantSession fails the test unless body, a session as the server sends
// it, has exactly the keys of fields and extra, and decodes as a T:
// pkg/client reads a session by the fields of pkg/sql, as the server writes
// it, and fails on a member missing.
func wantSession[T any](t *testing.T, what string, body map[string]any, fields []sql.SessionField, extra ...string) {
	t.Helper()
	keys := slices.Clone(extra)
	for _, f := range fields {
		keys = append(keys, f.Key)
	}
	slices.Sort(keys)
	if got := slices.Sorted(maps.Keys(body)); !slices.Equal(got, keys) {
		t.Errorf("%s: the server sends %v; the client reads %v", what, got, keys)
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var session T
	if err := json.Unmarshal(b, &session); err != nil {
		t.Errorf("%s: client.%s does not read %s: %v", what, reflect.TypeFor[T]().Name(), b, err)
	}
}

// wantFields fails the test unless the json tags of T are exactly the keys
// of body.
func wantFields[T any](t *testing.T, what string, body map[string]any) {
	t.Helper()
	var tags []string
	typ := reflect.TypeFor[T]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		tags = append(tags, name)
	}
	var keys []string
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(tags)
	slices.Sort(keys)
	if !slices.Equal(tags, keys) {
		t.Errorf("%s: the server sends %v; client.%s has %v", what, keys, typ.Name(), tags)
	}
}
