package cli

import (
	"context"
	"encoding/json"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// eventRow is one row of events --format json.
type eventRow struct {
	At        string  `json:"at"`
	Event     string  `json:"event"`
	Actor     string  `json:"actor"`
	Username  string  `json:"username"`
	SessionID *string `json:"session_id"`
	Via       string  `json:"via"`
	Client    string  `json:"client_addr"`
	// Detail is a JSON object, not a string holding one.
	Detail json.RawMessage `json:"detail"`
}

func parseEvents(t testing.TB, out string) []eventRow {
	t.Helper()
	var rows []eventRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("events json output: %v\n%s", err, out)
	}
	return rows
}

func TestEventsRecordEveryChange(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "ev_user", "LOGIN")
	other := mustCreateRole(t, dbURL, "ev_other", "LOGIN")

	login := parseLogin(t, "json", mustRun(t, "login", user, "--format", "json", "--url", dbURL).stdout)
	mustRun(t, "login", user, "--url", dbURL)
	mustRun(t, "login", other, "--url", dbURL)
	mustRun(t, "revoke", login.SessionID, "--yes", "--url", dbURL)
	mustRun(t, "logout", user, "--url", dbURL)
	mustRun(t, "logout", user, "--url", dbURL) // nothing left to revoke: no event
	// Failed changes write nothing.
	runCLI(t, "login", "no_such_role_for_events", "--url", dbURL)
	runCLI(t, "revoke", "1", "--yes", "--url", dbURL)

	r := mustRun(t, "events", "--user", user, "--format", "json", "--url", dbURL)
	rows := parseEvents(t, r.stdout)
	var got []string
	for _, e := range rows {
		got = append(got, e.Event)
		if e.Username != user || e.Via != "cli" || e.Actor != "postgres" && e.Actor == "" || e.Client != "test-host" {
			t.Errorf("event %+v: want username %s, via cli, an actor, client test-host", e, user)
		}
	}
	want := "session.created session.created session.revoked user.logged_out"
	if strings.Join(got, " ") != want {
		t.Fatalf("events of %s = %v, want %s", user, got, want)
	}
	if rows[0].SessionID == nil || *rows[0].SessionID != login.SessionID {
		t.Errorf("session.created names session %v, want %s", rows[0].SessionID, login.SessionID)
	}
	if rows[3].SessionID != nil || string(rows[3].Detail) != `{"keep_current":false,"revoked":1}` {
		t.Errorf("user.logged_out = %+v, detail %s; want no session id and the object {\"keep_current\":false,\"revoked\":1}", rows[3], rows[3].Detail)
	}
	// ndjson carries the same object; the text formats its JSON text.
	ndjson := mustRun(t, "events", "--user", user, "--format", "ndjson", "--url", dbURL).stdout
	if !strings.Contains(ndjson, `"detail":{"keep_current":false,"revoked":1}}`) {
		t.Errorf("events --format ndjson: want detail as an object:\n%s", ndjson)
	}
	tsv := mustRun(t, "events", "--user", user, "--format", "tsv", "--url", dbURL).stdout
	if !strings.Contains(tsv, "\t\"{\"\"keep_current\"\":false,\"\"revoked\"\":1}\"\n") {
		t.Errorf("events --format tsv: want detail as its JSON text, quoted:\n%s", tsv)
	}

	all := parseEvents(t, mustRun(t, "events", "--format", "json", "--url", dbURL).stdout)
	if len(all) != 5 {
		t.Errorf("all events = %d, want 5 (4 of %s, 1 of %s)", len(all), user, other)
	}
	recent := parseEvents(t, mustRun(t, "events", "--since", "1h", "--format", "json", "--url", dbURL).stdout)
	if len(recent) != 5 {
		t.Errorf("events --since 1h = %d, want 5", len(recent))
	}
	pgtestExecOld(t, dbURL)
	recent = parseEvents(t, mustRun(t, "events", "--since", "1h", "--format", "json", "--url", dbURL).stdout)
	if len(recent) != 4 {
		t.Errorf("events --since 1h after ageing one = %d, want 4", len(recent))
	}
	checkNoSecretsInEvents(t, dbURL, login.Cookie)
}

// pgtestExecOld moves the oldest event two hours back.
func pgtestExecOld(t testing.TB, dbURL string) {
	t.Helper()
	conn := mustConnect(t, dbURL)
	ctx := t.Context()
	if _, err := conn.Exec(ctx, `UPDATE system.session_events SET at = at - INTERVAL '2 hours'
WHERE id = (SELECT id FROM system.session_events ORDER BY at, id LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
}

// checkNoSecretsInEvents fails when any stored event holds the cookie value.
func checkNoSecretsInEvents(t testing.TB, dbURL, cookie string) {
	t.Helper()
	value := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "session=")
	if n := mustCount(t, dbURL, "system.session_events e WHERE e::text LIKE '%' || $1 || '%'", value); n != 0 {
		t.Errorf("%d events hold the session cookie value", n)
	}
}

func TestEventsBadInput(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	for _, args := range [][]string{
		{"events", "--since", "0"},
		{"events", "--since", "yesterday"},
		{"events", "--user", ""},
		{"events", "extra"},
	} {
		r := runCLI(t, append(args, "--url", dbURL)...)
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "ERROR: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want a usage error", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestParseEventsFlags: what the filter flags of events become.
func TestParseEventsFlags(t *testing.T) {
	conn := ConnOptions{URL: parseURL, Schema: sql.DefaultSchema}
	got, code, stderr := parse(t, "events", "--user", "Alice", "--event", "session.created", "--event", "login.failed",
		"--session", "917162776906956801", "--ip", "::ffff:203.0.113.0/120", "--actor", "root", "--since", "2022-09-01 12:00:00",
		"--until", "1h", "--format", "ndjson", "--url", parseURL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	opts := got.(eventsOptions)
	opts.env = nil
	want := eventsOptions{conn: conn, format: format.NDJSON, filter: sql.EventFilter{
		Username: "Alice", Events: []string{"session.created", "login.failed"}, SessionID: 917162776906956801,
		Network: netip.MustParsePrefix("203.0.113.0/24"), Actor: "root",
		Since: sql.Instant{At: time.Date(2022, 9, 1, 12, 0, 0, 0, time.UTC)}, Until: sql.Instant{Ago: time.Hour},
	}}
	if !reflect.DeepEqual(opts, want) {
		t.Errorf("options\n%+v\nwant\n%+v", opts, want)
	}
	got, code, stderr = parse(t, "events", "-f", "--since", "10m", "--url", parseURL)
	if opts := got.(eventsOptions); code != 0 || !opts.follow || opts.filter.Since != (sql.Instant{Ago: 10 * time.Minute}) {
		t.Errorf("events -f --since 10m: exit %d, %+v, %s", code, got, stderr)
	}
}

// TestParseEventsErrors: each bad value is exit 2 naming it and what is
// accepted, before anything connects.
func TestParseEventsErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--event", "session.deleted"}, `ERROR: invalid --event "session.deleted": want one of session.created, session.revoked, sessions.revoked, user.logged_out, user.locked, user.unlocked, login.failed, login.locked, login.throttled, throttle.cleared, retention.batch, retention.purged`},
		{[]string{"--event", ""}, `ERROR: invalid --event "": want one of session.created,`},
		{[]string{"--session", "0"}, `ERROR: invalid --session "0": want a session id, a whole number from 1 up, as list prints it`},
		{[]string{"--session", "-5"}, `ERROR: invalid --session "-5": want a session id`},
		{[]string{"--session", "abc"}, `ERROR: invalid --session "abc": want a session id`},
		{[]string{"--session", "+5"}, `ERROR: invalid --session "+5": want a session id`},
		{[]string{"--ip", "300.1.1.1"}, `ERROR: invalid --ip "300.1.1.1": want an IP address (203.0.113.7, 2001:db8::1) or a network in CIDR notation`},
		{[]string{"--actor", " root"}, `ERROR: invalid --actor " root": whitespace at either end`},
		{[]string{"--until", "soon"}, `ERROR: invalid --until "soon": want an RFC 3339 time`},
		{[]string{"--since", "1h", "--until", "2h"}, `ERROR: --until 2h is not later than --since 1h: no event is in between`},
		{[]string{"--since", "2022-08-30T12:00:00Z", "--until", "2022-08-30 11:00:00"}, `ERROR: --until 2022-08-30 11:00:00 is not later than --since 2022-08-30T12:00:00Z`},
		{[]string{"--follow", "--until", "1h"}, `ERROR: --follow and --until exclude each other: --follow prints events until interrupted`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ran, code, stderr := parse(t, append(append([]string{"events"}, tt.args...), "--url", parseURL)...)
			if code != ExitUsage || !strings.HasPrefix(stderr, tt.want) || ran != nil {
				t.Errorf("exit %d, stderr %q, ran %v; want exit 2, %q, not run", code, stderr, ran != nil, tt.want)
			}
		})
	}
}

// TestEventsFilters narrows a real trail by each new flag.
func TestEventsFilters(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "ev_user", "LOGIN")
	other := mustCreateRole(t, dbURL, "ev_other", "LOGIN")
	first := parseLogin(t, "json", mustRun(t, "login", user, "--format", "json", "--url", dbURL).stdout)
	mustRun(t, "login", other, "--url", dbURL)
	mustRun(t, "revoke", first.SessionID, "--yes", "--url", dbURL)
	conn := mustConnect(t, dbURL)
	if _, err := conn.Exec(t.Context(), `INSERT INTO system.session_events (event, actor, username, via, client_addr, client_ip)
VALUES ('login.failed', '', $1, 'http', '192.0.2.10', '192.0.2.10')`, other); err != nil {
		t.Fatal(err)
	}
	names := func(args ...string) string {
		t.Helper()
		var out []string
		for _, e := range parseEvents(t, mustRun(t, append(append([]string{"events", "--format", "json"}, args...), "--url", dbURL)...).stdout) {
			out = append(out, e.Event+"/"+strings.TrimPrefix(strings.TrimPrefix(e.Username, user), other))
		}
		return strings.Join(out, " ")
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--session", first.SessionID}, "session.created/ session.revoked/"},
		{[]string{"--event", "session.created"}, "session.created/ session.created/"},
		{[]string{"--event", "session.revoked", "--event", "login.failed"}, "session.revoked/ login.failed/"},
		{[]string{"--ip", "192.0.2.0/24"}, "login.failed/"},
		{[]string{"--actor", "postgres", "--user", other}, "session.created/"},
		{[]string{"--since", "1h", "--until", "2999-01-01T00:00:00Z", "--event", "login.failed"}, "login.failed/"},
		{[]string{"--until", "1h"}, ""},
	} {
		if got := names(tt.args...); got != tt.want {
			t.Errorf("events %s: %q, want %q", strings.Join(tt.args, " "), got, tt.want)
		}
	}
	// Each row carries the event's id.
	rows := mustRun(t, "events", "--session", first.SessionID, "--format", "ndjson", "--url", dbURL).stdout
	if !regexp.MustCompile(`^\{"id":"[0-9]+","at":`).MatchString(rows) {
		t.Errorf("events --format ndjson: want each object to start with the event's id as text:\n%s", rows)
	}
}

// TestEventsUserAsListed: events --user and --actor take a name as events
// prints it, as list --user does, not folded to lower case as SQL folds an
// unquoted name; in double quotes as SQL writes it too.
func TestEventsUserAsListed(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	mixed := "Ev" + pgtest.UniqueName("mixed")
	pgtest.MustExec(t, dbURL, "CREATE ROLE "+pgx.Identifier{mixed}.Sanitize()+" LOGIN")
	t.Cleanup(func() { pgtest.MustExec(t, pgtest.AdminURL(), "DROP ROLE IF EXISTS "+pgx.Identifier{mixed}.Sanitize()) })
	mustRun(t, "login", pgx.Identifier{mixed}.Sanitize(), "--url", dbURL)
	for _, user := range []string{mixed, pgx.Identifier{mixed}.Sanitize()} {
		events := parseEvents(t, mustRun(t, "events", "--user", user, "--format", "json", "--url", dbURL).stdout)
		if len(events) != 1 || events[0].Username != mixed || events[0].Event != "session.created" {
			t.Errorf("events --user %s: %+v, want the login's session.created of %s", user, events, mixed)
		}
	}
}

// TestEventsFollow runs events --follow as serve's operators would, with
// ndjson: a login appears as one line, the follower's backend is
// terminated while a logout is written, the logout still appears, once,
// stderr says what happened, and cancelling (Ctrl-C) ends it with exit 0
// and a complete output.
func TestEventsFollow(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user := mustCreateRole(t, dbURL, "follow_user", "LOGIN")
	app := pgtest.UniqueName("follow")
	followURL := dbURL + "&application_name=" + app
	if !strings.Contains(dbURL, "?") {
		followURL = dbURL + "?application_name=" + app
	}
	env, _, _ := newEnv(terminals{})
	out, errOut := newLineBuffer(), newLineBuffer()
	env.IO.Out, env.IO.Err = out, errOut
	ctx, cancel := context.WithCancel(t.Context())
	code := make(chan int, 1)
	go func() {
		code <- Main(ctx, []string{"auth-session", "events", "--follow", "--format", "ndjson", "--user", user, "--url", followURL}, env)
	}()
	defer cancel()
	waitForBackend(t, dbURL, app, "SELECT pg_current_snapshot()")

	login := parseLogin(t, "json", mustRun(t, "login", user, "--format", "json", "--url", dbURL).stdout)
	line := out.next(t, "the login's event")
	if !strings.Contains(line, `"event":"session.created"`) || !strings.Contains(line, `"session_id":"`+login.SessionID+`"`) {
		t.Fatalf("first line %s, want the login's session.created", line)
	}
	mustQueryRow(t, dbURL, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", []any{app}, new(int))
	mustRun(t, "logout", user, "--url", dbURL)
	lost := errOut.next(t, "the message of the outage")
	if !strings.HasPrefix(lost, "events: no connection to the database (FATAL: terminating connection due to administrator command (SQLSTATE 57P01)); trying again in ") {
		t.Errorf("stderr: %q", lost)
	}
	line = out.next(t, "the logout's event")
	if !strings.Contains(line, `"event":"user.logged_out"`) {
		t.Errorf("second line %s, want the logout's user.logged_out", line)
	}
	if back := errOut.next(t, "the message of the reconnection"); !strings.HasPrefix(back, "events: connected again after ") {
		t.Errorf("stderr: %q", back)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d after the interrupt, want 0; stderr:\n%s", c, errOut.all())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("events --follow did not end within 30s of its interrupt")
	}
	if rest := out.all(); strings.Count(rest, "\n") != 2 {
		t.Errorf("output: want the two events, each once:\n%s", rest)
	}
}

// TestEventsFollowAsksOnce: a follow whose password was typed at its
// start connects again after an outage with that password, without
// asking for it a second time.
func TestEventsFollowAsksOnce(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	role, roleURL := passwordRole(t, dbURL, "follow-pw")
	app := pgtest.UniqueName("followpw")
	env, _, _ := terminalEnv("follow-pw\n")
	out, errOut := newLineBuffer(), newLineBuffer()
	env.IO.Out, env.IO.Err = out, errOut
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- Main(ctx, []string{"auth-session", "events", "--follow", "--format", "ndjson", "--url", roleURL + "&application_name=" + app}, env)
	}()
	waitForBackend(t, dbURL, app, "SELECT pg_current_snapshot()")
	mustQueryRow(t, dbURL, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", []any{app}, new(int))
	for {
		line := errOut.next(t, "the reconnection")
		if strings.HasPrefix(line, "events: connected again after ") {
			break
		}
		if strings.Contains(line, "Password for user") && strings.Count(errOut.all(), "Password for user") > 1 {
			t.Fatalf("asked for the password again after the outage:\n%s", errOut.all())
		}
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("exit %d after the interrupt, want 0; stderr:\n%s", c, errOut.all())
	}
	if n := strings.Count(errOut.all(), "Password for user "+role); n != 1 || strings.Contains(errOut.all(), "follow-pw") {
		t.Errorf("stderr:\n%s\nwant one prompt, and not the password", errOut.all())
	}
}

// lineBuffer is an output whose lines a test reads as they are written.
type lineBuffer struct {
	mu    sync.Mutex
	buf   strings.Builder
	read  int
	wrote chan struct{}
}

func newLineBuffer() *lineBuffer { return &lineBuffer{wrote: make(chan struct{}, 1)} }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *lineBuffer) all() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// next returns the next whole line written, without its newline.
func (b *lineBuffer) next(t *testing.T, what string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		b.mu.Lock()
		rest := b.buf.String()[b.read:]
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			b.read += i + 1
			b.mu.Unlock()
			return rest[:i]
		}
		b.mu.Unlock()
		select {
		case <-b.wrote:
		case <-deadline:
			t.Fatalf("waiting for %s: no line within 30s; written so far:\n%s", what, b.all())
		}
	}
}

// waitForBackend waits until the backend of application app is idle after
// a statement starting with query.
func waitForBackend(t *testing.T, dbURL, app, query string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		mustQueryRow(t, dbURL, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle' AND query LIKE $2`,
			[]any{app, query + "%"}, &n)
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no idle backend of %s after %s... within 30s", app, query)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
