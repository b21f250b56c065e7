package clie2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// tableChecksum is a digest of every row of the session, logout and event
// tables.
func tableChecksum(t *testing.T, dbURL string) string {
	t.Helper()
	var sum string
	queryRow(t, dbURL, `SELECT md5(
    (SELECT COALESCE(string_agg(s::text, ',' ORDER BY id), '') FROM system.web_sessions s) ||
    (SELECT COALESCE(string_agg(l::text, ',' ORDER BY username), '') FROM system.web_session_logouts l) ||
    (SELECT COALESCE(string_agg(e::text, ',' ORDER BY id), '') FROM system.session_events e))`, nil, &sum)
	return sum
}

// mintSessions gives each user n live sessions, straight in the table.
func mintSessions(t *testing.T, dbURL string, users []string, n int) {
	t.Helper()
	pgtest.MustExec(t, dbURL, `INSERT INTO system.web_sessions (hashed_secret, username, user_id, expires_at)
SELECT '\x00', u, 10, now() + INTERVAL '1 hour' FROM unnest($1::TEXT[]) u, generate_series(1, $2::INT)`, users, n)
}

func TestBulkLogout(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	alice := newRole(t, dbURL, "alice", "LOGIN")
	bob := newRole(t, dbURL, "bob", "LOGIN")
	carol := newRole(t, dbURL, "carol", "LOGIN")
	mintSessions(t, dbURL, []string{alice, bob, carol}, 3)
	// One of bob's was revoked before.
	pgtest.MustExec(t, dbURL, `UPDATE system.web_sessions SET revoked_at = now() - INTERVAL '1 day'
WHERE id = (SELECT min(id) FROM system.web_sessions WHERE username = $1)`, bob)

	t.Run("dry run changes nothing", func(t *testing.T) {
		before := tableChecksum(t, dbURL)
		r := mustRun(t, dbURL, "logout", alice, bob, "--dry-run", "--format", "tsv")
		if got := strings.Count(r.stdout, "\n") - 1; got != 6 ||
			r.stderr != "dry run: would have revoked 5 sessions of 2 users (1 was already revoked); nothing was changed\n" {
			t.Errorf("dry run: %s\nwant 6 rows and the would-have summary", r)
		}
		if after := tableChecksum(t, dbURL); after != before {
			t.Error("the dry run changed the tables")
		}
	})

	t.Run("several names, one transaction, a reason", func(t *testing.T) {
		typo := pgtest.UniqueName("typo")
		r := mustRun(t, dbURL, "logout", alice, bob, typo, alice, "--reason", "incident 42", "--ignore-missing", "--format", "json")
		if strings.Count(r.stdout, `"revoked_now":true`) != 5 || strings.Count(r.stdout, `"revoked_now":false`) != 1 {
			t.Errorf("logout of two users: %s\nwant 5 sessions revoked now and 1 before", r)
		}
		wantStderr := fmt.Sprintf("warning: no role named %q and no sessions of it; nothing was revoked\n"+
			"revoked 5 sessions of 2 users (1 was already revoked)\n", typo)
		if r.stderr != wantStderr {
			t.Errorf("stderr %q, want %q", r.stderr, wantStderr)
		}
		var events, withReason int
		var distinctAt int
		queryRow(t, dbURL, `SELECT count(*), count(*) FILTER (WHERE detail->>'reason' = 'incident 42'),
    (SELECT count(DISTINCT revoked_at) FROM system.web_sessions WHERE username = ANY($1) AND revoked_at > now() - INTERVAL '1 hour')
FROM system.session_events WHERE event = 'user.logged_out'`, []any{[]string{alice, bob}}, &events, &withReason, &distinctAt)
		if events != 2 || withReason != 2 || distinctAt != 1 {
			t.Errorf("%d user.logged_out events, %d with the reason, %d revocation instants; want 2, 2 and 1 (one transaction)",
				events, withReason, distinctAt)
		}
		var carolLive int
		queryRow(t, dbURL, `SELECT count(*) FROM system.web_sessions WHERE username = $1 AND revoked_at IS NULL`, []any{carol}, &carolLive)
		if carolLive != 3 {
			t.Errorf("carol has %d live sessions, want her 3 untouched", carolLive)
		}
	})

	t.Run("names from a pipe", func(t *testing.T) {
		r := runWithStdin(t, dbURL, "# who was on call\n\n"+carol+"\r\n", "logout", "--users-from", "-", "--format", "tsv")
		if r.code != 0 || strings.Count(r.stdout, carol) != 3 {
			t.Errorf("logout --users-from - : %s", r)
		}
	})
}

// A logout of a thousand users that fails on the last step (an induced
// error writing one user's event) changes nothing at all.
func TestBulkLogoutFailingPartWayChangesNothing(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	var users []string
	for i := range 1000 {
		users = append(users, fmt.Sprintf("bulk_user_%04d", i))
	}
	mintSessions(t, dbURL, users, 2)
	// A constraint, not a trigger: commands refuse tables with triggers
	// init did not create (see sql.CheckTrust).
	pgtest.MustExec(t, dbURL, `ALTER TABLE system.session_events
    ADD CONSTRAINT induced_failure_for_bulk_user_0999 CHECK (username <> 'bulk_user_0999')`)
	before := tableChecksum(t, dbURL)
	r := runWithStdin(t, dbURL, strings.Join(users, "\n")+"\n", "logout", "--users-from", "-", "--reason", "drill")
	if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, "induced_failure_for_bulk_user_0999") ||
		!strings.Contains(r.stderr, "revoke sessions of 1000 users") {
		t.Errorf("bulk logout with an induced failure: %s\nwant a failure naming it and nothing printed", r)
	}
	if after := tableChecksum(t, dbURL); after != before {
		t.Error("the failed bulk logout changed the tables")
	}
}

// The rest of the bulk commands with the built binary: logout --all, revoke
// of several ids, list --summary and --wide.
func TestLogoutAllRevokeSeveralAndSummary(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	alice := newRole(t, dbURL, "alice", "LOGIN")
	bob := newRole(t, dbURL, "bob", "LOGIN")
	mintSessions(t, dbURL, []string{alice, bob}, 2)

	summary := mustRun(t, dbURL, "list", "--summary", "--format", "csv")
	if !strings.Contains(summary.stdout, alice+",2,0,0,") || !strings.Contains(summary.stdout, bob+",2,0,0,") {
		t.Errorf("list --summary:\n%s", summary)
	}
	wide := mustRun(t, dbURL, "list", "--wide", "--format", "tsv")
	if !strings.Contains(strings.SplitN(wide.stdout, "\n", 2)[0], "\tstatus\treason\tip\tuser agent\tlast ip\tlast user agent\tvia\tactor") {
		t.Errorf("list --wide header:\n%s", wide)
	}

	var ids []string
	var first, second int64
	queryRow(t, dbURL, `SELECT min(id), max(id) FROM system.web_sessions WHERE username = $1`, []any{alice}, &first, &second)
	ids = append(ids, fmt.Sprint(first), fmt.Sprint(second))
	if r := run(t, dbURL, append([]string{"revoke"}, ids...)...); r.code != 2 || !strings.Contains(r.stderr, "revoke 2 sessions: no terminal to confirm on") {
		t.Errorf("revoke of two ids without --yes: %s", r)
	}
	r := mustRun(t, dbURL, append([]string{"revoke", "--yes", "--format", "tsv"}, ids...)...)
	if strings.Count(r.stdout, alice) != 2 {
		t.Errorf("revoke --yes of two ids:\n%s", r)
	}

	before := tableChecksum(t, dbURL)
	if r := run(t, dbURL, "logout", "--all"); r.code != 2 || !strings.Contains(r.stderr, "pass --yes") {
		t.Errorf("logout --all without a terminal: %s", r)
	}
	if tableChecksum(t, dbURL) != before {
		t.Error("the refused logout --all changed the tables")
	}
	r = mustRun(t, dbURL, "logout", "--all", "--yes", "--format", "tsv")
	if r.stderr != "revoked 2 sessions of 1 user (2 were already revoked)\n" {
		t.Errorf("logout --all --yes: %s", r)
	}
	var live int
	queryRow(t, dbURL, `SELECT count(*) FROM system.web_sessions WHERE revoked_at IS NULL`, nil, &live)
	if live != 0 {
		t.Errorf("%d sessions not revoked after logout --all", live)
	}
}
