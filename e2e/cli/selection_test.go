package clie2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// selectionFixture is one session of the selection tests, named in its
// audit info's actor so that list's JSON says which it is.
type selectionFixture struct {
	name, user                     string
	createdAgo, expiresIn, usedAgo time.Duration
	revokedAgo                     time.Duration // 0: not revoked
	via, ip, userAgent             string
}

// seedSelection inserts sessions that each flag tells apart, for users
// alice, bob and carol (unique names), and returns the names.
func seedSelection(t *testing.T, dbURL string) (alice, bob, carol string) {
	t.Helper()
	alice = newRole(t, dbURL, "alice", "LOGIN")
	bob = newRole(t, dbURL, "bob", "LOGIN")
	carol = newRole(t, dbURL, "carol", "LOGIN")
	h := time.Hour
	for _, f := range []selectionFixture{
		{"a1", alice, 3 * h, h, time.Minute, 0, "http", "203.0.113.5", "curl/8.5.0"},
		{"a2", alice, 30 * h, -2 * h, 26 * h, 0, "http", "198.51.100.7", "Mozilla/5.0 Firefox/120"},
		{"a3", alice, 240 * h, -72 * h, 216 * h, 0, "cli", "", ""},
		{"b1", bob, h, h, 20 * time.Minute, 10 * time.Minute, "http", "203.0.113.200", "CURL-ish bot"},
		{"b2", bob, 5 * h, 5 * h, 3 * h, 0, "http", "2001:db8::1", "python-requests/2.31"},
		{"c1", carol, 48 * h, 24 * h, 48 * h, 0, "cli", "", ""},
		{"c2", carol, 20 * time.Minute, h, 2 * time.Minute, 0, "http", "192.0.2.1", "weird%_agent"},
	} {
		audit := map[string]string{"via": f.via, "actor": f.name}
		var ip any
		if f.ip != "" {
			audit["client_addr"], audit["user_agent"], ip = f.ip, f.userAgent, f.ip
		}
		auditJSON, _ := json.Marshal(audit)
		var revoked any
		if f.revokedAgo > 0 {
			revoked = f.revokedAgo.Microseconds()
		}
		pgtest.MustExec(t, dbURL, `INSERT INTO system.web_sessions
    (hashed_secret, username, user_id, created_at, expires_at, revoked_at, last_used_at, audit_info, client_ip)
VALUES ('\x00', $1, 10, now() - $2::BIGINT * INTERVAL '1 microsecond', now() + $3::BIGINT * INTERVAL '1 microsecond',
    now() - $4::BIGINT * INTERVAL '1 microsecond', now() - $5::BIGINT * INTERVAL '1 microsecond', $6::JSONB, $7::INET)`,
			f.user, f.createdAgo.Microseconds(), f.expiresIn.Microseconds(), revoked, f.usedAgo.Microseconds(), string(auditJSON), ip)
	}
	return alice, bob, carol
}

// listedNames runs list with args and returns the fixtures it printed, in
// its order.
func listedNames(t *testing.T, dbURL, stdin string, args ...string) []string {
	t.Helper()
	r := runWithStdin(t, dbURL, stdin, append([]string{"list", "--format", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("list %s: %s", strings.Join(args, " "), r)
	}
	var rows []struct{ Actor string }
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("list json: %v\n%s", err, r.stdout)
	}
	var names []string
	for _, row := range rows {
		names = append(names, row.Actor)
	}
	return names
}

func TestSelectionFlags(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	alice, bob, _ := seedSelection(t, dbURL)
	dayAgo := time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		args    []string
		stdin   string
		want    string // the fixtures, space-separated
		ordered bool   // want is in list's order, not sorted
	}{
		{args: nil, want: "a1 a2 a3 b1 b2 c1 c2"},
		{args: []string{"--user", alice}, want: "a1 a2 a3"},
		{args: []string{"--user", alice, "--user", bob}, want: "a1 a2 a3 b1 b2"},
		{args: []string{"--users-from", "-"}, stdin: "# on call\n" + alice + "\n\n" + bob + "\r\n", want: "a1 a2 a3 b1 b2"},
		{args: []string{"--state", "active"}, want: "a1 b2 c1 c2"},
		{args: []string{"--active"}, want: "a1 b2 c1 c2"},
		{args: []string{"--state", "expired"}, want: "a2 a3"},
		{args: []string{"--state", "revoked"}, want: "b1"},
		{args: []string{"--state", "all"}, want: "a1 a2 a3 b1 b2 c1 c2"},
		{args: []string{"--expired-within", "24h"}, want: "a2"},
		{args: []string{"--expired-within", "7d"}, want: "a2 a3"},
		{args: []string{"--created-before", "24h"}, want: "a2 a3 c1"},
		{args: []string{"--created-before", dayAgo}, want: "a2 a3 c1"},
		{args: []string{"--created-after", "4h"}, want: "a1 b1 c2"},
		{args: []string{"--created-after", "4h", "--created-before", "2h"}, want: "a1"},
		{args: []string{"--created-after", "1970-01-01T00:00:00Z"}, want: "a1 a2 a3 b1 b2 c1 c2"},
		{args: []string{"--created-before", "9999-12-31T23:59:59Z"}, want: "a1 a2 a3 b1 b2 c1 c2"},
		{args: []string{"--created-after", "9999-12-31T23:59:59Z"}, want: ""},
		{args: []string{"--idle-for", "1d"}, want: "a2 a3 c1"},
		{args: []string{"--ip", "203.0.113.0/24"}, want: "a1 b1"},
		{args: []string{"--ip", "203.0.113.5"}, want: "a1"},
		{args: []string{"--ip", "::ffff:203.0.113.5"}, want: "a1"},
		{args: []string{"--ip", "2001:db8::/32"}, want: "b2"},
		{args: []string{"--ip", "10.0.0.0/8"}, want: ""},
		{args: []string{"--user-agent", "curl"}, want: "a1 b1"},
		{args: []string{"--user-agent", "%_"}, want: "c2"},
		{args: []string{"--user-agent", "_"}, want: "c2"},
		{args: []string{"--via", "cli"}, want: "a3 c1"},
		{args: []string{"--via", "http", "--state", "active"}, want: "a1 b2 c2"},
		{args: []string{"--order", "last-used", "--desc", "--limit", "3"}, want: "a1 c2 b1", ordered: true},
		{args: []string{"--order", "expires"}, want: "a3 a2 a1 b1 c2 b2 c1", ordered: true},
		{args: []string{"--desc", "--limit", "2"}, want: "c2 b1", ordered: true},
		{args: []string{"--state", "idle", "--idle-timeout", "1d"}, want: "c1"},
		{args: []string{"--state", "active", "--idle-timeout", "1d"}, want: "a1 b2 c2"},
	}
	for _, tt := range tests {
		got := listedNames(t, dbURL, tt.stdin, tt.args...)
		if !tt.ordered {
			slices.Sort(got)
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("list %s = %q, want %q", strings.Join(tt.args, " "), strings.Join(got, " "), tt.want)
		}
	}

	t.Run("idle status under an idle timeout", func(t *testing.T) {
		r := runWithStdin(t, dbURL, "", "list", "--format", "json", "--idle-timeout", "1d", "--via", "cli")
		if r.code != 0 || !strings.Contains(r.stdout, `"status":"idle","revoke_reason":null,"ip":"","user_agent":"","last_ip":"","last_user_agent":"","via":"cli","actor":"c1"`) ||
			!strings.Contains(r.stdout, `"status":"expired","revoke_reason":null,"ip":"","user_agent":"","last_ip":"","last_user_agent":"","via":"cli","actor":"a3"`) {
			t.Errorf("list --idle-timeout 1d: %s\nwant c1 idle and a3 expired", r)
		}
	})

	t.Run("summary takes the selection", func(t *testing.T) {
		r := mustRun(t, dbURL, "list", "--summary", "--ip", "203.0.113.0/24", "--format", "tsv")
		want := fmt.Sprintf("username\tactive\texpired\trevoked\tlast used\n%s\t1\t0\t0\t", alice)
		if !strings.HasPrefix(r.stdout, want) || !strings.Contains(r.stdout, "\n"+bob+"\t0\t0\t1\t") {
			t.Errorf("summary: %s\nwant alice 1 active and bob 1 revoked", r)
		}
	})
}

func TestSelectionBadValues(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	seedSelection(t, dbURL)
	before := tableChecksum(t, dbURL)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--state", "live"}, `invalid --state "live": want one of active, idle, expired, revoked or all`},
		{[]string{"--active", "--state", "revoked"}, `--active and --state revoked exclude each other`},
		{[]string{"--expired-within", "0"}, `invalid --expired-within "0": must be positive`},
		{[]string{"--expired-within", "5x"}, `invalid --expired-within "5x": want a duration`},
		{[]string{"--idle-for", "-1h"}, `invalid --idle-for "-1h"`},
		{[]string{"--created-before", "2026-13-01T00:00:00Z"}, `invalid --created-before "2026-13-01T00:00:00Z": want an RFC 3339 time with a zone`},
		{[]string{"--created-before", "2026-11-30"}, `invalid --created-before "2026-11-30": want an RFC 3339 time with a zone`},
		{[]string{"--created-after", "yesterday"}, `invalid --created-after "yesterday": want an RFC 3339 time`},
		{[]string{"--created-before", "2h", "--created-after", "1h"}, `--created-before 2h and --created-after 1h select nothing`},
		{[]string{"--ip", "203.0.113.0/24", "--created-before", "0001-01-01T00:00:00Z"}, `invalid --created-before "0001-01-01T00:00:00Z": before 1970-01-01T00:00:00Z`},
		{[]string{"--created-after", "1969-12-31T23:59:59Z"}, `invalid --created-after "1969-12-31T23:59:59Z": before 1970-01-01T00:00:00Z`},
		{[]string{"--created-after", "3000w"}, `invalid --created-after "3000w": before 1970-01-01T00:00:00Z`},
		{[]string{"--ip", "300.1.1.1"}, `invalid --ip "300.1.1.1": want an IP address`},
		{[]string{"--ip", "10.0.0.0/33"}, `invalid --ip "10.0.0.0/33"`},
		{[]string{"--ip", "fe80::1%eth0"}, `invalid --ip "fe80::1%eth0"`},
		{[]string{"--user-agent", ""}, `invalid --user-agent "": must not be empty`},
		{[]string{"--user-agent", "a\tb"}, `invalid --user-agent "a\tb": want printable text`},
		{[]string{"--via", "web"}, `invalid --via "web": want cli or http`},
		{[]string{"--state", "idle"}, `--state idle: no idle timeout applies, so no session is idle: set one for every process with 'auth-session settings set idle-timeout DURATION', or give --idle-timeout`},
		{[]string{"--idle-timeout", "30s"}, `invalid --idle-timeout "30s": must be at least 1m0s; or 0 to turn it off`},
		{[]string{"--user", " alice"}, `invalid --user " alice"`},
		{[]string{"--users-from", "/nonexistent/users.txt"}, `--users-from "/nonexistent/users.txt"`},
	}
	for _, cmd := range [][]string{{"list"}, {"revoke", "--yes"}} {
		for _, tt := range tests {
			args := append(slices.Clone(cmd), tt.args...)
			r := run(t, dbURL, args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("auth-session %q: %s\nwant exit 2 and %q", args, r, tt.want)
			}
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "--limit", "0"}, `invalid --limit "0": want a whole number of rows, 1 or more`},
		{[]string{"list", "--limit", "ten"}, `invalid --limit "ten"`},
		{[]string{"list", "--order", "name"}, `invalid --order "name": want one of created, expires, last-used`},
		{[]string{"list", "--summary", "--limit", "3"}, `--summary and --limit exclude each other`},
		{[]string{"revoke"}, `missing SESSION_ID or selection flags`},
		{[]string{"login", "x", "--max-sessions", "-1"}, `invalid --max-sessions "-1": want a whole number from 1 to 100000; or 0 to set no limit`},
		{[]string{"serve", "--insecure", "--idle-timeout", "1m"}, `--touch-interval 1m must be shorter than --idle-timeout 1m`},
		{[]string{"revoke", "--yes", "915681813374959618", "--via", "cli"}, `give SESSION_IDs or selection flags, not both: --via cli`},
		{[]string{"revoke", "--via", "cli"}, `revoke sessions matching --via cli: no terminal to confirm on; pass --yes`},
		{[]string{"revoke", "--yes", "--created-after", "1970-01-01T00:00:00Z"}, `the selection picks every live session`},
		{[]string{"revoke", "--dry-run", "--idle-for", "1s"}, `the selection picks every live session`},
		{[]string{"revoke", "--yes", "--state", "active"}, `log everyone out with 'auth-session logout --all'`},
		{[]string{"revoke", "--yes", "--via", "cli", "--reason", "a\x1b[2Jb"}, `invalid --reason "a\x1b[2Jb": want printable text`},
		{[]string{"logout", "alice", "--reason", "line\nbreak"}, `invalid --reason "line\nbreak": want printable text`},
	} {
		r := run(t, dbURL, tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("auth-session %q: %s\nwant exit 2 and %q", tt.args, r, tt.want)
		}
	}
	if after := tableChecksum(t, dbURL); after != before {
		t.Error("a refused command changed the tables")
	}
}

func TestRevokeBySelection(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	alice, bob, _ := seedSelection(t, dbURL)
	selection := []string{"--ip", "203.0.113.0/24", "--user-agent", "curl", "--user", alice, "--user", bob}

	t.Run("dry run changes nothing", func(t *testing.T) {
		before := tableChecksum(t, dbURL)
		r := mustRun(t, dbURL, append([]string{"revoke", "--dry-run", "--format", "json"}, selection...)...)
		var rows []struct {
			Username   string `json:"username"`
			RevokedNow bool   `json:"revoked_now"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
			t.Fatalf("revoke json: %v\n%s", err, r)
		}
		if len(rows) != 2 || rows[0].Username != alice || !rows[0].RevokedNow || rows[1].Username != bob || rows[1].RevokedNow {
			t.Errorf("dry run printed %+v, want alice's session revoked now and bob's revoked before", rows)
		}
		if want := "dry run: would have revoked 1 session of 1 user (1 was already revoked); nothing was changed\n"; r.stderr != want {
			t.Errorf("stderr = %q, want %q", r.stderr, want)
		}
		if tableChecksum(t, dbURL) != before {
			t.Error("the dry run changed the tables")
		}
	})

	t.Run("revokes the matching sessions alone, with its reason", func(t *testing.T) {
		r := mustRun(t, dbURL, append([]string{"revoke", "--yes", "--reason", "incident 42", "--format", "tsv"}, selection...)...)
		if want := "revoked 1 session of 1 user (1 was already revoked)\n"; r.stderr != want {
			t.Errorf("stderr = %q, want %q", r.stderr, want)
		}
		if got := strings.Join(listedNames(t, dbURL, "", "--state", "revoked"), " "); got != "a1 b1" {
			t.Errorf("revoked after: %q, want a1 b1", got)
		}
		var event, detail string
		queryRow(t, dbURL, `SELECT event || ' ' || username, detail::TEXT FROM system.session_events`, nil, &event, &detail)
		var d struct {
			Reason    string
			Revoked   int
			Selection map[string]any
		}
		wantSelection := map[string]any{"ip": "203.0.113.0/24", "user_agent": "curl", "users": []any{alice, bob}}
		if err := json.Unmarshal([]byte(detail), &d); err != nil || event != "sessions.revoked "+alice ||
			d.Reason != "incident 42" || d.Revoked != 1 || fmt.Sprint(d.Selection) != fmt.Sprint(wantSelection) {
			t.Errorf("event %s %s, want alice's sessions.revoked with count, reason and selection %v", event, detail, wantSelection)
		}
		// events shows the selection as JSON: its users a list.
		r = mustRun(t, dbURL, "events", "--format", "tsv")
		if want := `""selection"":{""ip"":""203.0.113.0/24"",""user_agent"":""curl"",""users"":[""` + alice + `"",""` + bob + `""]}`; !strings.Contains(r.stdout, want) {
			t.Errorf("events: %s\nwant %s", r, want)
		}
	})

	t.Run("again: nothing left to revoke", func(t *testing.T) {
		r := mustRun(t, dbURL, append([]string{"revoke", "--yes", "--format", "tsv"}, selection...)...)
		if want := "revoked 0 sessions of 0 users (2 were already revoked)\n"; r.stderr != want {
			t.Errorf("stderr = %q, want %q", r.stderr, want)
		}
	})
}

// TestLoginMaxSessions: login --max-sessions keeps the user at that many
// live sessions, revoking the least recently used in the same transaction.
func TestLoginMaxSessions(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	user := newRole(t, dbURL, "capped", "LOGIN")
	var ids []string
	for range 3 {
		r := mustRun(t, dbURL, "login", user, "--max-sessions", "2", "--format", "json")
		var out []struct {
			ID string `json:"session_id"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 {
			t.Fatalf("login json: %v\n%s", err, r)
		}
		ids = append(ids, out[0].ID)
	}
	var live, limited string
	queryRow(t, dbURL, `SELECT string_agg(id::TEXT, ' ' ORDER BY id) FROM system.web_sessions WHERE username = $1 AND revoked_at IS NULL`,
		[]any{user}, &live)
	queryRow(t, dbURL, `SELECT string_agg(session_id::TEXT, ' ') FROM system.session_events WHERE event = 'session.revoked' AND detail->>'reason' = 'session limit'`,
		nil, &limited)
	if live != ids[1]+" "+ids[2] || limited != ids[0] {
		t.Errorf("live sessions %q and limit revocations %q; want %s %s live and %s revoked", live, limited, ids[1], ids[2], ids[0])
	}
}
