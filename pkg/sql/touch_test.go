package sql

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// touchModes are the ways a connection sends the touch: as the tests and
// the CLI do (QueryExecModeExec), as serve does on a direct connection
// (named prepared statements) and behind a pooler (described, unnamed).
var touchModes = []pgx.QueryExecMode{pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe}

// connectInMode opens a connection of its own that sends statements in
// mode, with nothing prepared or described yet: a touch on it is its
// first.
func connectInMode(t *testing.T, dbURL string, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	conn, err := pgx.ConnectConfig(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// staleSessions inserts n sessions last used ten minutes ago and returns
// their ids.
func staleSessions(t *testing.T, db DBTX, n int) []int64 {
	t.Helper()
	user := "u" + strings.ReplaceAll(t.Name(), "/", "_")
	mustInsert(t, db, user, active, n)
	if _, err := db.Exec(testContext(t), "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '10 minutes' WHERE username = $1", user); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	err := db.QueryRow(testContext(t), "SELECT array_agg(id ORDER BY id) FROM system.web_sessions WHERE username = $1", user).Scan(&ids)
	if err != nil || len(ids) != n {
		t.Fatalf("stale sessions of %s: %v (%v)", user, ids, err)
	}
	return ids
}

// touchWithin runs TouchSessions on conn while holder holds its locks, and
// returns its error and whether it returned while they were held. Should
// it not return within patience, holder commits, so that it can.
func touchWithin(t *testing.T, conn *pgx.Conn, holder pgx.Tx, touches []Touch, patience time.Duration) (err error, whileHeld bool) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- TouchSessions(testContext(t), conn, touches, time.Minute) }()
	select {
	case err = <-done:
		return err, true
	case <-time.After(patience):
		if err := holder.Commit(testContext(t)); err != nil {
			t.Fatal(err)
		}
		return <-done, false
	}
}

// lastSeen reads a session's last-used time, address and User-Agent as
// list shows them.
func lastSeen(t *testing.T, db DBTX, id int64) ListedSession {
	t.Helper()
	s, _, err := GetListedSession(testContext(t), db, id, 0)
	if err != nil {
		t.Fatalf("session %d: %v", id, err)
	}
	return s
}

// TestTouchSessionsNeverWaits: a touch skips a row another transaction
// holds and touches the others, and gives up at once on a table another
// transaction has locked against writes (as a CREATE INDEX does), in each
// way a connection sends it, also as the connection's first statement,
// which a driver may first prepare or describe.
func TestTouchSessionsNeverWaits(t *testing.T) {
	t.Parallel()
	conn, dbURL := newStore(t)
	for _, mode := range touchModes {
		t.Run(mode.String(), func(t *testing.T) {
			ids := staleSessions(t, conn, 2)
			held, free := ids[0], ids[1]
			touches := []Touch{{SessionID: held, ClientAddr: "192.0.2.1", UserAgent: "held"}, {SessionID: free, ClientAddr: "192.0.2.2", UserAgent: "free"}}

			holder, err := mustConnect(t, dbURL).Begin(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := holder.Exec(testContext(t), "SELECT 1 FROM system.web_sessions WHERE id = $1 FOR UPDATE", held); err != nil {
				t.Fatal(err)
			}
			err, whileHeld := touchWithin(t, connectInMode(t, dbURL, mode), holder, touches, 5*time.Second)
			if err != nil || !whileHeld {
				t.Errorf("touch with a row held: %v, returned while it was held: %v; want nil, at once", err, whileHeld)
			}
			holder.Rollback(testContext(t)) //nolint:errcheck // committed already when the touch waited
			if s := lastSeen(t, conn, free); s.LastIP != "192.0.2.2" || s.LastUserAgent != "free" || time.Since(s.LastUsedAt) > time.Minute {
				t.Errorf("the free session: last used %v from %q (%q); want now from 192.0.2.2 (free)", s.LastUsedAt, s.LastIP, s.LastUserAgent)
			}
			if s := lastSeen(t, conn, held); whileHeld && (s.LastIP != "" || time.Since(s.LastUsedAt) < 5*time.Minute) {
				t.Errorf("the held session was touched: last used %v from %q", s.LastUsedAt, s.LastIP)
			}

			holder, err = mustConnect(t, dbURL).Begin(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := holder.Exec(testContext(t), "LOCK TABLE system.web_sessions IN SHARE MODE"); err != nil {
				t.Fatal(err)
			}
			err, whileHeld = touchWithin(t, connectInMode(t, dbURL, mode), holder, touches[:1], 5*time.Second)
			if !IsLockTimeout(err) || !whileHeld {
				t.Errorf("touch with the table locked: %v, returned while it was locked: %v; want a lock timeout, at once", err, whileHeld)
			}
			holder.Rollback(testContext(t)) //nolint:errcheck // committed already when the touch waited
		})
	}
}

// TestTouchSessionsRecordsTheClient: a touch writes the address and the
// User-Agent of its request as they came, as parameters (text that would
// end an SQL literal is kept as it is), the User-Agent cut to what a login
// keeps, an address in its canonical form, and no address for one that is
// none (a Unix socket's peer).
func TestTouchSessionsRecordsTheClient(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	ids := staleSessions(t, conn, 4)
	long := strings.Repeat("Mozilla/5.0 ", 40)
	quote := `x', last_used_at = '2001-01-01`
	touches := []Touch{
		{SessionID: ids[0], ClientAddr: "198.51.100.7", UserAgent: long},
		{SessionID: ids[1], ClientAddr: "::ffff:192.0.2.9", UserAgent: quote},
		{SessionID: ids[2], ClientAddr: "@", UserAgent: "curl/8.5.0"},
		{SessionID: ids[3], ClientAddr: "2001:db8::1", UserAgent: ""},
	}
	if err := TouchSessions(testContext(t), conn, touches, time.Minute); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct{ ip, ua string }{
		{"198.51.100.7", storable(long)},
		{"192.0.2.9", quote},
		{"", "curl/8.5.0"},
		{"2001:db8::1", ""},
	} {
		s := lastSeen(t, conn, ids[i])
		if s.LastIP != want.ip || s.LastUserAgent != want.ua || time.Since(s.LastUsedAt) > time.Minute {
			t.Errorf("touch %d: last used %v from %q (%q); want now from %q (%q)", i, s.LastUsedAt, s.LastIP, s.LastUserAgent, want.ip, want.ua)
		}
	}
	if got := len(lastSeen(t, conn, ids[0]).LastUserAgent); got != MaxClientText {
		t.Errorf("a %d-byte User-Agent is kept as %d bytes; want %d, as a login keeps", len(long), got, MaxClientText)
	}

	// Within the touch interval nothing is written, not even another
	// address.
	if err := TouchSessions(testContext(t), conn, []Touch{{SessionID: ids[2], ClientAddr: "192.0.2.200", UserAgent: "other"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if s := lastSeen(t, conn, ids[2]); s.LastIP != "" || s.LastUserAgent != "curl/8.5.0" {
		t.Errorf("a touch within the interval wrote %q (%q)", s.LastIP, s.LastUserAgent)
	}

	// A session never used over HTTP records its first use at once, however
	// recently it was made.
	mustInsert(t, conn, "fresh", active, 1)
	var fresh int64
	if err := conn.QueryRow(testContext(t), "SELECT id FROM system.web_sessions WHERE username = 'fresh'").Scan(&fresh); err != nil {
		t.Fatal(err)
	}
	if err := TouchSessions(testContext(t), conn, []Touch{{SessionID: fresh, ClientAddr: "192.0.2.5", UserAgent: "first"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if s := lastSeen(t, conn, fresh); s.LastIP != "192.0.2.5" || s.LastUserAgent != "first" {
		t.Errorf("the first use of a session just made: %q (%q); want 192.0.2.5 (first)", s.LastIP, s.LastUserAgent)
	}
}

// statementCounter counts the statements and batches a connection sends.
type statementCounter struct{ queries, batches int }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.queries++
	return ctx
}
func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.batches++
	return ctx
}
func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestTouchSessionsIsOneStatement: however many sessions, a touch is one
// statement, without a transaction block around it.
func TestTouchSessionsIsOneStatement(t *testing.T) {
	t.Parallel()
	_, dbURL := newStore(t)
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	counter := &statementCounter{}
	cfg.Tracer = counter
	conn, err := pgx.ConnectConfig(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ids := staleSessions(t, conn, 3)
	*counter = statementCounter{}
	touches := []Touch{{SessionID: ids[0]}, {SessionID: ids[1]}, {SessionID: ids[2]}}
	if err := TouchSessions(testContext(t), conn, touches, time.Minute); err != nil {
		t.Fatal(err)
	}
	if counter.queries+counter.batches != 1 {
		t.Errorf("a touch of 3 sessions sent %d statements and %d batches; want one statement", counter.queries, counter.batches)
	}
	if n := mustCount(t, conn, "system.web_sessions WHERE last_used_at > now() - INTERVAL '1 minute'"); n != 3 {
		t.Errorf("%d sessions touched; want 3", n)
	}
}
