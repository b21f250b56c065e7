package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// opTimeout bounds each helper's work so that a stuck server fails the test
// instead of hanging it until the global test timeout.
const opTimeout = time.Minute

// maxIdentifier is PostgreSQL's identifier length limit (NAMEDATALEN-1).
const maxIdentifier = 63

// NewDB creates an empty database for this test and returns a superuser URL
// to it. The database is dropped, with any sessions still connected, when the
// test ends. Safe under t.Parallel().
func NewDB(t testing.TB) string {
	t.Helper()
	if adminURL == "" {
		t.Fatal("pgtest: NewDB needs a server: call pgtest.Main(m) from TestMain")
	}
	return newDB(t, "")
}

// newDB creates the test's database, with from (such as " TEMPLATE x")
// saying what it is a copy of, empty for template1.
func newDB(t testing.TB, from string) string {
	t.Helper()
	name := UniqueName(t.Name())
	ident := pgx.Identifier{name}.Sanitize()
	if err := execSQL(adminURL, "CREATE DATABASE "+ident+from+createStrategy); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// WITH (FORCE) ends sessions the test left open, such as a pool
		// whose Close was not reached.
		if err := execSQL(adminURL, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(adminURL, name)
}

var (
	issuedMu sync.Mutex
	issued   = map[string]bool{}
)

// UniqueName returns a lower-case identifier that starts with prefix (made
// lower-case, other characters than letters, digits and _ replaced by _) and
// ends with a random suffix, such as "web_user_3f9a1c2b". Names never repeat
// within the process, and the random suffix keeps test binaries that share a
// server apart; roles are global to a cluster, so parallel tests must not
// share role names.
func UniqueName(prefix string) string {
	base := sanitize(prefix)
	issuedMu.Lock()
	defer issuedMu.Unlock()
	for {
		b := make([]byte, 4)
		_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
		name := base + "_" + hex.EncodeToString(b)
		if !issued[name] {
			issued[name] = true
			return name
		}
	}
}

// sanitize turns prefix into the start of an unquoted identifier, leaving
// room for the suffix UniqueName adds.
func sanitize(prefix string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(prefix) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "n" + s
	}
	return s[:min(len(s), maxIdentifier-len("_12345678"))]
}

// WithUser returns dbURL with its user and password replaced; an empty
// password removes it. It panics on a URL that does not parse, which only a
// bug in the test can produce.
func WithUser(dbURL, user, password string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(fmt.Sprintf("pgtest: WithUser: parse URL: %v", err))
	}
	switch {
	case password != "":
		u.User = url.UserPassword(user, password)
	case user != "":
		u.User = url.User(user)
	default:
		u.User = nil
	}
	return u.String()
}

// MustExec runs sql with args on dbURL over a connection of its own and fails
// the test on error. Without args, sql may hold several statements.
func MustExec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	if err := execSQL(dbURL, sql, args...); err != nil {
		t.Fatalf("pgtest: exec %q: %v", abbreviate(sql), err)
	}
}

// execSQL runs sql on a fresh connection.
func execSQL(dbURL, sql string, args ...any) error {
	return onFreshConn(dbURL, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, sql, args...)
		return err
	})
}

// queryRow runs a one-row query on a fresh connection.
func queryRow(dbURL, sql string, dest ...any) error {
	return onFreshConn(dbURL, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, sql).Scan(dest...)
	})
}

// onFreshConn runs fn on a connection of its own to dbURL, within
// opTimeout. It does not use the test's context: that is canceled before
// cleanup functions run, and they call it too.
func onFreshConn(dbURL string, fn func(context.Context, *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return describe(fn(ctx, conn))
}

// connect opens a connection, saying where to when it fails.
func connect(ctx context.Context, dbURL string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(dbURL), describe(err))
	}
	return conn, nil
}

// describe adds the server's DETAIL and HINT to an error, which pgx leaves
// out of its message.
func describe(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	var extra strings.Builder
	if pgErr.Detail != "" {
		extra.WriteString("\nDETAIL: " + pgErr.Detail)
	}
	if pgErr.Hint != "" {
		extra.WriteString("\nHINT: " + pgErr.Hint)
	}
	if extra.Len() == 0 {
		return err
	}
	return fmt.Errorf("%w%s", err, extra.String())
}

// withDatabase returns dbURL pointing at database.
func withDatabase(dbURL, database string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(fmt.Sprintf("pgtest: parse URL: %v", err)) // Main checked it
	}
	u.Path, u.RawPath = "/"+database, ""
	return u.String()
}

// redact hides the password of a URL shown in a failure message.
func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "the database URL"
	}
	return u.Redacted()
}

func abbreviate(sql string) string {
	const maxLen = 200
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > maxLen {
		return sql[:maxLen] + "..."
	}
	return sql
}
