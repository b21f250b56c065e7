package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/internal/sqltest"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// store is a migrated database of the test's own.
type store struct {
	pool *pgxpool.Pool
}

func newStore(t *testing.T) *store {
	t.Helper()
	pool := sqltest.Migrated.NewPool(t)
	return &store{pool: pool}
}

func (s *store) mustExec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := s.pool.Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// newRole creates a login role with a unique name, dropped after the test.
func (s *store) newRole(t *testing.T) string {
	t.Helper()
	name := pgtest.UniqueName("web_user")
	s.mustExec(t, "CREATE ROLE "+name+" LOGIN")
	t.Cleanup(func() {
		// Roles outlive the test's database: they belong to the cluster.
		s.pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+name) //nolint:errcheck
	})
	return name
}

// newSession mints a session for username and returns its cookie value.
func (s *store) newSession(t *testing.T, username string) (int64, string) {
	t.Helper()
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	session, err := sql.NewStore(s.pool).Login(context.Background(), sql.NewSession{
		Username: username, HashedSecret: auth.HashSecret(secret), ExpireAfter: time.Hour,
	}, sql.Actor{Via: "cli"}, sql.LoginOptions{})
	if err != nil {
		t.Fatalf("create session for %s: %v", username, err)
	}
	return session.ID, auth.EncodeValue(session.ID, secret)
}

func (s *store) lastUsed(t *testing.T, id int64) time.Time {
	t.Helper()
	var at time.Time
	err := s.pool.QueryRow(context.Background(), "SELECT last_used_at FROM system.web_sessions WHERE id = $1", id).Scan(&at)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// echoIdentity answers 200 with the identity the middleware passed on.
var echoIdentity = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	id, ok := auth.IdentityFrom(r.Context())
	if !ok {
		http.Error(w, "no identity in context", http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(id) //nolint:errcheck
})

func serve(v *auth.Verifier, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	v.Middleware(echoIdentity).ServeHTTP(rec, req)
	return rec
}

func withCookie(value string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: value}) }
}

func withHeader(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

func newRequest(present ...func(*http.Request)) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/api/v2/whoami", nil)
	for _, p := range present {
		p(req)
	}
	return req
}

// otherSecret returns value with the same session id and another secret.
func otherSecret(t *testing.T, value string) string {
	t.Helper()
	id, secret, err := auth.DecodeValue(value)
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(secret)
	other[0] ^= 0xff
	return auth.EncodeValue(id, other)
}

func TestMiddlewareAcceptsEveryWayOfPresenting(t *testing.T) {
	s := newStore(t)
	v := &auth.Verifier{DB: s.pool}
	// The first request records the session's first use: written before
	// the pool closes.
	t.Cleanup(v.WaitForTouches)
	user := s.newRole(t)
	sessionID, value := s.newSession(t, user)

	tests := []struct {
		name       string
		present    []func(*http.Request)
		wantSource auth.Source
	}{
		{"cookie", []func(*http.Request){withCookie(value)}, auth.SourceCookie},
		{"cookie line as curl sends it", []func(*http.Request){withHeader("Cookie", auth.SetCookieString(value, true))}, auth.SourceCookie},
		{"X-Auth-Session header", []func(*http.Request){withHeader(auth.HeaderName, value)}, auth.SourceHeader},
		{"Authorization Bearer", []func(*http.Request){withHeader("Authorization", "Bearer "+value)}, auth.SourceBearer},
		{"bearer scheme in lower case", []func(*http.Request){withHeader("Authorization", "bearer "+value)}, auth.SourceBearer},
		{"cookie next to Basic authorization", []func(*http.Request){withHeader("Authorization", "Basic dTpw"), withCookie(value)}, auth.SourceCookie},
		{"header wins over a stale cookie", []func(*http.Request){withCookie("stale"), withHeader(auth.HeaderName, value)}, auth.SourceHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(v, newRequest(tt.present...))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, body %s; want 200", rec.Code, rec.Body)
			}
			var got auth.Identity
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Username != user || got.SessionID != sessionID || got.Source != tt.wantSource || got.ExpiresAt.IsZero() || got.UserID == 0 {
				t.Errorf("identity %+v; want user %s, session %d, source %s", got, user, sessionID, tt.wantSource)
			}
		})
	}
}

func TestMiddlewareRefusesUniformly(t *testing.T) {
	s := newStore(t)
	v := &auth.Verifier{DB: s.pool}

	tests := []struct {
		name string
		// request returns the request to send, having set up its case.
		request func(t *testing.T) *http.Request
	}{
		{"nothing presented", func(t *testing.T) *http.Request { return newRequest() }},
		{"bad base64", func(t *testing.T) *http.Request {
			return newRequest(withCookie(strings.Repeat("!", 56)))
		}},
		{"bad base64 in header", func(t *testing.T) *http.Request {
			return newRequest(withHeader(auth.HeaderName, "not a session"))
		}},
		{"empty bearer", func(t *testing.T) *http.Request {
			return newRequest(withHeader("Authorization", "Bearer "))
		}},
		{"unknown id", func(t *testing.T) *http.Request {
			secret, _ := auth.NewSecret()
			return newRequest(withCookie(auth.EncodeValue(1<<62+12345, secret)))
		}},
		{"wrong secret", func(t *testing.T) *http.Request {
			_, value := s.newSession(t, s.newRole(t))
			return newRequest(withCookie(otherSecret(t, value)))
		}},
		{"truncated value", func(t *testing.T) *http.Request {
			_, value := s.newSession(t, s.newRole(t))
			return newRequest(withCookie(value[:len(value)-4]))
		}},
		{"revoked", func(t *testing.T) *http.Request {
			id, value := s.newSession(t, s.newRole(t))
			if _, err := sql.NewStore(s.pool).Revoke(context.Background(), sql.ByIDs(id), sql.RevokeOptions{}, nil); err != nil {
				t.Fatal(err)
			}
			return newRequest(withCookie(value))
		}},
		{"expired", func(t *testing.T) *http.Request {
			id, value := s.newSession(t, s.newRole(t))
			s.mustExec(t, "UPDATE system.web_sessions SET expires_at = now() - INTERVAL '1 second' WHERE id = $1", id)
			return newRequest(withHeader(auth.HeaderName, value))
		}},
		{"dropped role", func(t *testing.T) *http.Request {
			user := s.newRole(t)
			_, value := s.newSession(t, user)
			s.mustExec(t, "DROP ROLE "+user)
			return newRequest(withCookie(value))
		}},
		{"NOLOGIN role", func(t *testing.T) *http.Request {
			user := s.newRole(t)
			_, value := s.newSession(t, user)
			s.mustExec(t, "ALTER ROLE "+user+" NOLOGIN")
			return newRequest(withHeader("Authorization", "Bearer "+value))
		}},
		{"role past VALID UNTIL", func(t *testing.T) *http.Request {
			user := s.newRole(t)
			_, value := s.newSession(t, user)
			s.mustExec(t, "ALTER ROLE "+user+" VALID UNTIL '2001-01-01'")
			return newRequest(withCookie(value))
		}},
		{"role re-created with the same name", func(t *testing.T) *http.Request {
			user := s.newRole(t)
			_, value := s.newSession(t, user)
			s.mustExec(t, "DROP ROLE "+user)
			s.mustExec(t, "CREATE ROLE "+user+" LOGIN")
			return newRequest(withCookie(value))
		}},
		{"role renamed", func(t *testing.T) *http.Request {
			user := s.newRole(t)
			_, value := s.newSession(t, user)
			s.mustExec(t, "ALTER ROLE "+user+" RENAME TO "+user+"_x")
			t.Cleanup(func() { s.pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+user+"_x") }) //nolint:errcheck
			return newRequest(withCookie(value))
		}},
		{"bad header next to a valid cookie", func(t *testing.T) *http.Request {
			_, value := s.newSession(t, s.newRole(t))
			return newRequest(withCookie(value), withHeader(auth.HeaderName, "garbage"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(v, tt.request(t))
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, body %s; want 401", rec.Code, rec.Body)
			}
			if got := rec.Body.String(); got != auth.UnauthorizedBody+"\n" {
				t.Errorf("body %q; want %q", got, auth.UnauthorizedBody+"\n")
			}
			for name, want := range map[string]string{
				"Content-Type":           "application/json",
				"Cache-Control":          "no-store",
				"X-Content-Type-Options": "nosniff",
				"WWW-Authenticate":       `Bearer realm="auth-session"`,
			} {
				if got := rec.Header().Get(name); got != want {
					t.Errorf("%s %q; want %q", name, got, want)
				}
			}
		})
	}
}

func TestMiddlewareTouchesLastUsedOnlyWhenStale(t *testing.T) {
	s := newStore(t)
	v := &auth.Verifier{DB: s.pool, TouchInterval: time.Minute}
	user := s.newRole(t)

	t.Run("fresh", func(t *testing.T) {
		id, value := s.newSession(t, user)
		// Its first use over HTTP is recorded at once (see
		// TestMiddlewareRecordsTheLastUse); the next one within the
		// interval is not.
		if rec := serve(v, newRequest(withCookie(value))); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		v.WaitForTouches()
		before := s.lastUsed(t, id)
		if rec := serve(v, newRequest(withCookie(value))); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		v.WaitForTouches()
		if after := s.lastUsed(t, id); !after.Equal(before) {
			t.Errorf("last_used_at moved from %v to %v within the touch interval", before, after)
		}
	})
	t.Run("stale", func(t *testing.T) {
		id, value := s.newSession(t, user)
		s.mustExec(t, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '10 minutes' WHERE id = $1", id)
		before := s.lastUsed(t, id)
		if rec := serve(v, newRequest(withCookie(value))); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		v.WaitForTouches()
		if after := s.lastUsed(t, id); !after.After(before.Add(5 * time.Minute)) {
			t.Errorf("last_used_at %v not moved on from %v", after, before)
		}
	})
	t.Run("refused requests touch nothing", func(t *testing.T) {
		id, value := s.newSession(t, user)
		s.mustExec(t, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '10 minutes' WHERE id = $1", id)
		before := s.lastUsed(t, id)
		if rec := serve(v, newRequest(withCookie(otherSecret(t, value)))); rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", rec.Code)
		}
		v.WaitForTouches()
		if after := s.lastUsed(t, id); !after.Equal(before) {
			t.Errorf("a wrong secret moved last_used_at from %v to %v", before, after)
		}
	})
}

// lastSeen reads a session as list shows it.
func (s *store) lastSeen(t *testing.T, id int64) sql.ListedSession {
	t.Helper()
	l, _, err := sql.GetListedSession(context.Background(), s.pool, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestMiddlewareRecordsTheLastUse: a session made by the CLI records no
// use until its first over HTTP, which it records at once, however soon
// after the login: the request's address and User-Agent, while the
// login's stay empty. A use within the touch interval records nothing; a
// use after it, from elsewhere, is recorded.
func TestMiddlewareRecordsTheLastUse(t *testing.T) {
	s := newStore(t)
	v := &auth.Verifier{DB: s.pool, TouchInterval: time.Minute}
	id, value := s.newSession(t, s.newRole(t))
	from := func(addr, agent string) func(*http.Request) {
		return func(r *http.Request) { r.RemoteAddr, r.Header["User-Agent"] = addr, []string{agent} }
	}
	if l := s.lastSeen(t, id); l.LastIP != "" || l.LastUserAgent != "" {
		t.Fatalf("a session the CLI made, never used: last seen from %q (%q); want nothing", l.LastIP, l.LastUserAgent)
	}

	for _, use := range []struct {
		name, addr, agent string
		stale             bool
		wantIP, wantAgent string
	}{
		{"first use", "203.0.113.9:5555", "agent-one", false, "203.0.113.9", "agent-one"},
		{"within the interval", "[2001:db8::7]:443", "agent-two", false, "203.0.113.9", "agent-one"},
		{"after the interval", "[2001:db8::7]:443", "agent-two", true, "2001:db8::7", "agent-two"},
	} {
		if use.stale {
			s.mustExec(t, "UPDATE system.web_sessions SET last_used_at = now() - INTERVAL '10 minutes' WHERE id = $1", id)
		}
		if rec := serve(v, newRequest(withCookie(value), from(use.addr, use.agent))); rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", use.name, rec.Code)
		}
		v.WaitForTouches()
		l := s.lastSeen(t, id)
		if l.LastIP != use.wantIP || l.LastUserAgent != use.wantAgent {
			t.Errorf("%s: last seen from %q (%q); want %q (%q)", use.name, l.LastIP, l.LastUserAgent, use.wantIP, use.wantAgent)
		}
		if l.IP != "" || l.UserAgent != "" {
			t.Errorf("%s: the CLI login's address and User-Agent became %q (%q); want them empty", use.name, l.IP, l.UserAgent)
		}
	}
}

func TestMiddlewareStoreDownIs503(t *testing.T) {
	// Nothing listens on port 1: every lookup fails to connect.
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var logs bytes.Buffer
	v := &auth.Verifier{DB: pool, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	secret, _ := auth.NewSecret()
	value := auth.EncodeValue(42, secret)
	rec := serve(v, newRequest(withCookie(value)))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, body %s; want 503", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "cannot verify session") {
		t.Errorf("log %q does not report the store error", logs.String())
	}
	if strings.Contains(logs.String(), value) || strings.Contains(logs.String(), base64.StdEncoding.EncodeToString(secret)) {
		t.Errorf("log leaks the session value: %q", logs.String())
	}
}

func TestMiddlewareLogsReasonWithoutSecrets(t *testing.T) {
	s := newStore(t)
	var logs bytes.Buffer
	v := &auth.Verifier{DB: s.pool, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	_, value := s.newSession(t, s.newRole(t))
	wrong := otherSecret(t, value)
	serve(v, newRequest(withCookie(wrong)))
	if !strings.Contains(logs.String(), `reason="wrong secret"`) {
		t.Errorf("debug log %q does not say why", logs.String())
	}
	if strings.Contains(logs.String(), wrong) || strings.Contains(logs.String(), value) {
		t.Errorf("log leaks a session value: %q", logs.String())
	}
}

func TestIdentityFromPlainContext(t *testing.T) {
	if _, ok := auth.IdentityFrom(context.Background()); ok {
		t.Error("IdentityFrom found an identity in an empty context")
	}
	want := auth.Identity{Username: "u", SessionID: 7}
	if got, ok := auth.IdentityFrom(auth.WithIdentity(context.Background(), want)); !ok || got != want {
		t.Errorf("IdentityFrom(WithIdentity(%+v)) = %+v, %v", want, got, ok)
	}
}

// TestCheckSessionIsOneRoundTrip guards the hot path: a session used
// within the touch interval costs the middleware one statement.
func TestCheckSessionIsOneRoundTrip(t *testing.T) {
	s := newStore(t)
	user := s.newRole(t)
	id, value := s.newSession(t, user)
	// Used over HTTP a moment ago: its first use is recorded.
	s.mustExec(t, "UPDATE system.web_sessions SET last_user_agent = '' WHERE id = $1", id)
	counter := &countingDB{DBTX: s.pool}
	v := &auth.Verifier{DB: counter}
	if rec := serve(v, newRequest(withCookie(value))); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if counter.n != 1 {
		t.Errorf("verification ran %d statements; want 1", counter.n)
	}
}

type countingDB struct {
	sql.DBTX
	n int
}

func (c *countingDB) QueryRow(ctx context.Context, query string, args ...any) pgx.Row {
	c.n++
	return c.DBTX.QueryRow(ctx, query, args...)
}

func (c *countingDB) Query(ctx context.Context, query string, args ...any) (pgx.Rows, error) {
	c.n++
	return c.DBTX.Query(ctx, query, args...)
}

func (c *countingDB) Exec(ctx context.Context, query string, args ...any) (pgconn.CommandTag, error) {
	c.n++
	return c.DBTX.Exec(ctx, query, args...)
}

// TestMiddlewareReadDB: what ReadDB finds is the answer, even against the
// primary; a session it lacks, and every lookup it fails, is asked of DB.
func TestMiddlewareReadDB(t *testing.T) {
	primary, replica := newStore(t), newStore(t)
	user := primary.newRole(t)
	onlyOnPrimary, value := primary.newSession(t, user)
	revokedOnReplica, revokedValue := primary.newSession(t, user)
	var hashed []byte
	var userID int64
	if err := primary.pool.QueryRow(context.Background(), "SELECT hashed_secret, user_id FROM system.web_sessions WHERE id = $1",
		revokedOnReplica).Scan(&hashed, &userID); err != nil {
		t.Fatal(err)
	}
	// The replica has the second session, revoked: as a standby that
	// replayed a revocation the primary's copy here does not show.
	replica.mustExec(t, `INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, expires_at, revoked_at, audit_info)
		VALUES ($1, $2, $3, $4, now() + INTERVAL '1 hour', now(), '{}')`, revokedOnReplica, hashed, user, userID)

	v := &auth.Verifier{DB: primary.pool, ReadDB: replica.pool}
	if rec := serve(v, newRequest(withCookie(value))); rec.Code != http.StatusOK {
		t.Errorf("session %d only on the primary: status %d; want 200, asked of the primary", onlyOnPrimary, rec.Code)
	}
	if rec := serve(v, newRequest(withCookie(revokedValue))); rec.Code != http.StatusUnauthorized {
		t.Errorf("session %d revoked on the read database: status %d; want 401, its answer final", revokedOnReplica, rec.Code)
	}

	down, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	var readErrors int
	v = &auth.Verifier{DB: primary.pool, ReadDB: down, OnReadError: func(context.Context, error) { readErrors++ }}
	if rec := serve(v, newRequest(withCookie(value))); rec.Code != http.StatusOK || readErrors != 1 {
		t.Errorf("read database down: status %d, %d read errors reported; want 200 from the primary and 1", rec.Code, readErrors)
	}
}

// TestMiddlewareErrorHook: a program answers refusals in its own format.
func TestMiddlewareErrorHook(t *testing.T) {
	s := newStore(t)
	var statuses []int
	v := &auth.Verifier{DB: s.pool, WriteError: func(w http.ResponseWriter, r *http.Request, status int, err error) {
		statuses = append(statuses, status)
		if !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("hook got %v; want ErrUnauthenticated", err)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		io.WriteString(w, "sign in first\n") //nolint:errcheck
	}}
	rec := serve(v, newRequest(withCookie("not-a-session")))
	if rec.Code != http.StatusUnauthorized || rec.Body.String() != "sign in first\n" || rec.Header().Get("Content-Type") != "text/plain" {
		t.Errorf("refusal through the hook: %d %q %q; want 401 text/plain \"sign in first\"", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if len(statuses) != 1 || statuses[0] != http.StatusUnauthorized {
		t.Errorf("hook called with %v; want once with 401", statuses)
	}
	// Without the hook the body is the documented one.
	rec = serve(&auth.Verifier{DB: s.pool}, newRequest(withCookie("not-a-session")))
	if got := strings.TrimSpace(rec.Body.String()); got != auth.UnauthorizedBody {
		t.Errorf("default 401 body %q; want %q", got, auth.UnauthorizedBody)
	}
}
