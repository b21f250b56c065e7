package sql

import (
	"fmt"
	"testing"
)

// TestSummaryCountsLoginsRevokedUnseen: the summary's fast form, which
// counts by the plain columns and corrects for the sessions a logout
// revoked without seeing their rows, gives the counts of the form that
// joins every session with the logouts, as logouts of one user, one that
// kept a session and one of everyone are recorded.
func TestSummaryCountsLoginsRevokedUnseen(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		mustInsert(t, conn, u, active, 3)
		mustInsert(t, conn, u, expiredRecently, 2)
		mustInsert(t, conn, u, revokedRecently, 1)
	}
	summaries := func(q string, args []any) string {
		t.Helper()
		out := ""
		err := eachRow(testContext(t), conn, q, args, func(scan func(...any) error) error {
			var u UserSummary
			if err := scan(&u.Username, &u.Active, &u.Expired, &u.Revoked, &u.LastUsed); err != nil {
				return err
			}
			out += fmt.Sprintf("%s %d/%d/%d; ", u.Username, u.Active, u.Expired, u.Revoked)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(step string, want string) {
		t.Helper()
		for _, sel := range []Selection{{}, {Users: []string{"bob", "carol"}}, {Via: "cli"}} {
			fast, args, err := summaryQuery(sel)
			if err != nil {
				t.Fatal(err)
			}
			var w where
			if err := sel.add(&w); err != nil {
				t.Fatal(err)
			}
			slow := summaries(summarizeUsers+w.String()+summaryGrouping, w.args)
			if got := summaries(fast, args); got != slow {
				t.Errorf("%s, selection %+v: fast summary %q, joined %q", step, sel, got, slow)
			}
			if len(sel.Users) == 0 && sel.Via == "" && slow != want {
				t.Errorf("%s: summary %q, want %q", step, slow, want)
			}
		}
	}
	check("no logout", "carol 3/2/1; bob 3/2/1; alice 3/2/1; ") // ties: last used first
	// The sessions were made a day ago (see insertSessions): a logout an
	// hour ago that did not see them revokes them all the same.
	record := func(user string, keep string) {
		t.Helper()
		if _, err := conn.Exec(testContext(t), `INSERT INTO system.web_session_logouts (username, logged_out_at, kept_session_id)
VALUES ($1, now() - INTERVAL '1 hour', COALESCE((SELECT min(id) FROM system.web_sessions WHERE username = $2 AND revoked_at IS NULL AND expires_at > now()), 0))`,
			user, keep); err != nil {
			t.Fatal(err)
		}
	}
	record("bob", "")
	check("bob logged out", "carol 3/2/1; alice 3/2/1; bob 0/0/6; ")
	record("carol", "carol")
	check("carol logged out but one session", "alice 3/2/1; carol 1/0/5; bob 0/0/6; ")
	record("", "")
	check("everyone logged out", "carol 0/0/6; bob 0/0/6; alice 0/0/6; ")
}
