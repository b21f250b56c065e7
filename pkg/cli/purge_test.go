package cli

import (
	"github.com/auth-session/auth-session/internal/syncbuf"

	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/auth-session/auth-session/internal/pgrelay"
	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/sql"
)

// purgeFixture holds the seed's sessions (by any clock after 2022: root's
// second and web_user's fourth expired long ago, web_user's first two were
// revoked long ago, the other two are active) and three audit events: two
// from 2022, one from now.
func purgeFixture(t *testing.T) string {
	t.Helper()
	dbURL := newSessionDB(t)
	mustInsertSessions(t, dbURL, seedSessions)
	pgtest.MustExec(t, dbURL, `INSERT INTO system.session_events (id, at, event, actor, username, via) VALUES
    (1, '2022-08-02 16:47:36Z', 'session.created', 'root', 'root', 'cli'),
    (2, '2022-08-02 18:24:50Z', 'session.revoked', 'root', 'web_user', 'cli'),
    (3, now(), 'session.created', 'root', 'web_user', 'cli')`)
	return dbURL
}

// activeIDs are the fixture's sessions that no purge may delete.
const activeIDs = "784428093743988737 790000000000000001"

func sessionIDs(t *testing.T, dbURL string) string {
	t.Helper()
	var ids string
	mustQueryRow(t, dbURL, "SELECT COALESCE(string_agg(id::TEXT, ' ' ORDER BY id), '') FROM system.web_sessions", nil, &ids)
	return ids
}

func TestPurge(t *testing.T) {
	t.Parallel()
	const header = "expired sessions\trevoked sessions\tidle sessions\tevents\tlogout records\tbatches\tdry run\n"
	const allIDs = "784428093743988737 784428586862215169 784447132063662081 784449147579924481 790000000000000001 790000000000000002"
	tests := []struct {
		name       string
		args       []string
		tty        terminals
		wantStdout string
		wantStderr string
		// wantIDs are the sessions left; wantEvents the fixture events left.
		wantIDs    string
		wantEvents int
	}{
		{name: "defaults", wantStdout: header + "2\t2\tNULL\t2\t0\t3\tfalse\n", wantIDs: activeIDs, wantEvents: 1},
		{name: "batch of one", args: []string{"--batch", "1", "--format", "json"},
			wantStdout: `[` + "\n" + `{"expired_sessions":2,"revoked_sessions":2,"idle_sessions":null,"events":2,"logouts":0,"batches":6,"dry_run":false}` + "\n]\n",
			wantIDs:    activeIDs, wantEvents: 1},
		{name: "dry run", args: []string{"--dry-run"}, wantStdout: header + "2\t2\tNULL\t2\t0\t0\ttrue\n",
			wantIDs: allIDs, wantEvents: 3},
		{name: "events kept", args: []string{"--events-retention", "0"}, wantStdout: header + "2\t2\tNULL\tNULL\t0\t2\tfalse\n",
			wantIDs: activeIDs, wantEvents: 3},
		{name: "nothing old enough", args: []string{"--older-than", "100000d", "--events-retention=100000d"},
			wantStdout: header + "0\t0\tNULL\t0\t0\t0\tfalse\n",
			wantIDs:    allIDs, wantEvents: 3},
		// The two active sessions were last used in 2022: idle for years.
		{name: "idle timeout", args: []string{"--idle-timeout", "1d"}, wantStdout: header + "2\t2\t2\t2\t0\t4\tfalse\n",
			wantIDs: "", wantEvents: 1},
		{name: "idle timeout longer than their idleness", args: []string{"--idle-timeout", "100000d"},
			wantStdout: header + "2\t2\t0\t2\t0\t3\tfalse\n", wantIDs: activeIDs, wantEvents: 1},
		{name: "idle timeout, dry run", args: []string{"--idle-timeout", "1d", "--dry-run", "--format", "json"},
			wantStdout: `[` + "\n" + `{"expired_sessions":2,"revoked_sessions":2,"idle_sessions":2,"events":2,"logouts":0,"batches":0,"dry_run":true}` + "\n]\n",
			wantIDs:    allIDs, wantEvents: 3},
		{name: "terminal", tty: terminals{out: true, err: true},
			wantStdout: "  expired sessions | revoked sessions | idle sessions | events | logout records | batches | dry run\n" +
				"-------------------+------------------+---------------+--------+----------------+---------+---------\n" +
				"  2                | 2                | NULL          | 2      | 0              | 3       | false\n(1 row)\n",
			// go-pretty draws the bar every 100ms; a purge this small is
			// done before the first frame, and its last frame says so.
			wantStderr: `(?s)^.*audit events +\.\.\. done! \[6 rows in [0-9.]+[mµ]?s; [0-9,.]+[KMB]? rows/s\]\n` +
				`purged 4 sessions \(2 expired, 2 revoked\) and 2 audit events\n$`,
			wantIDs: activeIDs, wantEvents: 1},
		{name: "terminal dry run", args: []string{"--dry-run", "--format", "tsv"}, tty: terminals{out: true, err: true},
			wantStdout: header + "2\t2\tNULL\t2\t0\t0\ttrue\n",
			wantStderr: "dry run: would purge 4 sessions (2 expired, 2 revoked) and 2 audit events; nothing was deleted\n",
			wantIDs:    allIDs, wantEvents: 3},
		{name: "terminal, idle timeout", args: []string{"--idle-timeout", "1d", "--format", "tsv"}, tty: terminals{out: true, err: true},
			wantStdout: header + "2\t2\t2\t2\t0\t4\tfalse\n",
			wantStderr: `(?s)^.*audit events +\.\.\. done! \[8 rows in [0-9.]+[mµ]?s; [0-9,.]+[KMB]? rows/s\]\n` +
				`purged 6 sessions \(2 expired, 2 revoked, 2 idle\) and 2 audit events\n$`,
			wantIDs: "", wantEvents: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbURL := purgeFixture(t)
			r := runCLITerm(t, tt.tty, append([]string{"purge", "--url", dbURL}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
			}
			if r.stdout != tt.wantStdout {
				t.Errorf("stdout:\n%q\nwant:\n%q", r.stdout, tt.wantStdout)
			}
			if strings.HasPrefix(tt.wantStderr, "(?s)") {
				if !regexp.MustCompile(tt.wantStderr).MatchString(r.stderr) {
					t.Errorf("stderr:\n%q\nwant it to match:\n%q", r.stderr, tt.wantStderr)
				}
			} else if r.stderr != tt.wantStderr {
				t.Errorf("stderr:\n%q\nwant:\n%q", r.stderr, tt.wantStderr)
			}
			if ids := sessionIDs(t, dbURL); ids != tt.wantIDs {
				t.Errorf("sessions left: %s, want %s", ids, tt.wantIDs)
			}
			if n := mustCount(t, dbURL, "system.session_events WHERE event NOT LIKE 'retention.%'"); n != tt.wantEvents {
				t.Errorf("%d fixture events left, want %d", n, tt.wantEvents)
			}
		})
	}
}

func TestPurgeRecordsWhoPurged(t *testing.T) {
	t.Parallel()
	dbURL := purgeFixture(t)
	mustRun(t, "purge", "--url", dbURL)
	var actor, via, client, detail string
	mustQueryRow(t, dbURL, "SELECT actor, via, client_addr, detail::TEXT FROM system.session_events WHERE event = $1",
		[]any{sql.EventRetentionPurged}, &actor, &via, &client, &detail)
	if actor != "postgres" || via != "cli" || client != "test-host" ||
		!strings.Contains(detail, `"expired_sessions": 2`) || !strings.Contains(detail, `"older_than": "1h0m0s"`) {
		t.Errorf("retention event by %q via %q from %q with %s; want postgres, cli, test-host and the counts", actor, via, client, detail)
	}
}

func TestPurgeRejectsBadFlags(t *testing.T) {
	t.Parallel()
	dbURL := purgeFixture(t)
	before := snapshot(t, dbURL)
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--older-than", "soon"}, `invalid --older-than "soon": want a duration such as 90m, 4h30m, 7d or 1w`},
		{[]string{"--older-than", "0"}, `invalid --older-than "0": must be positive`},
		{[]string{"--older-than=-1h"}, `invalid --older-than "-1h"`},
		{[]string{"--older-than", "1000000d"}, `invalid --older-than "1000000d": too large`},
		{[]string{"--batch", "0"}, `invalid --batch "0": want a whole number of rows from 1 to 100000`},
		{[]string{"--batch", "100001"}, `invalid --batch "100001": want a whole number of rows from 1 to 100000`},
		{[]string{"--batch", "1e3"}, `invalid --batch "1e3": want a whole number of rows from 1 to 100000`},
		{[]string{"--events-retention", "5m"}, `invalid --events-retention "5m": must be at least 1h0m0s; or 0 to keep every event`},
		{[]string{"--events-retention", "forever"}, `invalid --events-retention "forever": want a duration such as`},
		{[]string{"--idle-timeout", "30s"}, `invalid --idle-timeout "30s": must be at least 1m0s; or 0 to turn it off`},
		{[]string{"--idle-timeout", "never"}, `invalid --idle-timeout "never": want a duration such as`},
		{[]string{"--format", "xml"}, `invalid format "xml"`},
		{[]string{"now"}, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		r := runCLI(t, append([]string{"purge", "--url", dbURL}, tt.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tt.wantErr) || r.stdout != "" {
			t.Errorf("purge %s: exit %d, stdout %q, stderr:\n%s\nwant exit 2, no stdout and an error containing %q",
				strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.wantErr)
		}
	}
	checkUnchanged(t, dbURL, before)
}

// TestProgressBar: go-pretty's frames show the phase, the bar, the share
// done, the rows, their rate and the time left.
func TestProgressBar(t *testing.T) {
	var out syncbuf.Buffer
	bar := newProgressBar(&out, 1000, 0)
	bar.update(sql.PurgeProgress{Phase: sql.PhaseExpiredSessions, Result: sql.PurgeResult{ExpiredSessions: 10}})
	time.Sleep(3 * barRedraw)
	bar.finish(nil)
	frame := out.String()
	for _, want := range []string{"expired sessions", "1.00%", "10 rows", "rows/s", "~ETA", "done!"} {
		if !strings.Contains(frame, want) {
			t.Errorf("progress output %q has no %q", frame, want)
		}
	}
}

// TestProgressBarFitsTheTerminal: on a narrow terminal every line of the
// bar fits its width, so each frame redraws the last one in place instead
// of wrapping onto a new line.
func TestProgressBarFitsTheTerminal(t *testing.T) {
	for _, width := range []int{60, 80} {
		var out syncbuf.Buffer
		bar := newProgressBar(&out, 1_000_000, width)
		for done := int64(0); done <= 500_000; done += 100_000 {
			bar.update(sql.PurgeProgress{Phase: sql.PhaseRevokedSessions, Result: sql.PurgeResult{RevokedSessions: done}})
			time.Sleep(barRedraw)
		}
		bar.finish(nil)
		ansi := regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
		for _, line := range strings.FieldsFunc(ansi.ReplaceAllString(out.String(), "\n"), func(r rune) bool { return r == '\n' || r == '\r' }) {
			if n := utf8.RuneCountInString(line); n > width {
				t.Errorf("a %d-column terminal got a line of %d columns: %q", width, n, line)
			}
		}
	}
}

// TestPurgeTableWalkRoundTrips holds a purge that walks the table to one
// round trip a batch (issue 21): each batch deletes its pages and writes its
// event in one statement, its own transaction. Two purges of the same table
// with different batch sizes: what the second's extra batches cost.
func TestPurgeTableWalkRoundTrips(t *testing.T) {
	t.Parallel()
	const expired = 4000
	run := func(batch int) (roundTrips int, batches int) {
		dbURL := newSessionDB(t)
		pgtest.MustExec(t, dbURL, `INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, expires_at)
SELECT g, '\x00', 'user' || g % 10, 16384 + g % 10, now() - INTERVAL '2 hours'
FROM generate_series(1, `+strconv.Itoa(expired)+`) g`)
		pgtest.MustExec(t, dbURL, "VACUUM ANALYZE system.web_sessions")
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		relay := pgrelay.Start(t, u.Host)
		out := mustRun(t, "purge", "--batch", strconv.Itoa(batch), "--format", "tsv", "--no-headers", "--url", viaRelay(t, dbURL, relay))
		fields := strings.Split(strings.TrimSpace(out.stdout), "\t")
		if fields[0] != strconv.Itoa(expired) {
			t.Fatalf("purge --batch %d: %q, want %d expired sessions purged", batch, out.stdout, expired)
		}
		if batches, err = strconv.Atoi(fields[5]); err != nil {
			t.Fatal(err)
		}
		var sent []string
		for _, rt := range relay.Counts().RoundTrips {
			if !rt.Connecting() && rt.Kind != pgrelay.SSLRequest && rt.Kind != pgrelay.GSSENCRequest {
				roundTrips++
				sent = append(sent, rt.String())
			}
		}
		t.Logf("--batch %d: %d batches, %d round trips after connecting:\n\t%s", batch, batches, roundTrips, strings.Join(sent, "\n\t"))
		return roundTrips, batches
	}
	fewTrips, few := run(1000)
	manyTrips, many := run(200)
	if many <= few {
		t.Fatalf("--batch 200 made %d batches, --batch 1000 %d: want more", many, few)
	}
	if perBatch := float64(manyTrips-fewTrips) / float64(many-few); perBatch > 1 {
		t.Errorf("%d more batches cost %d more round trips (%.1f a batch), want 1 a batch", many-few, manyTrips-fewTrips, perBatch)
	}
}

// TestPurgeSweepsOnlyWhatItMightDelete: with an idle timeout, purge may
// delete live sessions, so it first records as revoked, with their reason,
// those whose role changed since login: an idle session whose password
// changed is kept as revoked for "password changed", not deleted as idle.
// Without one it deletes no live session, and leaves the sweep to list,
// show, revoke and serve (one statement less for every purge).
func TestPurgeSweepsOnlyWhatItMightDelete(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	user, _ := mustLoginRole(t, dbURL, "idle_user")
	mustRun(t, "login", user, "--url", dbURL)
	pgtest.MustExec(t, dbURL, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '3 hours' WHERE username = $1", user)
	pgtest.MustExec(t, dbURL, "ALTER ROLE "+user+" PASSWORD 'changed'")
	swept := "system.session_events WHERE event = 'sessions.revoked' AND username = $1"

	mustRun(t, "purge", "--url", dbURL, "--idle-timeout", "0")
	if n := mustCount(t, dbURL, swept, user); n != 0 {
		t.Errorf("purge without an idle timeout recorded %d sessions.revoked events; want none: it deletes no live session", n)
	}
	if n := mustCount(t, dbURL, "system.web_sessions WHERE username = $1 AND revoked_at IS NULL", user); n != 1 {
		t.Fatalf("%d live sessions of %s after a purge without an idle timeout; want its 1", n, user)
	}

	out := mustRun(t, "purge", "--url", dbURL, "--idle-timeout", "1h", "--format", "tsv", "--no-headers")
	if !strings.HasPrefix(out.stdout, "0\t0\t0\t") {
		t.Errorf("purge with an idle timeout: %q; want no session deleted (the swept one is revoked, not idle)", out.stdout)
	}
	if n := mustCount(t, dbURL, "system.web_sessions WHERE username = $1 AND revoke_reason = $2", user, sql.ReasonPasswordChanged); n != 1 {
		t.Errorf("%d sessions of %s revoked for %q; want 1", n, user, sql.ReasonPasswordChanged)
	}
	if n := mustCount(t, dbURL, swept, user); n != 1 {
		t.Errorf("%d sessions.revoked events of %s; want 1", n, user)
	}
}
