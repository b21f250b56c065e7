package sql

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The statements that only PostgreSQL accepts sit here, behind one switch,
// so that a port to CockroachDB (which this project does not test: see the
// README) has one place to look. Everything else in this package is written
// in the SQL both accept.

// Dialect is the SQL engine the statements run on.
type Dialect int

const (
	// PostgreSQL is the engine the tests run on.
	PostgreSQL Dialect = iota
	// CockroachDB is untested; it skips the PostgreSQL-only statements.
	CockroachDB
)

// CurrentDialect is the engine this process talks to.
var CurrentDialect = PostgreSQL

// DefaultSchema is the schema that holds the tables unless SetSchema names
// another: cockroach's, where system is a database rather than a schema.
const DefaultSchema = "system"

// tablesSchema is the schema of every statement; SetSchema changes it once, at
// start-up, before any statement runs.
var tablesSchema = DefaultSchema

// schemaName is what SetSchema accepts: an identifier that needs no quoting.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// SetSchema makes every statement use the tables in schema name instead of
// system, for users who keep sessions in their application's own schema.
// Call it before any statement runs (the --schema flag); it is not safe to
// call while statements run.
func SetSchema(name string) error {
	if err := CheckSchemaName(name); err != nil {
		return err
	}
	tablesSchema = name
	schemaRefs = strings.NewReplacer("system.", name+".", "SCHEMA system", "SCHEMA "+name,
		"SCHEMA IF NOT EXISTS system", "SCHEMA IF NOT EXISTS "+name)
	return nil
}

// CheckSchemaName returns an error naming name and what is accepted when
// SetSchema would refuse it.
func CheckSchemaName(name string) error {
	if !schemaName.MatchString(name) || strings.HasPrefix(name, "pg_") {
		return fmt.Errorf("invalid schema name %q: want lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters, not starting with pg_", name)
	}
	return nil
}

// Schema returns the schema the tables are in.
func Schema() string { return tablesSchema }

// inSchema returns statement q with its tables in the chosen schema. The
// statements name them system.NAME, and nothing else in them reads
// "system."; the bootstrap names the schema itself as "SCHEMA system" and
// "SCHEMA IF NOT EXISTS system".
func inSchema(q string) string {
	if tablesSchema == DefaultSchema {
		return q
	}
	return schemaRefs.Replace(q)
}

// schemaRefs rewrites the references to system; SetSchema makes it.
var schemaRefs *strings.Replacer

// usesHeapWalk reports whether purge may walk a table's pages (ctid ranges,
// pg_class statistics, EXPLAIN (FORMAT JSON)), all PostgreSQL's own.
func usesHeapWalk() bool { return CurrentDialect == PostgreSQL }

// withoutJIT turns off PostgreSQL's JIT compilation for the rest of the
// transaction tx. A statement whose estimated cost is high (the lookups per
// logout in summarizeFast are estimated at millions of rows and find none)
// would otherwise spend half a second compiling what then runs in
// milliseconds. SET LOCAL ends with the transaction, so it is safe behind a
// pooler in transaction mode. CockroachDB has no JIT.
func withoutJIT(ctx context.Context, tx DBTX) error {
	if CurrentDialect != PostgreSQL {
		return nil
	}
	_, err := tx.Exec(ctx, `SET LOCAL jit = off`)
	return err
}

// jitOff turns off JIT for the rest of the transaction it runs in, as SET
// LOCAL jit = off does, but without SET LOCAL's warning when the transaction
// is a pipeline's implicit one rather than a block begun with BEGIN.
const jitOff = `SELECT set_config('jit', 'off', true)`

// queryRowWithoutJIT runs query with args and scans its one row into dest,
// with JIT off, in one round trip: it sends jitOff and query together, and
// PostgreSQL runs statements sent together as one implicit transaction, so
// the setting holds for query's planning and ends with it. A purge batch
// runs this way: its estimate stays near its rows at any table size, but a
// server whose JIT thresholds are low, or a generic plan, could still make
// PostgreSQL compile a statement that then runs in milliseconds. CockroachDB
// has no JIT.
func queryRowWithoutJIT(ctx context.Context, db PurgeDB, query string, args []any, dest ...any) error {
	if CurrentDialect != PostgreSQL {
		return db.QueryRow(ctx, query, args...).Scan(dest...)
	}
	b := &pgx.Batch{}
	b.Queue(jitOff)
	b.Queue(query, args...).QueryRow(func(row pgx.Row) error { return row.Scan(dest...) })
	return db.SendBatch(ctx, b).Close()
}

// queueWithoutJIT queues jitOff first in b, which is sent in a transaction,
// for the rest of it: see queryRowWithoutJIT.
func queueWithoutJIT(b *pgx.Batch) {
	if CurrentDialect == PostgreSQL {
		b.Queue(jitOff)
	}
}

// sortMemory is the work_mem of a logout that reports what it revoked:
// enough to sort a million sessions by user in memory (about 150 MB; 64 MB
// spilled 49 MB to disk and cost logout --all two seconds) rather than
// through temporary files. It bounds one admin command's sort on the
// server, for its transaction alone; PostgreSQL uses only what it needs.
const sortMemory = `SET LOCAL work_mem = '256MB'`

// withSortMemory gives the rest of transaction tx sortMemory.
func withSortMemory(ctx context.Context, tx DBTX) error {
	if CurrentDialect != PostgreSQL {
		return nil
	}
	_, err := tx.Exec(ctx, sortMemory)
	return err
}

// waitForStandbys makes the commit of transaction tx wait until every
// synchronous standby has applied it (synchronous_commit = remote_apply),
// not only written it to disk. Revocations commit this way, so that once a
// revoking command or request returns, a session check on a synchronous
// standby (serve --read-url) refuses the session. With no synchronous
// standby configured the commit waits for nothing more than before. An
// asynchronous standby is not waited for: it accepts a revoked session for
// as long as it lags behind. CockroachDB's replicas are consistent without
// it.
func waitForStandbys(ctx context.Context, tx DBTX) error {
	if CurrentDialect != PostgreSQL {
		return nil
	}
	_, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = remote_apply`)
	return err
}

// createTrigramExtension installs pg_trgm, which 0004's index of user
// agents needs, in the sessions' own schema, where CheckTrust watches who
// owns it; where it is installed already it stays. CockroachDB has trigram
// indexes built in.
func createTrigramExtension(ctx context.Context, tx DBTX) error {
	if CurrentDialect != PostgreSQL {
		return nil
	}
	if _, err := tx.Exec(ctx, inSchema(`CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA system`)); err != nil {
		return fmt.Errorf("create extension pg_trgm: %w", err)
	}
	return nil
}
