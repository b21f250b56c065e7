package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/pkg/sql"
)

// benchDB is a database of the benchmark's own, with the schema installed
// and a role that logins are made for.
type benchDB struct {
	adminURL string // the server's superuser URL, for the drop
	name     string
	url      string // superuser URL of the database, given to both programs
	user     string // the role that login and logout name
	ownRole  bool   // user was created here and must be dropped
	conn     *pgx.Conn
}

// openBenchDB creates the database and applies the schema.
func openBenchDB(ctx context.Context, adminURL string) (*benchDB, error) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	db := &benchDB{adminURL: adminURL, name: "bench_cli_" + hex.EncodeToString(suffix)}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, fmt.Errorf("parse URL: %w", err)
	}
	u.Path = "/" + db.name
	db.url = u.String()
	if err := execOn(ctx, adminURL, "CREATE DATABASE "+db.name); err != nil {
		return nil, err
	}
	if db.conn, err = pgx.Connect(ctx, db.url); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := sql.Migrate(ctx, db.conn, sql.MigrateOptions{}); err != nil {
		return nil, err
	}
	// Roles are global to the server: on a shared server, a name of our own.
	db.user = "web_user"
	var exists bool
	if err := db.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", db.user).Scan(&exists); err != nil {
		return nil, err
	}
	if exists {
		db.user = "web_user_" + hex.EncodeToString(suffix)
	}
	if _, err := db.conn.Exec(ctx, "CREATE ROLE "+db.user+" LOGIN"); err != nil {
		return nil, fmt.Errorf("create role %s: %w", db.user, err)
	}
	db.ownRole = true
	return db, nil
}

func (db *benchDB) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if db.conn != nil {
		db.conn.Close(ctx)
	}
	var errs []string
	if err := execOn(ctx, db.adminURL, "DROP DATABASE IF EXISTS "+db.name+" WITH (FORCE)"); err != nil {
		errs = append(errs, err.Error())
	}
	if db.ownRole {
		if err := execOn(ctx, db.adminURL, "DROP ROLE IF EXISTS "+db.user); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("clean up: %s", strings.Join(errs, "; "))
	}
	return nil
}

func execOn(ctx context.Context, dbURL, stmt string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

// describe prints what the run measures on.
func (db *benchDB) describe(ctx context.Context, out io.Writer, o options) error {
	var version string
	if err := db.conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return err
	}
	u, _ := url.Parse(db.url)
	fmt.Fprintf(out, "PostgreSQL %s at %s (same URL for both programs), auth-session %s, psql %s\n",
		version, u.Redacted(), o.bin, o.psql)
	return nil
}

// Columns filled by COPY; the rest keep their defaults.
var fillColumns = []string{"id", "hashed_secret", "username", "user_id", "created_at", "expires_at", "revoked_at", "last_used_at", "audit_info"}

// fillSpec describes generated sessions.
type fillSpec struct {
	rows int
	// username of row i.
	username func(i int) string
	// revoked and expired choose the state of row i.
	revoked, expired func(i int) bool
	// expiresAt, when set, is the expiry of row i instead of the one
	// expired chooses.
	expiresAt func(i int, now time.Time) time.Time
}

// refill empties the session table, fills it with COPY as spec says, and
// vacuums, analyzes and checkpoints, so that every run starts from the same
// state.
func (db *benchDB) refill(ctx context.Context, spec fillSpec) error {
	if _, err := db.conn.Exec(ctx, "TRUNCATE system.web_sessions, system.session_events, system.web_session_logouts"); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	base := now.Add(-time.Duration(spec.rows) * time.Millisecond).Add(-time.Hour)
	secret := make([]byte, 32)
	audit := `{"via": "cli", "actor": "postgres", "client_host": "bench"}`
	i := 0
	_, err := db.conn.CopyFrom(ctx, pgx.Identifier{"system", "web_sessions"}, fillColumns,
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == spec.rows {
				return nil, nil
			}
			created := base.Add(time.Duration(i) * time.Millisecond)
			expires := now.Add(time.Hour)
			if spec.expired(i) {
				expires = created.Add(time.Minute)
			}
			if spec.expiresAt != nil {
				expires = spec.expiresAt(i, now)
			}
			var revoked *time.Time
			if spec.revoked(i) {
				r := created.Add(time.Second)
				revoked = &r
			}
			binary.BigEndian.PutUint64(secret, uint64(i)*0x9e3779b97f4a7c15)
			row := []any{int64(1)<<40 + int64(i), secret, spec.username(i), int64(16384), created, expires, revoked, created, audit}
			i++
			return row, nil
		}))
	if err != nil {
		return fmt.Errorf("fill sessions with COPY: %w", err)
	}
	for _, stmt := range []string{"VACUUM (ANALYZE) system.web_sessions", "CHECKPOINT"} {
		if _, err := db.conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

func never(int) bool { return false }
