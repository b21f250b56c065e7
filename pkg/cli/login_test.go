package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/auth"
)

// cookieLine is a login's cookie: session=<base64>; Path=/; HttpOnly[; Secure].
var (
	secureCookie   = regexp.MustCompile(`^session=([A-Za-z0-9+/]+=*); Path=/; HttpOnly; Secure$`)
	insecureCookie = regexp.MustCompile(`^session=([A-Za-z0-9+/]+=*); Path=/; HttpOnly$`)
)

// loginRow is what one login printed.
type loginRow struct {
	Username  string `json:"username"`
	SessionID string `json:"session_id"`
	Cookie    string `json:"cookie"`
}

// parseLogin reads the one row of a login's output in format.
func parseLogin(t testing.TB, format, out string) loginRow {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var cells []string
	switch format {
	case "tsv":
		if len(lines) != 2 || lines[0] != "username\tsession ID\tauthentication cookie" {
			t.Fatalf("tsv output: want a header and one row, got:\n%s", out)
		}
		cells = strings.Split(lines[1], "\t")
	case "table":
		if len(lines) != 4 || !regexp.MustCompile(`^-+\+-+\+-+$`).MatchString(lines[1]) || lines[3] != "(1 row)" {
			t.Fatalf("table output: want header, rule, one row and (1 row), got:\n%s", out)
		}
		for _, c := range strings.Split(lines[2], "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
	case "json":
		var rows []loginRow
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("json output: want an array of one object (err %v), got:\n%s", err, out)
		}
		return rows[0]
	default:
		t.Fatalf("parseLogin: format %q not supported", format)
	}
	if len(cells) != 3 {
		t.Fatalf("want 3 columns, got %q in:\n%s", cells, out)
	}
	return loginRow{Username: cells[0], SessionID: cells[1], Cookie: cells[2]}
}

// storedSession is what the database holds about one session.
type storedSession struct {
	username, audit      string
	userID               int64
	hashed               []byte
	created, expires     time.Time
	revoked              *time.Time
	lastUsed             time.Time
	asText, eventsAsText string
}

func mustStoredSession(t testing.TB, dbURL string, id int64) storedSession {
	t.Helper()
	var s storedSession
	mustQueryRow(t, dbURL, `SELECT username, user_id, hashed_secret, created_at, expires_at, revoked_at,
    last_used_at, audit_info::text, s::text,
    (SELECT COALESCE(string_agg(e::text, E'\n'), '') FROM system.session_events e)
FROM system.web_sessions s WHERE id = $1`, []any{id},
		&s.username, &s.userID, &s.hashed, &s.created, &s.expires, &s.revoked, &s.lastUsed, &s.audit, &s.asText, &s.eventsAsText)
	return s
}

// checkLoginRow checks a printed login against the database: the cookie
// carries the printed id, its secret hashes to the stored hash, and the
// secret itself is stored nowhere.
func checkLoginRow(t testing.TB, dbURL string, row loginRow, wantUser string, secure bool) {
	t.Helper()
	if row.Username != wantUser {
		t.Errorf("username = %q, want %q", row.Username, wantUser)
	}
	re := secureCookie
	if !secure {
		re = insecureCookie
	}
	m := re.FindStringSubmatch(row.Cookie)
	if m == nil {
		t.Fatalf("cookie %q does not match %s", row.Cookie, re)
	}
	id, secret, err := auth.DecodeValue(m[1])
	if err != nil {
		t.Fatalf("decode cookie value %q: %v", m[1], err)
	}
	if strconv.FormatInt(id, 10) != row.SessionID {
		t.Errorf("cookie holds session %d, output says %s", id, row.SessionID)
	}
	if len(secret) < 16 {
		t.Errorf("secret has %d bytes, want at least 16", len(secret))
	}
	s := mustStoredSession(t, dbURL, id)
	if !bytes.Equal(s.hashed, auth.HashSecret(secret)) {
		t.Errorf("hashed_secret = %x, want SHA-256 of the cookie's secret %x", s.hashed, auth.HashSecret(secret))
	}
	if s.username != wantUser {
		t.Errorf("stored username = %q, want %q", s.username, wantUser)
	}
	for _, enc := range encodings(secret) {
		if strings.Contains(s.asText, enc) || strings.Contains(s.eventsAsText, enc) {
			t.Errorf("the secret (%s) is stored in the database:\n%s\n%s", enc, s.asText, s.eventsAsText)
		}
	}
	var audit map[string]string
	if err := json.Unmarshal([]byte(s.audit), &audit); err != nil || audit["via"] != "cli" || audit["client_host"] != "test-host" || audit["actor"] == "" {
		t.Errorf("audit_info = %s (err %v), want via cli, an actor and client_host test-host", s.audit, err)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	tests := []struct {
		name   string
		args   []string
		tty    terminals
		format string
		secure bool
	}{
		{name: "pipe gets tsv", args: nil, format: "tsv", secure: true},
		{name: "terminal gets a table", tty: terminals{out: true, err: true}, format: "table", secure: true},
		{name: "insecure drops Secure", args: []string{"--insecure"}, format: "tsv"},
		{name: "json", args: []string{"--format", "json"}, format: "json", secure: true},
		{name: "table insecure", args: []string{"--format=table", "--insecure"}, format: "table"},
		{name: "flags before the user", args: []string{"--expire-after", "2h", "--format", "json"}, format: "json", secure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLITerm(t, tt.tty, append(append([]string{"login", user}, tt.args...), "--url", dbURL)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
			if r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			row := parseLogin(t, tt.format, r.stdout)
			checkLoginRow(t, dbURL, row, user, tt.secure)
			// The secret shows only inside the cookie.
			_, secret, _ := auth.DecodeValue(strings.TrimPrefix(strings.SplitN(row.Cookie, ";", 2)[0], "session="))
			rest := strings.Replace(r.stdout, row.Cookie, "", 1)
			for _, enc := range append(encodings(secret), encodings(auth.HashSecret(secret))...) {
				if strings.Contains(rest, enc) {
					t.Errorf("output holds the secret or its hash outside the cookie:\n%s", r.stdout)
				}
			}
		})
	}
	if n := mustCount(t, dbURL, "system.session_events WHERE event = 'session.created' AND username = $1", user); n != len(tests) {
		t.Errorf("%d session.created events, want %d", n, len(tests))
	}
}

func TestLoginExpireAfter(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	tests := []struct {
		flag string
		want time.Duration
	}{
		{"", time.Hour},
		{"4h30m", 4*time.Hour + 30*time.Minute},
		{"90m", 90 * time.Minute},
		{"7d", 7 * 24 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		{"1s", time.Second},
		{"1h0m0s", time.Hour},
		{"30d", 30 * 24 * time.Hour}, // the cap, max-session-lifetime's default
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			args := []string{"login", user, "--format", "json", "--url", dbURL}
			if tt.flag != "" {
				args = append(args, "--expire-after="+tt.flag)
			}
			row := parseLogin(t, "json", mustRun(t, args...).stdout)
			id, _ := strconv.ParseInt(row.SessionID, 10, 64)
			s := mustStoredSession(t, dbURL, id)
			if got := s.expires.Sub(s.created); got != tt.want {
				t.Errorf("expires_at - created_at = %v, want exactly %v", got, tt.want)
			}
			if !s.lastUsed.Equal(s.created) || s.revoked != nil {
				t.Errorf("new session: last_used_at %v revoked_at %v, want created_at %v and NULL", s.lastUsed, s.revoked, s.created)
			}
		})
	}
}

// TestLoginUsesDatabaseClock shows that expiry comes from the database's
// now(), not the client's: the test clock is in 2022, the rows are not.
func TestLoginUsesDatabaseClock(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	row := parseLogin(t, "json", mustRun(t, "login", user, "--format=json", "--url", dbURL).stdout)
	var inPast bool
	mustQueryRow(t, dbURL, `SELECT created_at < now() - INTERVAL '1 minute' OR expires_at <= now() FROM system.web_sessions WHERE id = $1`,
		[]any{row.SessionID}, &inPast)
	if inPast {
		t.Errorf("session %s was dated by the client clock (%v), not the database's", row.SessionID, testNow)
	}
}

// Unquoted names fold to lower case; a quoted one is taken as it is. Names
// with whitespace at either end are refused (TestLoginBadInput).
func TestLoginNormalisesUsername(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	for _, arg := range []string{strings.ToUpper(user), "Web_User" + strings.TrimPrefix(user, "web_user"), `"` + user + `"`} {
		t.Run(arg, func(t *testing.T) {
			row := parseLogin(t, "tsv", mustRun(t, "login", arg, "--url", dbURL).stdout)
			checkLoginRow(t, dbURL, row, user, true)
		})
	}
}

func TestLoginRoleValidUntil(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	for _, validUntil := range []string{"infinity", "2999-01-01"} {
		t.Run(validUntil, func(t *testing.T) {
			user := mustCreateRole(t, dbURL, "web_user", "LOGIN VALID UNTIL '"+validUntil+"'")
			row := parseLogin(t, "tsv", mustRun(t, "login", user, "--url", dbURL).stdout)
			checkLoginRow(t, dbURL, row, user, true)
		})
	}
}

func TestLoginOnlyCookie(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	tests := []struct {
		name       string
		args       []string
		tty        terminals
		secure     bool
		wantStderr string // a regexp; empty means nothing at all
	}{
		{name: "pipes", secure: true},
		{name: "stdout is a terminal", tty: terminals{out: true}, secure: true},
		{name: "stderr is a terminal", tty: terminals{err: true}, secure: true,
			wantStderr: `(?s)^hint: .*curl --cookie "\$\(auth-session login ` + user + ` --only-cookie\)" URL\n.*--cookie-jar`},
		{name: "insecure", args: []string{"--insecure"}},
		{name: "format is ignored", args: []string{"--format", "json"}, secure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLITerm(t, tt.tty, append([]string{"login", user, "--only-cookie", "--url", dbURL}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
			}
			if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "\n") {
				t.Fatalf("stdout = %q, want exactly one line", r.stdout)
			}
			cookie := strings.TrimSuffix(r.stdout, "\n")
			id, _, err := auth.DecodeValue(strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "session="))
			if err != nil {
				t.Fatalf("decode %q: %v", cookie, err)
			}
			checkLoginRow(t, dbURL, loginRow{Username: user, SessionID: strconv.FormatInt(id, 10), Cookie: cookie}, user, tt.secure)
			switch {
			case tt.wantStderr == "" && r.stderr != "":
				t.Errorf("stderr = %q, want nothing", r.stderr)
			case tt.wantStderr != "" && !regexp.MustCompile(tt.wantStderr).MatchString(r.stderr):
				t.Errorf("stderr = %q, want it to match %s", r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestLoginCookieJar(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	for _, secure := range []bool{true, false} {
		t.Run("secure="+strconv.FormatBool(secure), func(t *testing.T) {
			jar := filepath.Join(t.TempDir(), "jar.txt")
			// A file already there with looser permissions is replaced.
			if err := os.WriteFile(jar, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"login", user, "--only-cookie", "--cookie-jar", jar, "--url", dbURL}
			if !secure {
				args = append(args, "--insecure")
			}
			cookie := strings.TrimSuffix(mustRun(t, args...).stdout, "\n")
			value := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "session=")
			id, _, err := auth.DecodeValue(value)
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(jar)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("jar mode = %v, want 0600", st.Mode().Perm())
			}
			body, err := os.ReadFile(jar)
			if err != nil {
				t.Fatal(err)
			}
			s := mustStoredSession(t, dbURL, id)
			var cookies []string
			for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
				if strings.HasPrefix(line, "#") {
					continue
				}
				cookies = append(cookies, line)
				f := strings.Split(line, "\t")
				if len(f) != 7 {
					t.Fatalf("jar line %q: want 7 tab-separated fields", line)
				}
				want := []string{f[0], "FALSE", "/", strings.ToUpper(strconv.FormatBool(secure)), strconv.FormatInt(s.expires.Unix(), 10), "session", value}
				if strings.Join(f, "\t") != strings.Join(want, "\t") {
					t.Errorf("jar line = %q, want %q", line, strings.Join(want, "\t"))
				}
			}
			if !strings.HasPrefix(string(body), "# Netscape HTTP Cookie File\n") || len(cookies) == 0 {
				t.Errorf("jar = %q, want a Netscape cookie file with the cookie", body)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(jar), ".cookie-jar-*")); len(leftovers) > 0 {
				t.Errorf("temporary files left behind: %v", leftovers)
			}
		})
	}
}

// loginValue matches the secret part of a cookie value whose first twelve
// characters, the version and session id, are fixed by the golden test.
var loginValue = regexp.MustCompile(`(session=[A-Za-z0-9+/]{12})[A-Za-z0-9+/]{43}=`)

func TestLoginGolden(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	// A fixed id, the seed's, makes everything but the secret deterministic;
	// this database is the test's own.
	pgtest.MustExec(t, dbURL, `ALTER TABLE system.web_sessions ALTER COLUMN id SET DEFAULT 784445853689282561`)
	user := mustCreateRole(t, dbURL, "web_user", "LOGIN")
	suffix := regexp.MustCompile(regexp.QuoteMeta(user))
	normalize := func(out string) string {
		out = suffix.ReplaceAllString(out, "web_user_xxxxxxxx")
		return loginValue.ReplaceAllString(out, "${1}SECRETxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=")
	}
	cases := map[string][]string{"only-cookie": {"--only-cookie"}, "table-insecure": {"--format=table", "--insecure"}}
	for _, f := range outputFormats {
		cases[f] = []string{"--format", f}
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			pgtest.MustExec(t, dbURL, `DELETE FROM system.web_sessions`)
			out := mustRun(t, append([]string{"login", user, "--url", dbURL}, args...)...).stdout
			if !loginValue.MatchString(out) {
				t.Fatalf("no cookie value in output:\n%s", out)
			}
			ext := goldenExt(name)
			if name == "only-cookie" || name == "table-insecure" {
				ext = "txt"
			}
			checkGolden(t, "login-"+name+"."+ext, normalize(out))
		})
	}
}
