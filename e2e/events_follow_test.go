package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/internal/syncbuf"
)

// TestEventsFollowThroughARestart runs `events --follow --format ndjson` as
// a log shipper would, on a server of its own: a login and a logout made
// with the binary arrive as one JSON line each; PostgreSQL is restarted
// (a fast shutdown ends the follower's connection, then nothing answers
// for a while), a login made right after the restart, whether or not the
// follower is back by then, still arrives, once; SIGINT ends it with exit
// 0 and the output ends with the last whole line.
func TestEventsFollowThroughARestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{StopWithProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove() }) //nolint:errcheck
	dbURL := c.SuperURL("postgres")
	if r := run(t, "init", "--url", dbURL); r.code != 0 {
		t.Fatalf("init: %s", r)
	}
	user := pgtest.UniqueName("web_user")
	pgtest.MustExec(t, dbURL, "CREATE ROLE "+user+" LOGIN")

	follow := exec.Command(binPath, "events", "--follow", "--format", "ndjson", "--user", user, "--url", dbURL)
	follow.Env = commandEnv()
	var stderr syncbuf.Buffer
	follow.Stderr = &stderr
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	defer follow.Process.Kill() //nolint:errcheck
	lines := make(chan string, 10)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	next := func(what string) map[string]any {
		t.Helper()
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("waiting for %s: the follower's output ended; stderr:\n%s", what, stderr.String())
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("%s: line %q is no JSON object: %v", what, line, err)
			}
			return e
		case <-time.After(30 * time.Second):
			t.Fatalf("waiting for %s: no line in 30s; stderr:\n%s", what, stderr.String())
		}
		return nil
	}
	// The follower prints only what commits after it has started: wait
	// until it has taken its first snapshot.
	waitIdleAfter(t, dbURL, "SELECT pg_current_snapshot()")

	login := run(t, "login", user, "--format", "ndjson", "--url", dbURL)
	if login.code != 0 {
		t.Fatalf("login: %s", login)
	}
	var minted struct {
		SessionID string `json:"session_id"`
	}
	if err := json.Unmarshal([]byte(login.stdout), &minted); err != nil {
		t.Fatalf("login --format ndjson: %v\n%s", err, login.stdout)
	}
	if e := next("the login"); e["event"] != "session.created" || e["session_id"] != minted.SessionID || e["username"] != user || e["via"] != "cli" {
		t.Errorf("the login's line: %v", e)
	}
	if r := run(t, "logout", user, "--url", dbURL); r.code != 0 {
		t.Fatalf("logout: %s", r)
	}
	if e := next("the logout"); e["event"] != "user.logged_out" || e["detail"].(map[string]any)["revoked"] != 1.0 {
		t.Errorf("the logout's line: %v", e)
	}

	// The restart: the follower loses its connection and retries until
	// the server is back.
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower's message of the outage", func() bool {
		return strings.Contains(stderr.String(), "events: no connection to the database")
	})
	if _, err := pgcluster.Start(ctx, pgcluster.Options{Dir: c.Dir, Port: c.Port}); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "login", user, "--url", dbURL); r.code != 0 {
		t.Fatalf("login after the restart: %s", r)
	}
	if e := next("the login after the restart"); e["event"] != "session.created" {
		t.Errorf("after the restart: %v", e)
	}
	waitFor(t, "the follower's message that it is back", func() bool {
		return strings.Contains(stderr.String(), "events: connected again after ")
	})

	if err := follow.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- follow.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("events --follow ended at SIGINT with %v, want exit 0; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("events --follow did not end within 30s of SIGINT")
	}
	if line, ok := <-lines; ok {
		t.Errorf("a line more: %s", line)
	}
	t.Logf("stderr of the follower:\n%s", stderr.String())
}

// waitIdleAfter waits until a connection of auth-session on dbURL is idle
// after a statement starting with query.
func waitIdleAfter(t *testing.T, dbURL, query string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("a connection idle after %q", query), func() bool {
		var n int
		conn, err := pgx.Connect(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
WHERE application_name = 'auth-session' AND state = 'idle' AND query LIKE $1`, query+"%").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
}

// waitFor polls cond until it holds, for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
