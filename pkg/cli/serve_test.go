package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/auth-session/auth-session/pkg/sql"
)

// TestServePurgesInTheBackground runs serve as a user would, with the
// shortest interval the flag accepts, over the purge fixture plus a session
// that expired and one revoked minutes ago: the first run deletes what is
// old, keeps the active and the recent sessions, and logs one line of counts.
// With --idle-timeout, it also deletes the active sessions unused since 2022.
// The events retention is the database's setting.
func TestServePurgesInTheBackground(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		idle    string // the setting idle-timeout, when not empty
		wantIDs string
		wantLog string
	}{
		{"no idle timeout", nil, "", activeIDs + " 790000000000000003 790000000000000004",
			"msg=\"purged old sessions and events\" job=purge expired_sessions=2 revoked_sessions=2 idle_sessions=0 events=2 logouts=0 batches=3 duration="},
		{"idle timeout setting", nil, "1d", "790000000000000003 790000000000000004",
			"msg=\"purged old sessions and events\" job=purge expired_sessions=2 revoked_sessions=2 idle_sessions=2 events=2 logouts=0 batches=4 duration="},
		{"idle timeout", []string{"--idle-timeout", "1d"}, "", "790000000000000003 790000000000000004",
			"msg=\"purged old sessions and events\" job=purge expired_sessions=2 revoked_sessions=2 idle_sessions=2 events=2 logouts=0 batches=4 duration="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dbURL := purgeFixture(t)
			mustRun(t, "settings", "set", sql.SettingEventsRetention, "30d", "--url", dbURL)
			if tt.idle != "" {
				mustRun(t, "settings", "set", sql.SettingIdleTimeout, tt.idle, "--url", dbURL)
			}
			now := time.Now()
			recent := []fixtureSession{
				{790000000000000003, "web_user", now.Add(-time.Hour), now.Add(-10 * time.Minute), nil, now.Add(-time.Hour), "secret-recently-expired"},
				{790000000000000004, "web_user", now.Add(-time.Hour), now.Add(time.Hour), ptr(now.Add(-10 * time.Minute)), now.Add(-time.Hour), "secret-recently-revoked"},
			}
			mustInsertSessions(t, dbURL, recent)

			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			env, stdout, stderr := newEnv(terminals{})
			exited := make(chan int, 1)
			go func() {
				exited <- Main(ctx, append([]string{"auth-session", "serve", "--url", dbURL, "--insecure", "--http-addr", "127.0.0.1:0",
					"--purge-interval", "1s"}, tt.args...), env)
			}()
			// A run records its retention event last, once it deleted everything,
			// and logs right after, whether or not shutdown has begun by then.
			deadline := time.Now().Add(30 * time.Second)
			for mustCount(t, dbURL, "system.session_events WHERE event = $1 AND via = 'serve'", sql.EventRetentionPurged) == 0 {
				select {
				case code := <-exited:
					t.Fatalf("serve exited with %d before purging; stderr:\n%s", code, stderr)
				case <-time.After(50 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					cancel()
					<-exited
					t.Fatalf("no purge within 30s; stderr:\n%s", stderr)
				}
			}
			cancel()
			if code := <-exited; code != 0 {
				t.Fatalf("serve exited with %d, want 0; stderr:\n%s", code, stderr)
			}

			if got := sessionIDs(t, dbURL); got != tt.wantIDs {
				t.Errorf("sessions left: %s, want %s", got, tt.wantIDs)
			}
			if n := mustCount(t, dbURL, "system.session_events WHERE event NOT LIKE 'retention.%' AND event <> $1", sql.EventSettingChanged); n != 1 {
				t.Errorf("%d fixture events left, want the recent one", n)
			}
			var actor, via, client string
			mustQueryRow(t, dbURL, "SELECT actor, via, client_addr FROM system.session_events WHERE event = $1",
				[]any{sql.EventRetentionPurged}, &actor, &via, &client)
			if actor != "postgres" || via != "serve" || client != "test-host" {
				t.Errorf("retention event by %q via %q from %q, want postgres, serve, test-host", actor, via, client)
			}

			log := stderr.String()
			for _, want := range []string{
				"msg=setting name=events-retention value=30d origin=database\n",
				"msg=\"purging in the background\" job=purge interval=1s older_than=1h0m0s events_retention=720h0m0s\n",
				tt.wantLog,
			} {
				if strings.Count(log, want) != 1 {
					t.Errorf("stderr should hold %q once:\n%s", want, log)
				}
			}
			checkNoSecrets(t, log, append(seedSessions, recent...))
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q, want nothing", stdout)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestServePurgeOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                        string
		interval, olderThan, pace   string
		wantInterval, wantOlderThan time.Duration
		wantPace                    float64
	}{
		{"defaults", defaultPurgeInterval, defaultOlderThan, defaultPurgePace, time.Hour, time.Hour, 1},
		{"off", "0", "1h", "1", 0, time.Hour, 1},
		{"flat out", "10m", "7d", "0", 10 * time.Minute, 7 * 24 * time.Hour, 0},
		{"shortest, gentlest", "1s", "1s", "100", time.Second, time.Second, 100},
	}
	for _, tt := range tests {
		got, err := servePurgeOptions(tt.interval, tt.olderThan, tt.pace)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		want := sql.PurgeLoopOptions{Interval: tt.wantInterval, Jitter: 0.1, Purge: sql.PurgeOptions{
			OlderThan: tt.wantOlderThan, Batch: sql.BackgroundPurgeBatch, Pace: tt.wantPace}}
		// The hooks (Progress, Ran, BeforeRun) are the server's to set,
		// and with BeforeRun the events retention.
		if got.Interval != want.Interval || got.Jitter != want.Jitter || got.Purge != want.Purge ||
			got.Logger != nil || got.Progress != nil || got.Ran != nil || got.BeforeRun != nil {
			t.Errorf("%s: %+v, want %+v", tt.name, got, want)
		}
	}
}

func TestServePurgeRejectsBadFlags(t *testing.T) {
	t.Parallel()
	// The flags are checked before serve connects: no database is needed.
	const unreachable = "postgres://postgres@127.0.0.1:1/none"
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--purge-interval", "hourly"}, `invalid --purge-interval "hourly": want a duration such as 90m, 4h30m, 7d or 1w`},
		{[]string{"--purge-interval", "200ms"}, `invalid --purge-interval "200ms": must be at least 1s; or 0 to turn the background purge off`},
		{[]string{"--purge-interval=-1h"}, `invalid --purge-interval "-1h": must be positive`},
		{[]string{"--purge-interval", "1000000d"}, `invalid --purge-interval "1000000d": too large`},
		{[]string{"--purge-older-than", "0"}, `invalid --purge-older-than "0": must be positive`},
		{[]string{"--purge-older-than", "an hour"}, `invalid --purge-older-than "an hour": want a duration`},
		{[]string{"--events-retention", "5m"}, `invalid --events-retention "5m": must be at least 1h0m0s; or 0 to keep every event`},
		{[]string{"--purge-pace", "-1"}, `invalid --purge-pace "-1": want a number from 0 (flat out) to 100`},
		{[]string{"--purge-pace", "slow"}, `invalid --purge-pace "slow": want a number from 0 (flat out) to 100`},
		// The trusted proxies (issue 19 §4).
		{[]string{"--trusted-proxies", "10.0.0.0/8,proxy.local"}, `invalid --trusted-proxies "10.0.0.0/8,proxy.local": "proxy.local" is not an address or a network`},
		{[]string{"--trusted-proxies", "10.0.0.1", "--forwarded-header", "x-real-ip"}, `invalid --forwarded-header "x-real-ip": want x-forwarded-for or forwarded`},
		// Checked also when the purge is off, so a typo shows now.
		{[]string{"--purge-interval", "0", "--events-retention", "forever"}, `invalid --events-retention "forever": want a duration`},
	}
	for _, tt := range tests {
		r := runCLI(t, append([]string{"serve", "--url", unreachable, "--insecure"}, tt.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tt.wantErr) || r.stdout != "" {
			t.Errorf("serve %s: exit %d, stdout %q, stderr:\n%s\nwant exit 2, no stdout and an error containing %q",
				strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.wantErr)
		}
	}
}

func TestServeMetricsRejectsBadFlags(t *testing.T) {
	t.Parallel()
	// The flags are checked before serve connects: no database is needed.
	const unreachable = "postgres://postgres@127.0.0.1:1/none"
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--metrics-addr", "localhost"}, `invalid --metrics-addr "localhost": want HOST:PORT, such as 127.0.0.1:8080`},
		{[]string{"--metrics-addr", "127.0.0.1:99999"}, `invalid --metrics-addr "127.0.0.1:99999": port "99999" is not 0 to 65535`},
		{[]string{"--metrics=false", "--metrics-addr", "127.0.0.1:9090"}, `--metrics-addr and --metrics=false exclude each other`},
		{[]string{"--metrics=sometimes"}, `invalid boolean value "sometimes" for -metrics`},
	}
	for _, tt := range tests {
		r := runCLI(t, append([]string{"serve", "--url", unreachable, "--insecure"}, tt.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tt.wantErr) || r.stdout != "" {
			t.Errorf("serve %s: exit %d, stdout %q, stderr:\n%s\nwant exit 2, no stdout and an error containing %q",
				strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.wantErr)
		}
	}
}
