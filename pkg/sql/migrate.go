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
	// The version table tells anyone which schema a database has; the
	// session tables themselves stay closed to PUBLIC. The schema, its
	// version table and (on PostgreSQL) pg_trgm, which 0004's trigram index
	// needs, are made in one transaction, so that a concurrent init sees
	// either none of them or all: a schema without the version table is
	// one init did not make.
	createSystemSchema = `CREATE SCHEMA IF NOT EXISTS system;
CREATE TABLE IF NOT EXISTS system.schema_migrations (
    version    INT         NOT NULL PRIMARY KEY,
    name       TEXT        NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
GRANT USAGE ON SCHEMA system TO PUBLIC;
GRANT SELECT ON system.schema_migrations TO PUBLIC`
	// Claiming a version by inserting its row is the lock: a second process
	// inserting the same key waits for the first to commit, then finds the
	// conflict and skips the file. Unlike advisory locks or LOCK TABLE, this
	// works the same on CockroachDB.
	claimMigration = `INSERT INTO system.schema_migrations (version, name) VALUES ($1, $2)
ON CONFLICT (version) DO NOTHING RETURNING version`
)

// MigrateOptions say what Migrate may take over that it did not create.
type MigrateOptions struct {
	// Adopt lets Migrate use an admin role, or a schema without a version
	// table, that init did not create. Without it, Migrate reports them and
	// stops. Nothing is adopted that CheckTrust refuses.
	Adopt bool
}

// MigrateResult is what Migrate did.
type MigrateResult struct {
	// Applied holds the versions applied, in order.
	Applied []int
	// Adopted describes what was adopted with MigrateOptions.Adopt, for the
	// operator to review.
	Adopted []string
}

// Migrate creates the admin role if missing and applies every migration not
// yet recorded, each in its own transaction. It is idempotent and safe to run
// from several processes at once.
//
// Before it reads or writes anything in the schema it checks who controls
// it (CheckTrust), and it never silently takes over an admin role or a
// schema it did not create (ErrForeignAdminRole, ErrForeignSchema).
func Migrate(ctx context.Context, db interface {
	DBTX
	TxBeginner
}, opts MigrateOptions) (MigrateResult, error) {
	return migrateTo(ctx, db, opts, 0)
}

// migrateTo is Migrate up to version upTo, or to the latest when upTo is 0:
// the tests use it to make a database as an older binary left it.
func migrateTo(ctx context.Context, db interface {
	DBTX
	TxBeginner
}, opts MigrateOptions, upTo int) (MigrateResult, error) {
	var res MigrateResult
	ms, err := Migrations()
	if err != nil {
		return res, err
	}
	if upTo > 0 {
		ms = slices.DeleteFunc(ms, func(m Migration) bool { return m.Version > upTo })
	}
	latest := ms[len(ms)-1].Version
	if err := CheckTrust(ctx, db, SchemaOf(db)); err != nil {
		return res, err
	}
	state, err := readSchemaState(ctx, db)
	if err != nil {
		return res, err
	}
	if state.hasVersions {
		v, err := schemaVersion(ctx, db)
		if err != nil {
			return res, fmt.Errorf("read the schema version: %w", err)
		}
		if v > latest {
			return res, fmt.Errorf("%w (database has version %d, binary knows %d)", ErrSchemaTooNew, v, latest)
		}
		// A current schema needs nothing, not even the CREATE ... IF NOT
		// EXISTS of bootstrap, which a member of admin without CREATE on
		// the database may not run.
		if v == latest {
			return res, nil
		}
	}
	if res.Adopted, err = bootstrap(ctx, db, opts); err != nil {
		return res, err
	}
	searchPath, err := migrationSearchPath(ctx, db)
	if err != nil {
		return res, err
	}
	for _, m := range ms {
		var done bool
		err := runInTx(ctx, db, func(tx pgx.Tx) error {
			done = false
			if _, err := tx.Exec(ctx, searchPath); err != nil {
				return err
			}
			var v int
			switch err := tx.QueryRow(ctx, inSchema(tx, claimMigration), m.Version, m.Name).Scan(&v); {
			case err == pgx.ErrNoRows:
				return nil
			case err != nil:
				return err
			}
			if _, err := tx.Exec(ctx, inSchema(tx, m.SQL)); err != nil {
				return err
			}
			done = true
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("apply schema %s: %w", m.Name, err)
		}
		if done {
			res.Applied = append(res.Applied, m.Version)
		}
	}
	// What init just made is owned by whoever ran it: a role outside
	// superuser and admin would leave a schema no command will use.
	return res, CheckTrust(ctx, db, SchemaOf(db))
}

const currentVersion = `SELECT COALESCE(max(version), 0) FROM system.schema_migrations`

// schemaVersion is the newest applied migration; an error when the version
// table is missing.
func schemaVersion(ctx context.Context, db DBTX) (int, error) {
	var v int
	err := db.QueryRow(ctx, inSchema(db, currentVersion)).Scan(&v)
	return v, err
}

// schemaState is what the catalogs say of the schema, before anything in
// it is read.
type schemaState struct {
	exists      bool
	owner       string
	hasVersions bool
}

const readSchema = `SELECT n.nspowner::regrole::TEXT,
    EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'schema_migrations' AND c.relkind = 'r')
FROM pg_catalog.pg_namespace n WHERE n.nspname = $1`

func readSchemaState(ctx context.Context, db DBTX) (schemaState, error) {
	s := schemaState{exists: true}
	err := db.QueryRow(ctx, readSchema, SchemaOf(db)).Scan(&s.owner, &s.hasVersions)
	if err == pgx.ErrNoRows {
		return schemaState{}, nil
	}
	if err != nil {
		return s, fmt.Errorf("look up schema %s: %w", SchemaOf(db), err)
	}
	return s, nil
}

// migrationSearchPath is the search_path of a migration's transaction:
// pg_catalog first, as on every connection, then the schema itself and
// pg_trgm's, whose operator classes 0004's index names without a schema.
func migrationSearchPath(ctx context.Context, db DBTX) (string, error) {
	path := []string{"pg_catalog", SchemaOf(db)}
	var trgm string
	err := db.QueryRow(ctx, `SELECT n.nspname::TEXT FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`).Scan(&trgm)
	switch {
	case err == nil && trgm != SchemaOf(db):
		path = append(path, trgm)
	case err != nil && err != pgx.ErrNoRows:
		return "", fmt.Errorf("look up pg_trgm: %w", err)
	}
	for i, p := range path {
		path[i] = pgx.Identifier{p}.Sanitize()
	}
	return "SET LOCAL search_path = " + strings.Join(path, ", ") + ", pg_temp", nil
}

// bootstrap creates the admin role, the system schema and the version table.
// Concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL's
// catalogs (a unique violation), so the step is retried until it settles.
func bootstrap(ctx context.Context, db interface {
	DBTX
	TxBeginner
}, opts MigrateOptions) ([]string, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		adopted, err := bootstrapOnce(ctx, db, opts)
		if lastErr = err; err == nil {
			return adopted, nil
		}
		switch SQLState(lastErr) {
		case "23505", "42710", "42P06", "42P07", "40001", "40P01", "XX000":
			time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
		default:
			return nil, lastErr
		}
	}
	return nil, lastErr
}

func bootstrapOnce(ctx context.Context, db interface {
	DBTX
	TxBeginner
}, opts MigrateOptions) ([]string, error) {
	state, err := readSchemaState(ctx, db)
	if err != nil {
		return nil, err
	}
	var adopted []string
	if state.exists && !state.hasVersions {
		if !opts.Adopt {
			return nil, &ErrForeignSchema{Schema: SchemaOf(db), Owner: state.owner}
		}
		adopted = append(adopted, fmt.Sprintf("schema %s (owner %s)", SchemaOf(db), state.owner))
	}
	admin, err := readAdminRole(ctx, db)
	if err != nil {
		return nil, err
	}
	// An admin role without init's mark is adopted silently only where an
	// earlier init of this database used it already (before the mark).
	if admin.exists && !admin.marked && !state.hasVersions {
		if !opts.Adopt {
			return nil, &ErrForeignAdminRole{Role: admin}
		}
		adopted = append(adopted, (&ErrForeignAdminRole{Role: admin}).describe())
	}
	err = runInTx(ctx, db, func(tx pgx.Tx) error {
		if !admin.exists {
			if _, err := tx.Exec(ctx, createAdminRole); err != nil {
				return fmt.Errorf("create role admin: %w", err)
			}
		}
		if !admin.marked {
			if err := markAdminRole(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, inSchema(tx, createSystemSchema)); err != nil {
			return fmt.Errorf("create schema %s: %w", SchemaOf(db), err)
		}
		return createTrigramExtension(ctx, tx)
	})
	return adopted, err
}
