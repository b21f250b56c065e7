package sql

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/schema"
)

// Migration is one numbered schema file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(schema.Files, ".")
	if err != nil {
		return nil, fmt.Errorf("read embedded schema: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("schema file %q: want NNNN_description.sql", e.Name())
		}
		body, err := fs.ReadFile(schema.Files, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read schema file %q: %w", e.Name(), err)
		}
		out = append(out, Migration{Version: version, Name: e.Name(), SQL: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	return out, nil
}

// LatestVersion is the schema version this binary expects.
func LatestVersion() int {
	ms, err := Migrations()
	if err != nil || len(ms) == 0 {
		// The files are embedded at build time; a bad name is caught by tests.
		panic(fmt.Sprintf("embedded schema is broken: %v", err))
	}
	return ms[len(ms)-1].Version
}

const (
	createSystemSchema = `CREATE SCHEMA IF NOT EXISTS system`
	createMigrations   = `CREATE TABLE IF NOT EXISTS system.schema_migrations (
    version    INT         NOT NULL PRIMARY KEY,
    name       TEXT        NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`
	// The version table tells anyone which schema a database has; the
	// session tables themselves stay closed to PUBLIC.
	grantMigrations = `GRANT USAGE ON SCHEMA system TO PUBLIC;
GRANT SELECT ON system.schema_migrations TO PUBLIC`
	adminExists = `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'admin')`
	createRole  = `CREATE ROLE admin NOLOGIN`
	// Claiming a version by inserting its row is the lock: a second process
	// inserting the same key waits for the first to commit, then finds the
	// conflict and skips the file. Unlike advisory locks or LOCK TABLE, this
	// works the same on CockroachDB.
	claimMigration = `INSERT INTO system.schema_migrations (version, name) VALUES ($1, $2)
ON CONFLICT (version) DO NOTHING RETURNING version`
)

// Migrate creates the admin role if missing and applies every migration not
// yet recorded, each in its own transaction. It is idempotent and safe to run
// from several processes at once. It returns the versions it applied.
func Migrate(ctx context.Context, db interface {
	DBTX
	TxBeginner
}) ([]int, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	// A current schema needs nothing, not even the CREATE ... IF NOT EXISTS
	// of bootstrap, which a member of admin without CREATE on the database
	// may not run.
	if v, err := schemaVersion(ctx, db); err == nil && v >= ms[len(ms)-1].Version {
		return nil, nil
	}
	if err := bootstrap(ctx, db); err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range ms {
		var done bool
		err := RunInTx(ctx, db, func(tx pgx.Tx) error {
			done = false
			var v int
			switch err := tx.QueryRow(ctx, inSchema(claimMigration), m.Version, m.Name).Scan(&v); {
			case err == pgx.ErrNoRows:
				return nil
			case err != nil:
				return err
			}
			if _, err := tx.Exec(ctx, inSchema(m.SQL)); err != nil {
				return err
			}
			done = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("apply schema %s: %w", m.Name, err)
		}
		if done {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

const currentVersion = `SELECT COALESCE(max(version), 0) FROM system.schema_migrations`

// schemaVersion is the newest applied migration; an error when the version
// table is missing.
func schemaVersion(ctx context.Context, db DBTX) (int, error) {
	var v int
	err := db.QueryRow(ctx, inSchema(currentVersion)).Scan(&v)
	return v, err
}

// bootstrap creates the admin role, the system schema and the version table.
// Concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL's
// catalogs (a unique violation), so the step is retried until it settles.
func bootstrap(ctx context.Context, db DBTX) error {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if lastErr = bootstrapOnce(ctx, db); lastErr == nil {
			return nil
		}
		switch SQLState(lastErr) {
		case "23505", "42710", "42P06", "42P07", "40001", "40P01", "XX000":
			time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
		default:
			return lastErr
		}
	}
	return lastErr
}

func bootstrapOnce(ctx context.Context, db DBTX) error {
	var exists bool
	if err := db.QueryRow(ctx, inSchema(adminExists)).Scan(&exists); err != nil {
		return fmt.Errorf("look up role admin: %w", err)
	}
	if !exists {
		if _, err := db.Exec(ctx, inSchema(createRole)); err != nil {
			return fmt.Errorf("create role admin: %w", err)
		}
	}
	for _, stmt := range []string{createSystemSchema, createMigrations, grantMigrations} {
		if _, err := db.Exec(ctx, inSchema(stmt)); err != nil {
			return fmt.Errorf("create schema %s: %w", Schema(), err)
		}
	}
	return nil
}
