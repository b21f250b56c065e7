package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/sql"
)

// TestThrottleShowAndClear: throttle show lists the address and the user
// name at it that the limits throttle, with when they clear; throttle clear
// forgets their failures, audited, and the next attempt is checked again.
func TestThrottleShowAndClear(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	// Five failures of bob from one address, a minute apart, the oldest
	// ten minutes ago; one of carol from another.
	pgtest.MustExec(t, dbURL, `INSERT INTO system.login_attempts (client_addr, username, at, counts_until)
SELECT '203.0.113.7', 'bob', now() - (g * INTERVAL '1 minute'), now() + INTERVAL '1 hour' FROM generate_series(6, 10) g
UNION ALL SELECT '198.51.100.1', 'carol', now(), now() + INTERVAL '1 hour'`)
	limits := sql.LoginLimits{PerUserAddress: 3, PerAddress: 5, Window: 15 * time.Minute}
	throttled := func() bool {
		pool, _ := pools.Load(dbURL)
		a, err := sql.ReserveLoginAttempt(context.Background(), pool.(*pgxpool.Pool), limits, "203.0.113.7", "bob")
		if err != nil {
			t.Fatal(err)
		}
		return a.Throttled
	}
	if !throttled() {
		t.Fatal("bob at 203.0.113.7 is not throttled by the fixture")
	}

	out := mustRun(t, "throttle", "show", "--login-fail-limit", "3", "--login-fail-limit-per-address", "5",
		"--format", "tsv", "--no-headers", "--url", dbURL).stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "203.0.113.7\t\t5\t") || !strings.HasPrefix(lines[1], "203.0.113.7\tbob\t5\t") {
		t.Fatalf("throttle show printed %q; want the address (5 failures) and bob at it (5)", out)
	}
	// The pair clears when its 3rd oldest failure (8 minutes ago) leaves
	// the 15-minute window: in about 7 minutes.
	clears, err := time.Parse("2006-01-02 15:04:05", strings.Split(lines[1], "\t")[3][:19])
	if err != nil || clears.Sub(time.Now().UTC()) < 6*time.Minute || clears.Sub(time.Now().UTC()) > 8*time.Minute {
		t.Errorf("bob's throttle clears at %v (%v); want about 7 minutes from now", clears, err)
	}

	r := mustRun(t, "throttle", "clear", "--ip", "203.0.113.7", "--user", "bob", "--url", dbURL)
	if !strings.Contains(r.stderr, "forgot 5 failed logins") {
		t.Errorf("throttle clear: stderr %q; want 5 forgotten", r.stderr)
	}
	if out := mustRun(t, "throttle", "show", "--url", dbURL).stdout; strings.Contains(out, "203.0.113.7") {
		t.Errorf("throttle show after clear printed %q", out)
	}
	if throttled() {
		t.Error("bob at 203.0.113.7 is still throttled after throttle clear")
	}
	if n := mustCount(t, dbURL, "system.session_events WHERE event = 'throttle.cleared' AND username = 'bob' AND detail->>'failures' = '5'"); n != 1 {
		t.Errorf("%d throttle.cleared events; want 1", n)
	}
	if n := mustCount(t, dbURL, "system.login_attempts WHERE username = 'carol'"); n != 1 {
		t.Errorf("carol's failure was cleared too")
	}
	if r := runCLI(t, "throttle", "clear", "--url", dbURL); r.code != 2 {
		t.Errorf("throttle clear without --ip or --user: exit %d; want 2", r.code)
	}
}
