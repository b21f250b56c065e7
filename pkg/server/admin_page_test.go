package server_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// updateScreenshot makes TestAdminPageScreenshot write the picture of the
// page that the README shows. AUTH_SESSION_UPDATE_SCREENSHOT=1 does the same
// where flags cannot be passed, such as through make.
var updateScreenshot = flag.Bool("update-screenshot", false,
	"write docs/admin-sessions.png from TestAdminPageScreenshot")

const screenshotFile = "../../docs/admin-sessions.png"

func TestAdminPageHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, header ...string) response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, f.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
	}

	tests := []struct {
		path       string
		wantStatus int
		wantType   string
		wantCache  string
	}{
		{"/admin/sessions", http.StatusOK, "text/html; charset=utf-8", "no-store"},
		{"/admin/assets/admin.mjs", http.StatusOK, "text/javascript; charset=utf-8", "no-cache"},
		{"/admin/assets/admin.css", http.StatusOK, "text/css; charset=utf-8", "no-cache"},
		{"/admin/assets/favicon.svg", http.StatusOK, "image/svg+xml", "no-cache"},
		{"/admin/assets/admin.html", http.StatusNotFound, "", ""},
		{"/admin/assets/missing.js", http.StatusNotFound, "", ""},
		{"/admin/assets/time.mjs", http.StatusOK, "text/javascript; charset=utf-8", "no-cache"},
		{"/admin/assets/", http.StatusNotFound, "", ""},
	}
	for _, tt := range tests {
		r := get(tt.path)
		if r.status != tt.wantStatus {
			t.Errorf("GET %s: %d; want %d", tt.path, r.status, tt.wantStatus)
			continue
		}
		if tt.wantStatus != http.StatusOK {
			continue
		}
		for name, want := range map[string]string{
			"Content-Type":            tt.wantType,
			"Cache-Control":           tt.wantCache,
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
		} {
			if got := r.header.Get(name); got != want {
				t.Errorf("GET %s: %s %q; want %q", tt.path, name, got, want)
			}
		}
	}

	// The root too: it is the address serve and demo print.
	for _, path := range []string{"/", "/admin", "/admin/"} {
		if r := get(path); r.status != http.StatusFound || r.header.Get("Location") != "/admin/sessions" {
			t.Errorf("GET %s: %d to %q; want 302 to /admin/sessions", path, r.status, r.header.Get("Location"))
		}
	}
	if r := get("/nothing-here"); r.status != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %d; want 404", r.status)
	}
	js := get("/admin/assets/admin.mjs")
	if etag := js.header.Get("ETag"); etag == "" {
		t.Error("admin.mjs has no ETag")
	} else if r := get("/admin/assets/admin.mjs", "If-None-Match", etag); r.status != http.StatusNotModified {
		t.Errorf("admin.mjs with its ETag: %d; want 304", r.status)
	}

	// The CSP forbids inline code, and nothing may come from the network:
	// check the page keeps to both, so that a change cannot break it
	// silently.
	html := get("/admin/sessions").body
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`),     // inline script
		regexp.MustCompile(`<style`),                       // inline style sheet
		regexp.MustCompile(`\sstyle=`),                     // inline style
		regexp.MustCompile(`\son[a-z]+=`),                  // inline handler
		regexp.MustCompile(`(?:src|href)="(?:https?:)?//`), // another origin
	} {
		if loc := bad.FindStringIndex(html); loc != nil {
			t.Errorf("admin.html breaks the CSP or loads from the network near %q", html[loc[0]:min(loc[1]+40, len(html))])
		}
	}
	for _, name := range []string{"admin.mjs", "admin.css"} {
		if body := get("/admin/assets/" + name).body; regexp.MustCompile(`https?://|url\(`).MatchString(body) {
			t.Errorf("%s refers to a URL; the page must load nothing else", name)
		}
	}
}

// TestAdminPageInBrowser drives the page in headless Chromium against a real
// server and database: sign in with the keyboard, revoke one session, log
// out all of a user's devices, filter, sign out; and checks with plain HTTP
// that the revoked cookies no longer work.
func TestAdminPageInBrowser(t *testing.T) {
	chromium := needBrowser(t)
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { c.InsecureCookies = true })
	admin := newBrowserTestRole(t, f, pgtest.UniqueName("page_admin"), "admin pw", true)
	user := newBrowserTestRole(t, f, pgtest.UniqueName("web_user"), "user pw", false)
	var cookies, ids []string
	for _, agent := range []string{"curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Wget/1.21.3"} {
		body := f.login(t, loginForm(user, "user pw"), "User-Agent", agent).json(t)
		cookies = append(cookies, body["session"])
		ids = append(ids, body["session_id"])
	}
	// Newest first: ids[2], ids[1], ids[0]. The one in the middle is revoked
	// alone, so that the focus has a next row to move to.
	target := ids[1]

	b := newBrowser(t, chromium, f.url)
	b.do(t, chromedp.Navigate(f.url+"/admin/sessions"))
	b.waitFor(t, "the sign-in form, focused", `!document.getElementById('signin-view').hidden &&
		document.activeElement.id === 'signin-username'`)

	// Only the keyboard: a wrong password first, then the right one.
	b.do(t, chromedp.KeyEvent(admin), chromedp.KeyEvent(kb.Tab))
	b.waitFor(t, "focus on the password", `document.activeElement.id === 'signin-password'`)
	b.do(t, chromedp.KeyEvent("wrong"+kb.Enter))
	b.waitFor(t, "the refusal", `document.getElementById('signin-error').textContent.startsWith('Sign-in refused') &&
		document.activeElement.id === 'signin-password' && document.activeElement.value === ''`)
	b.do(t, chromedp.KeyEvent("admin pw"+kb.Enter))
	b.waitFor(t, "the sessions of both users", `document.querySelectorAll('#sessions-table tr.session').length === 4`)
	if got := b.text(t, "#account-name"); got != admin {
		t.Errorf("signed in as %q; want %q", got, admin)
	}
	b.waitFor(t, "relative times with the exact UTC time on hover", fmt.Sprintf(`(() => {
		const t = document.querySelector('tr[data-id="%s"] time');
		return /^(just now|\d+ (second|minute)s? ago)$/.test(t.textContent) && / UTC$/.test(t.title) && t.dateTime.endsWith('Z');
	})()`, target))

	b.do(t, chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-id="%s"] button[data-action="revoke"]`, target))))
	b.waitFor(t, "the row marked revoked", fmt.Sprintf(`(() => {
		const row = document.querySelector('tr[data-id="%s"]');
		return row.classList.contains('session-revoked') && row.querySelector('.badge').textContent === 'revoked' &&
			!row.querySelector('button');
	})()`, target))
	b.waitFor(t, "the feedback", fmt.Sprintf(`document.getElementById('feedback').textContent === 'Session %s of %s revoked.'`, target, user))
	b.waitFor(t, "focus on the next Revoke button", fmt.Sprintf(`document.activeElement.dataset.id === '%s'`, ids[0]))

	wantUnauthorized(t, f.whoami(t, cookies[1]))
	for _, i := range []int{0, 2} {
		if r := f.whoami(t, cookies[i]); r.status != http.StatusOK {
			t.Errorf("session %s stopped working when %s was revoked: %d", ids[i], target, r.status)
		}
	}

	dialogs := b.acceptDialogs()
	b.do(t, chromedp.Click(chromedp.CSS(fmt.Sprintf(`tbody[data-user="%s"] button[data-action="logout-user"]`, user))))
	b.waitFor(t, "the logout feedback", fmt.Sprintf(`document.getElementById('feedback').textContent === 'Logged out 2 sessions of %s.'`, user))
	b.waitFor(t, "every row of the user revoked", fmt.Sprintf(`(() => {
		const group = document.querySelector('tbody[data-user="%s"]');
		const rows = group.querySelectorAll('tr.session');
		return rows.length === 3 && [...rows].every((r) => r.classList.contains('session-revoked')) &&
			group.querySelector('button[data-action="logout-user"]').disabled;
	})()`, user))
	if got := dialogs(); len(got) != 1 || !strings.HasPrefix(got[0], "Log out all devices of "+user+"?") {
		t.Errorf("confirmations %q; want one asking to log out all devices of %s", got, user)
	}
	for _, c := range cookies {
		wantUnauthorized(t, f.whoami(t, c))
	}

	b.do(t, chromedp.SetValue(chromedp.ID("filter-user"), admin), chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)))
	b.waitFor(t, "only the admin's sessions", fmt.Sprintf(`(() => {
		const groups = document.querySelectorAll('#sessions-table tbody');
		return groups.length === 1 && groups[0].dataset.user === '%s' && location.hash === '#sessions?user=%s';
	})()`, admin, admin))
	b.do(t, chromedp.SetValue(chromedp.ID("filter-user"), user), chromedp.SetValue(chromedp.ID("filter-state"), "active"),
		chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)))
	b.waitFor(t, "no active session of the user", `!document.getElementById('empty').hidden &&
		document.querySelectorAll('#sessions-table tr.session').length === 0`)
	b.do(t, chromedp.Click(chromedp.ID("filter-clear")))
	b.waitFor(t, "every session again", `document.querySelectorAll('#sessions-table tr.session').length === 4`)

	b.do(t, chromedp.Click(chromedp.ID("sign-out")))
	b.waitFor(t, "the sign-in form after signing out", `!document.getElementById('signin-view').hidden &&
		document.getElementById('signin-error').textContent === 'Signed out.'`)
	b.do(t, chromedp.Reload())
	b.waitFor(t, "still signed out after a reload", `!document.getElementById('signin-view').hidden &&
		document.getElementById('sessions-view').hidden`)

	// A user who is no admin can sign in, and is told why there is nothing.
	b.do(t, chromedp.SetValue(chromedp.ID("signin-username"), user), chromedp.SendKeys(chromedp.ID("signin-password"), "user pw"+kb.Enter))
	b.waitFor(t, "the API's refusal, verbatim, and no filters", `document.getElementById('feedback').textContent ===
		'Could not load sessions: admin role required' && document.getElementById('filters').hidden`)

	b.checkClean(t)
}

// TestAdminPageLoadMore pages through more sessions than one answer holds.
func TestAdminPageLoadMore(t *testing.T) {
	chromium := needBrowser(t)
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { c.InsecureCookies = true })
	admin := newBrowserTestRole(t, f, pgtest.UniqueName("page_admin"), "admin pw", true)
	user := newBrowserTestRole(t, f, pgtest.UniqueName("many"), "pw", false)
	// More than the page's 200 a request, made directly: only the count
	// matters here.
	f.mustExec(t, `INSERT INTO system.web_sessions (hashed_secret, username, user_id, created_at, expires_at)
		SELECT sha256(i::TEXT::BYTEA), r.rolname, r.oid::BIGINT, now() - i * INTERVAL '1 minute', now() + INTERVAL '1 hour'
		FROM pg_catalog.pg_roles r, generate_series(1, 250) i WHERE r.rolname = $1`, user)

	b := newBrowser(t, chromium, f.url)
	b.do(t, chromedp.Navigate(f.url+"/admin/sessions"),
		chromedp.SendKeys(chromedp.ID("signin-username"), admin),
		chromedp.SendKeys(chromedp.ID("signin-password"), "admin pw"+kb.Enter))
	b.waitFor(t, "the first page", `document.querySelectorAll('#sessions-table tr.session').length === 200 &&
		!document.getElementById('load-more').hidden`)
	b.do(t, chromedp.Click(chromedp.ID("load-more")))
	b.waitFor(t, "every session, and no more to load", `document.querySelectorAll('#sessions-table tr.session').length === 251 &&
		document.getElementById('load-more').hidden`)
	var ids []string
	b.eval(t, `[...document.querySelectorAll('#sessions-table tr.session')].map((r) => r.dataset.id)`, &ids)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("session %s is listed twice", id)
		}
		seen[id] = true
	}
	b.checkClean(t)
}

// TestAdminPageScreenshot shows two users' sessions in every state, checks
// how each is rendered, and with -update-screenshot writes the picture the
// README shows.
func TestAdminPageScreenshot(t *testing.T) {
	chromium := needBrowser(t)
	t.Parallel()
	f := newFixture(t, func(c *server.Config) {
		c.InsecureCookies = true
		c.SessionLifetime = 7 * 24 * time.Hour
	})
	write := *updateScreenshot || os.Getenv("AUTH_SESSION_UPDATE_SCREENSHOT") == "1"
	// Readable names for the picture. Roles are global to the cluster, so
	// fixed names are only used then, by this one test.
	name := func(prefix string) string {
		if write {
			return prefix
		}
		return pgtest.UniqueName(prefix)
	}
	admin := newBrowserTestRole(t, f, name("ops_admin"), "admin pw", true)
	alice := newBrowserTestRole(t, f, name("alice"), "alice pw", false)
	bob := newBrowserTestRole(t, f, name("bob"), "bob pw", false)

	login := func(user, password, agent, addr, age, lastUsed string) string {
		t.Helper()
		id := f.login(t, loginForm(user, password), "User-Agent", agent).json(t)["session_id"]
		f.mustExec(t, `UPDATE system.web_sessions SET created_at = now() - $2::INTERVAL,
			expires_at = now() - $2::INTERVAL + INTERVAL '7 days', last_used_at = now() - $3::INTERVAL,
			audit_info = jsonb_set(audit_info, '{client_addr}', to_jsonb($4::TEXT)), last_ip = $4::INET WHERE id = $1`,
			id, age, lastUsed, addr)
		return id
	}
	// Oldest first: the API lists by id, which grows with the real time of
	// the login, and created_at is moved back to match.
	expired := login(bob, "bob pw", "curl/8.5.0", "192.0.2.14", "9 days", "8 days")
	f.mustExec(t, `UPDATE system.web_sessions SET expires_at = created_at + INTERVAL '1 day' WHERE id = $1`, expired)
	login(alice, "alice pw", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"198.51.100.23", "26 hours", "2 hours")
	stolen := login(alice, "alice pw", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
		"203.0.113.77", "5 hours", "40 minutes")
	// Its cookie was last used by a script, from elsewhere.
	f.mustExec(t, `UPDATE system.web_sessions SET last_ip = '192.0.2.201', last_user_agent = 'python-requests/2.31.0' WHERE id = $1`, stolen)
	login(alice, "alice pw", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
		"198.51.100.23", "3 hours", "12 minutes")
	login(bob, "bob pw", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "192.0.2.14", "50 minutes", "3 minutes")
	// A session made by `auth-session login` has no address or browser.
	cli, err := sql.NewStore(f.pool).Login(context.Background(), sql.NewSession{
		Username: bob, HashedSecret: auth.HashSecret([]byte("not a real secret")), ExpireAfter: time.Hour,
	}, sql.Actor{Name: admin, Via: "cli", ClientAddr: "ops-laptop"}, sql.LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cliID := strconv.FormatInt(cli.ID, 10)

	b := newBrowser(t, chromium, f.url)
	b.do(t, chromedp.Navigate(f.url+"/admin/sessions"))
	b.waitFor(t, "the sign-in form", `document.activeElement.id === 'signin-username'`)
	b.do(t, chromedp.KeyEvent(admin+kb.Tab+"admin pw"+kb.Enter))
	b.waitFor(t, "every session", `document.querySelectorAll('#sessions-table tr.session').length === 7`)
	b.do(t, chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-id="%s"] button[data-action="revoke"]`, stolen))))
	b.waitFor(t, "the revocation", fmt.Sprintf(`document.querySelector('tr[data-id="%s"]').classList.contains('session-revoked') &&
		document.getElementById('feedback').textContent !== ''`, stolen))

	var rows []struct{ ID, Status, Created, Used, Client, Action string }
	b.eval(t, `[...document.querySelectorAll('#sessions-table tr.session')].map((r) => ({
		ID: r.dataset.id, Status: r.querySelector('.badge').textContent,
		Created: r.cells[2].textContent, Used: r.cells[3].textContent, Client: r.querySelector('.col-client').textContent,
		Action: r.querySelector('.col-actions').textContent}))`, &rows)
	want := map[string]string{stolen: "revoked", expired: "expired"}
	for _, r := range rows {
		status := want[r.ID]
		if status == "" {
			status = "active"
		}
		wantAction := map[bool]string{true: "Revoke", false: ""}[status == "active"]
		if r.Status != status || r.Action != wantAction {
			t.Errorf("session %s: status %q, action %q; want %q, %q", r.ID, r.Status, r.Action, status, wantAction)
		}
		if r.ID == expired && (r.Created != "9 days ago" || r.Client != "192.0.2.14curl 8.5.0 · via HTTP") {
			t.Errorf("expired session: created %q, client %q", r.Created, r.Client)
		}
		if r.ID == expired && r.Used != "8 days ago" {
			t.Errorf("expired session, last used from where it logged in: last used %q; want when alone", r.Used)
		}
		if r.ID == stolen && r.Used != "40 minutes agofrom 192.0.2.201 · python-requests/2.31.0" {
			t.Errorf("the session used from elsewhere: last used %q; want when, and from where", r.Used)
		}
		if r.ID == cliID && (r.Client != "—via CLI" || strings.Contains(r.Used, "from")) {
			t.Errorf("CLI session: client %q, last used %q; want no address of either", r.Client, r.Used)
		}
	}

	// Neither the focus ring nor a hover effect belongs in the picture.
	b.eval(t, `document.activeElement.blur()`, nil)
	b.do(t, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1, 1))
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	b.checkClean(t)
	if !write {
		return
	}
	if err := os.WriteFile(screenshotFile, png, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(screenshotFile)
	t.Logf("wrote %s (%d bytes)", abs, len(png))
}

// newBrowserTestRole creates the login role name with password, a member of
// admin when admin is set, and drops it after the test.
func newBrowserTestRole(t *testing.T, f *fixture, name, password string, admin bool) string {
	t.Helper()
	f.mustExec(t, "CREATE ROLE "+name+" LOGIN PASSWORD '"+password+"'")
	t.Cleanup(func() {
		f.pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+name) //nolint:errcheck
	})
	if admin {
		f.mustExec(t, "GRANT admin TO "+name)
	}
	return name
}

// TestAdminPageRevokeMatching revokes every session the filters match,
// beyond the page loaded: the page asks with the server's count first, and
// the action is off while the filters match every session.
func TestAdminPageRevokeMatching(t *testing.T) {
	chromium := needBrowser(t)
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { c.InsecureCookies = true })
	admin := newBrowserTestRole(t, f, pgtest.UniqueName("page_admin"), "admin pw", true)
	many := newBrowserTestRole(t, f, pgtest.UniqueName("many"), "pw", false)
	other := newBrowserTestRole(t, f, pgtest.UniqueName("other"), "other pw", false)
	f.mustExec(t, `INSERT INTO system.web_sessions (hashed_secret, username, user_id, created_at, expires_at)
		SELECT sha256(i::TEXT::BYTEA), r.rolname, r.oid::BIGINT, now() - i * INTERVAL '1 minute', now() + INTERVAL '1 hour'
		FROM pg_catalog.pg_roles r, generate_series(1, 250) i WHERE r.rolname = $1`, many)
	manyCookie := f.login(t, loginForm(many, "pw")).json(t)["session"]
	otherCookie := f.login(t, loginForm(other, "other pw")).json(t)["session"]

	b := newBrowser(t, chromium, f.url)
	b.do(t, chromedp.Navigate(f.url+"/admin/sessions"),
		chromedp.SendKeys(chromedp.ID("signin-username"), admin),
		chromedp.SendKeys(chromedp.ID("signin-password"), "admin pw"+kb.Enter))
	b.waitFor(t, "the first page, and the action off without a filter", `document.querySelectorAll('#sessions-table tr.session').length === 200 &&
		document.getElementById('revoke-matching').disabled`)

	dialogs := b.acceptDialogs()
	b.do(t, chromedp.SetValue(chromedp.ID("filter-user"), many), chromedp.Click(chromedp.CSS(`#filters button[type=submit]`)))
	b.waitFor(t, "the user's first page, and the action on", `document.querySelectorAll('#sessions-table tbody').length === 1 &&
		!document.getElementById('revoke-matching').disabled`)
	b.do(t, chromedp.Click(chromedp.ID("revoke-matching")))
	b.waitFor(t, "the feedback", `document.getElementById('feedback').textContent === 'Revoked 251 sessions of 1 user.'`)
	want := fmt.Sprintf("Revoke 251 sessions of 1 user matching these filters (user “%s”)?", many)
	if got := dialogs(); len(got) != 1 || got[0] != want {
		t.Errorf("confirmations %q; want %q", got, want)
	}
	b.waitFor(t, "the rows shown revoked", `[...document.querySelectorAll('#sessions-table tr.session')].every((r) => r.classList.contains('session-revoked'))`)
	if live := f.sessionIDs(t, "s.username = $1 AND s.revoked_at IS NULL", many); len(live) != 0 {
		t.Errorf("%d sessions of %s still live", len(live), many)
	}
	wantUnauthorized(t, f.whoami(t, manyCookie))
	if r := f.whoami(t, otherCookie); r.status != http.StatusOK {
		t.Errorf("another user's session stopped working: %d", r.status)
	}
	b.checkClean(t)
}

// TestAdminPageFilters filters the sessions by address and by state, keeps
// the filters in the address over a reload, shows the reason a session was
// revoked for, and shows the API's refusal of a bad address beside the form.
func TestAdminPageFilters(t *testing.T) {
	chromium := needBrowser(t)
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { c.InsecureCookies = true })
	admin := newBrowserTestRole(t, f, pgtest.UniqueName("page_admin"), "admin pw", true)
	user := newBrowserTestRole(t, f, pgtest.UniqueName("web_user"), "user pw", false)
	// Three logins from three addresses, oldest first (the page lists the
	// newest first); the one from 10.1.0.9 ended with its password.
	id := map[string]string{}
	for _, addr := range []string{"10.1.0.5", "10.1.0.9", "192.0.2.7"} {
		id[addr] = f.login(t, loginForm(user, "user pw")).json(t)["session_id"]
		f.mustExec(t, `UPDATE system.web_sessions SET client_ip = $2::TEXT::INET,
			audit_info = jsonb_set(audit_info, '{client_addr}', to_jsonb($2::TEXT)) WHERE id = $1`, id[addr], addr)
	}
	f.mustExec(t, `UPDATE system.web_sessions SET revoked_at = now(), revoke_reason = 'password changed' WHERE id = $1`, id["10.1.0.9"])
	rowsAre := func(ids ...string) string {
		return fmt.Sprintf(`[...document.querySelectorAll('#sessions-table tr.session')].map((r) => r.dataset.id).join(' ') === '%s'`,
			strings.Join(ids, " "))
	}
	apply := chromedp.Click(chromedp.CSS(`#filters button[type=submit]`))

	b := newBrowser(t, chromium, f.url)
	b.do(t, chromedp.Navigate(f.url+"/admin/sessions"),
		chromedp.SendKeys(chromedp.ID("signin-username"), admin),
		chromedp.SendKeys(chromedp.ID("signin-password"), "admin pw"+kb.Enter))
	b.waitFor(t, "every session", `document.querySelectorAll('#sessions-table tr.session').length === 4`)

	b.do(t, chromedp.SetValue(chromedp.ID("filter-ip"), "10.1.0.0/16"), apply)
	b.waitFor(t, "the two sessions from 10.1.0.0/16", rowsAre(id["10.1.0.9"], id["10.1.0.5"]))
	b.do(t, chromedp.SetValue(chromedp.ID("filter-state"), "revoked"), apply)
	b.waitFor(t, "the revoked one, and why", rowsAre(id["10.1.0.9"])+` && (() => {
		const badge = document.querySelector('#sessions-table tr.session .badge');
		return badge.textContent + badge.nextSibling.textContent === 'revoked (password changed)' &&
			document.getElementById('summary').textContent === '1 session of 1 user · 0 active · revoked, from 10.1.0.0/16';
	})()`)

	b.do(t, chromedp.Reload())
	b.waitFor(t, "the same filters and rows after a reload", rowsAre(id["10.1.0.9"])+` &&
		location.hash === '#sessions?state=revoked&ip=10.1.0.0%2F16' &&
		document.getElementById('filter-ip').value === '10.1.0.0/16' && document.getElementById('filter-state').value === 'revoked'`)

	b.do(t, chromedp.SetValue(chromedp.ID("filter-ip"), "10.1.0.300"), apply)
	b.waitFor(t, "the API's refusal beside the form, and no rows", rowsAre()+` &&
		document.getElementById('filter-error').textContent.startsWith('invalid ip "10.1.0.300": want an IP address') &&
		!document.getElementById('filter-error').hidden &&
		document.getElementById('filter-ip').getAttribute('aria-invalid') === 'true'`)
	b.checkClean(t)
}

// TestAdminPageActivity shows the audit trail in the Activity view: the
// events of a login, a refused login made after the page loaded once the
// admin refreshes, a filter by event type, and the way back to Sessions.
func TestAdminPageActivity(t *testing.T) {
	chromium := needBrowser(t)
	t.Parallel()
	f := newFixture(t, func(c *server.Config) { c.InsecureCookies = true })
	admin := newBrowserTestRole(t, f, pgtest.UniqueName("page_admin"), "admin pw", true)
	user := newBrowserTestRole(t, f, pgtest.UniqueName("web_user"), "user pw", false)
	sessionID := f.login(t, loginForm(user, "user pw"), "User-Agent", "curl/8.5.0").json(t)["session_id"]

	b := newBrowser(t, chromium, f.url)
	b.do(t, chromedp.Navigate(f.url+"/admin/sessions#activity"),
		chromedp.SendKeys(chromedp.ID("signin-username"), admin),
		chromedp.SendKeys(chromedp.ID("signin-password"), "admin pw"+kb.Enter))
	b.waitFor(t, "the activity: the user's login, then the admin's", fmt.Sprintf(`(() => {
		const rows = [...document.querySelectorAll('#activity-rows tr')];
		return !document.getElementById('activity-view').hidden && document.getElementById('sessions-view').hidden &&
			rows.length === 2 && rows[1].querySelector('[data-part="type"]').textContent === 'session.created' &&
			rows[1].querySelector('[data-part="user"]').textContent === '%s' &&
			rows[1].querySelector('[data-part="session"]').textContent === '%s' &&
			rows[1].querySelector('[data-part="client"]').textContent === '127.0.0.1' &&
			rows[1].querySelector('[data-part="detail"]').textContent.startsWith('expires at: ') &&
			document.querySelector('#views a[aria-current="page"]').dataset.view === 'activity';
	})()`, user, sessionID))

	if r := f.login(t, loginForm(user, "wrong")); r.status != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d", r.status)
	}
	b.do(t, chromedp.Click(chromedp.ID("activity-refresh")))
	b.waitFor(t, "the refused login on top", fmt.Sprintf(`(() => {
		const top = document.querySelector('#activity-rows tr');
		return document.querySelectorAll('#activity-rows tr').length === 3 &&
			top.querySelector('[data-part="type"]').textContent === 'login.failed' &&
			top.querySelector('[data-part="user"]').textContent === '%s';
	})()`, user))
	b.do(t, chromedp.SetValue(chromedp.ID("activity-event"), "login.failed"), chromedp.Click(chromedp.CSS(`#activity-filters button[type=submit]`)))
	b.waitFor(t, "only the refused login", `document.querySelectorAll('#activity-rows tr').length === 1 &&
		document.getElementById('activity-summary').textContent === '1 event, newest first · login.failed'`)

	b.do(t, chromedp.Click(chromedp.CSS(`#views a[data-view="sessions"]`)))
	b.waitFor(t, "the sessions view", `!document.getElementById('sessions-view').hidden && document.getElementById('activity-view').hidden &&
		document.querySelectorAll('#sessions-table tr.session').length === 2`)
	b.checkClean(t)
}
