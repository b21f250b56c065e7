package pgtest

import (
	"context"
	"errors"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestMain(m *testing.M) { Main(m) }

// queryString runs a one-value query on dbURL.
func queryString(t *testing.T, dbURL, sql string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql, args...).Scan(&s); err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return s
}

func TestNewDBGivesEachParallelTestItsOwnDatabase(t *testing.T) {
	var (
		mu    sync.Mutex
		names = map[string]string{} // subtest -> database
	)
	t.Run("group", func(t *testing.T) {
		for _, sub := range []string{"a", "b"} {
			t.Run(sub, func(t *testing.T) {
				t.Parallel()
				dbURL := NewDB(t)
				db := queryString(t, dbURL, "SELECT current_database()")
				mu.Lock()
				names[sub] = db
				mu.Unlock()

				// The same table name in both databases must not clash.
				MustExec(t, dbURL, "CREATE TABLE item (name text); INSERT INTO item VALUES ('x')")
				MustExec(t, dbURL, "INSERT INTO item VALUES ($1)", sub)
				if n := queryString(t, dbURL, "SELECT count(*)::text FROM item"); n != "2" {
					t.Errorf("rows in item = %s, want 2", n)
				}

				// A connection left open must not stop the drop.
				conn, err := pgx.Connect(context.Background(), dbURL)
				if err != nil {
					t.Fatal(err)
				}
				_ = conn // deliberately never closed
			})
		}
	})
	if names["a"] == "" || names["a"] == names["b"] {
		t.Fatalf("databases = %v, want two different ones", names)
	}
	for _, db := range names {
		exists := queryString(t, AdminURL(), "SELECT (count(*) > 0)::text FROM pg_database WHERE datname = $1", db)
		if exists != "false" {
			t.Errorf("database %s still exists after its test ended", db)
		}
	}
}

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	tests := []struct {
		prefix   string
		wantHead string
	}{
		{"web_user", "web_user_"},
		{"Web-User", "web_user_"},
		{"TestFoo/sub case", "testfoo_sub_case_"},
		{"9lives", "n9lives_"},
		{"", "n_"},
		{string(make([]byte, 100)), "_____"},
	}
	for _, tt := range tests {
		a, b := UniqueName(tt.prefix), UniqueName(tt.prefix)
		if a == b {
			t.Errorf("UniqueName(%q) returned %s twice", tt.prefix, a)
		}
		for _, name := range []string{a, b} {
			if !valid.MatchString(name) || name[:len(tt.wantHead)] != tt.wantHead {
				t.Errorf("UniqueName(%q) = %q, want a lower-case identifier of at most 63 bytes starting %q", tt.prefix, name, tt.wantHead)
			}
		}
	}
}

func TestWithUser(t *testing.T) {
	const base = "postgres://postgres:secret@127.0.0.1:5432/app?sslmode=disable"
	tests := []struct {
		name, user, password, want string
	}{
		{"replace", "web", "pw", "postgres://web:pw@127.0.0.1:5432/app?sslmode=disable"},
		{"drop password", "web", "", "postgres://web@127.0.0.1:5432/app?sslmode=disable"},
		{"escape", "a@b", "p/w:x", "postgres://a%40b:p%2Fw%3Ax@127.0.0.1:5432/app?sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WithUser(base, tt.user, tt.password); got != tt.want {
				t.Errorf("WithUser() = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestRoleLogin is the pattern other packages follow: a role with a unique
// name, logging in with its password over scram-sha-256.
func TestRoleLogin(t *testing.T) {
	t.Parallel()
	dbURL := NewDB(t)
	role := UniqueName("web_user")
	MustExec(t, dbURL, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD 'pw'")
	t.Cleanup(func() { MustExec(t, AdminURL(), "DROP ROLE "+pgx.Identifier{role}.Sanitize()) })

	if got := queryString(t, WithUser(dbURL, role, "pw"), "SELECT current_user"); got != role {
		t.Errorf("current_user = %s, want %s", got, role)
	}
	_, err := pgx.Connect(context.Background(), WithUser(dbURL, role, "wrong"))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Errorf("connect with a wrong password: err = %v, want SQLSTATE 28P01", err)
	}
}

func TestCluster(t *testing.T) {
	if os.Getenv(URLEnv) != "" {
		if Cluster() != nil {
			t.Errorf("Cluster() = %v with %s set, want nil", Cluster(), URLEnv)
		}
		return
	}
	c := Cluster()
	if c == nil {
		t.Fatal("Cluster() = nil, want the cluster Main started")
	}
	if AdminURL() != c.SuperURL("postgres") {
		t.Errorf("AdminURL() = %s, want %s", AdminURL(), c.SuperURL("postgres"))
	}
}

// setups counts the runs of withItem's set-up.
var setups atomic.Int32

// withItem is a Template whose database holds a table with one row.
var withItem = NewTemplate("with_item", func(ctx context.Context, conn *pgx.Conn) error {
	setups.Add(1)
	_, err := conn.Exec(ctx, "CREATE TABLE item (name text); INSERT INTO item VALUES ('from the template')")
	return err
})

func TestTemplateGivesEachParallelTestACopy(t *testing.T) {
	t.Run("group", func(t *testing.T) {
		for _, sub := range []string{"a", "b", "c"} {
			t.Run(sub, func(t *testing.T) {
				t.Parallel()
				dbURL := withItem.NewDB(t)
				if got := queryString(t, dbURL, "SELECT string_agg(name, ',') FROM item"); got != "from the template" {
					t.Errorf("items = %q, want the template's one", got)
				}
				// What a test adds stays in its copy: the others see only the template's row.
				MustExec(t, dbURL, "INSERT INTO item VALUES ($1)", sub)
				if n := queryString(t, dbURL, "SELECT count(*)::text FROM item"); n != "2" {
					t.Errorf("rows in item = %s, want 2", n)
				}
			})
		}
	})
	if n := setups.Load(); n != 1 {
		t.Errorf("the template was set up %d times, want once", n)
	}
	// Nobody connects to the template itself, so that copying it never
	// finds it in use.
	_, err := pgx.Connect(context.Background(), withDatabase(AdminURL(), withItem.name))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "55000" {
		t.Errorf("connect to the template database: err = %v, want SQLSTATE 55000 (connections not allowed)", err)
	}
}
