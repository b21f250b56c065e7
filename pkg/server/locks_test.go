package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/outage"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// mintSessions creates n sessions of user directly in the store and returns
// their ids and cookie values.
func (f *fixture) mintSessions(t *testing.T, user string, n int) ([]int64, []string) {
	t.Helper()
	ids, values := make([]int64, n), make([]string, n)
	for i := range n {
		secret, err := auth.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		s, err := sql.NewStore(f.pool).Login(context.Background(), sql.NewSession{
			Username: user, HashedSecret: auth.HashSecret(secret), ExpireAfter: time.Hour,
		}, sql.Actor{Via: "cli"}, sql.LoginOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids[i], values[i] = s.ID, auth.EncodeValue(s.ID, secret)
	}
	return ids, values
}

// lockHolder is a transaction of its own connection that holds locks until
// release; held says whether it still does.
type lockHolder struct {
	commit func() error
	held   atomic.Bool
	once   sync.Once
}

func holdLocks(t *testing.T, dbURL string, statements func(tx pgx.Tx) error) *lockHolder {
	t.Helper()
	ctx := context.Background()
	conn := connectOwn(t, dbURL)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := statements(tx); err != nil {
		t.Fatal(err)
	}
	h := &lockHolder{commit: func() error { return tx.Commit(ctx) }}
	h.held.Store(true)
	t.Cleanup(func() { h.release(t) })
	return h
}

// holdLogout runs the store's logout of user on a connection of its own
// and holds its transaction, the revocation made, before the commit until
// release.
func holdLogout(t *testing.T, dbURL, user string, by sql.Actor) *lockHolder {
	t.Helper()
	ctx := context.Background()
	conn := connectOwn(t, dbURL)
	var made sync.Once
	locked, commit, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := sql.NewStore(conn).Revoke(ctx, sql.OfUsers(user), sql.RevokeOptions{By: by, BeforeCommit: func() error {
			made.Do(func() { close(locked) })
			<-commit
			return nil
		}}, nil)
		done <- err
	}()
	select {
	case <-locked:
	case err := <-done:
		t.Fatalf("logout of %s: %v", user, err)
	}
	h := &lockHolder{commit: func() error { close(commit); return <-done }}
	h.held.Store(true)
	t.Cleanup(func() { h.release(t) })
	return h
}

// connectOwn opens a connection of the test's own, closed at its end.
func connectOwn(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// release commits the transaction; held turns false just before.
func (h *lockHolder) release(t *testing.T) {
	h.once.Do(func() {
		h.held.Store(false)
		if err := h.commit(); err != nil {
			t.Error(err)
		}
	})
}

// answer is a whoami's status and whether the lock holder still held its
// locks when it arrived.
type answer struct {
	status    int
	whileHeld bool
}

// whoamiAll sends a whoami for each value at once and returns the answers.
// Should they not all arrive within patience, h is released so that they
// can: answers that waited for it say so.
func (f *fixture) whoamiAll(t *testing.T, h *lockHolder, values []string, patience time.Duration) []answer {
	t.Helper()
	answers := make(chan answer, len(values))
	client := &http.Client{Timeout: time.Minute}
	for _, v := range values {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, f.url+"/api/v2/whoami", nil)
			req.Header.Set("Cookie", auth.CookieName+"="+v)
			resp, err := client.Do(req)
			status := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body) //nolint:errcheck
				resp.Body.Close()
				status = resp.StatusCode
			}
			answers <- answer{status: status, whileHeld: h.held.Load()}
		}()
	}
	var got []answer
	giveUp := time.After(patience)
	for len(got) < len(values) {
		select {
		case a := <-answers:
			got = append(got, a)
		case <-giveUp:
			h.release(t)
		}
	}
	return got
}

// TestSessionCheckDoesNotWaitOnALockedTable: while another transaction
// holds a SHARE lock on web_sessions (as a non-concurrent CREATE INDEX
// does), requests whose last-used time is due are answered all the same,
// before the lock is released, and serve does not take the lock for an
// outage. The requests outnumber the pool's connections, and an unrelated
// user's request is among them.
func TestSessionCheckDoesNotWaitOnALockedTable(t *testing.T) {
	t.Parallel()
	guard := outage.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	f := newFixture(t, func(c *server.Config) { c.Outage = guard })
	user, other := f.newRole(t, "pw"), f.newRole(t, "pw")
	ids, values := f.mintSessions(t, user, 3*int(f.pool.Config().MaxConns))
	_, otherValues := f.mintSessions(t, other, 1)
	f.mustExec(t, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '10 minutes' WHERE username = $1", user)

	h := holdLocks(t, f.dbURL, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), "LOCK TABLE system.web_sessions IN SHARE MODE")
		return err
	})
	for i, a := range f.whoamiAll(t, h, append(values, otherValues...), 5*time.Second) {
		if a.status != http.StatusOK || !a.whileHeld {
			t.Errorf("whoami %d: status %d, lock still held when it arrived: %v; want 200 while the lock is held", i, a.status, a.whileHeld)
		}
	}
	if !h.held.Load() {
		t.Error("the requests waited for the lock to be released")
	}
	if guard.Down() {
		t.Error("serve went into outage mode over a lock")
	}
	h.release(t)

	// Once the table is free, the touch is written.
	if rec := f.whoami(t, values[0]); rec.status != http.StatusOK {
		t.Fatalf("whoami after the lock: %d", rec.status)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var recent bool
		if err := f.pool.QueryRow(context.Background(), "SELECT last_used_at > now() - INTERVAL '1 minute' FROM system.web_sessions WHERE id = $1",
			ids[0]).Scan(&recent); err != nil {
			t.Fatal(err)
		}
		if recent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("last_used_at not written within 10s of a request after the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRequestsInFlightDuringALogout: requests checked while a logout of
// their user is in progress (its transaction holds the rows) are answered
// at once, as the sessions still stand; none waits for the logout and
// answers 200 after it returned. Once it returned, every request is
// refused. Then the same with the logout racing a stream of requests: every
// request sent after the logout returned is refused.
func TestRequestsInFlightDuringALogout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	user := f.newRole(t, "pw")
	_, values := f.mintSessions(t, user, 300)
	f.mustExec(t, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '10 minutes' WHERE username = $1", user)
	by := sql.Actor{Name: "test", Via: "cli"}

	h := holdLogout(t, f.dbURL, user, by)
	inFlight := values[:3*int(f.pool.Config().MaxConns)]
	for i, a := range f.whoamiAll(t, h, inFlight, 5*time.Second) {
		if a.status == http.StatusOK && !a.whileHeld {
			t.Errorf("whoami %d answered 200 after the logout returned", i)
		} else if a.status != http.StatusOK && a.status != http.StatusUnauthorized {
			t.Errorf("whoami %d: status %d", i, a.status)
		}
	}
	h.release(t)
	for i, v := range inFlight {
		if r := f.whoami(t, v); r.status != http.StatusUnauthorized {
			t.Fatalf("whoami %d after the logout returned: %d; want 401", i, r.status)
		}
	}

	// A stream of requests on the other sessions of a second user, and its
	// logout in the middle.
	second := f.newRole(t, "pw")
	_, values = f.mintSessions(t, second, 300)
	f.mustExec(t, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '10 minutes' WHERE username = $1", second)
	var returned atomic.Bool
	var acceptedAfter, sentAfter atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	client := &http.Client{Timeout: time.Minute}
	for w := range 8 {
		wg.Go(func() {
			for i := w; ; i = (i + 8) % len(values) {
				select {
				case <-stop:
					return
				default:
				}
				after := returned.Load()
				req, _ := http.NewRequest(http.MethodGet, f.url+"/api/v2/whoami", nil)
				req.Header.Set("Cookie", auth.CookieName+"="+values[i])
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if after {
					sentAfter.Add(1)
					if resp.StatusCode != http.StatusUnauthorized {
						acceptedAfter.Add(1)
					}
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := sql.NewStore(f.pool).Revoke(context.Background(), sql.OfUsers(second), sql.RevokeOptions{By: by}, nil); err != nil {
		t.Fatal(err)
	}
	returned.Store(true)
	for sentAfter.Load() < 200 && !t.Failed() {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if n := acceptedAfter.Load(); n > 0 {
		t.Errorf("%d of %d requests sent after the logout returned were not refused", n, sentAfter.Load())
	}
}
