package sql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The statements that only PostgreSQL accepts sit here, so that a port to
// another engine (CockroachDB, which this project does not test) has one
// place to look; everything else in this package is written in the SQL
// both accept, or reads PostgreSQL's catalogs where only they can say:
//
//   - SET LOCAL jit = off, and set_config('jit', 'off', true) in a purge
//     batch (withoutJIT, queryRowWithoutJIT);
//   - SET LOCAL work_mem for a logout that reports its rows (withSortMemory);
//   - the touch, schema 0009's function system.touch_sessions
//     (TouchSessions), whose SET lock_timeout = '50ms' holds while its
//     UPDATE takes the table's lock: long enough for the brief locks of
//     ordinary work, short enough that a CREATE INDEX or LOCK TABLE costs
//     a skipped touch. CockroachDB's CREATE FUNCTION has no SET clause:
//     a port would run the UPDATE itself after lock_timeout is set;
//   - SET LOCAL synchronous_commit = remote_apply for a revocation
//     (waitForStandbys, beginWaitingForStandbys), its cancel request and pg_stat_replication
//     (commitWithin, standbysBehind);
//   - CREATE EXTENSION pg_trgm (createTrigramExtension);
//   - pg_advisory_xact_lock, which makes credential sweeps one at a time
//     (beginSweep).
//   - following the audit trail (follow.go, follower.go): pg_notify after every write
//     of an event (notifyEvents: RecordEvents, the throttle's event,
//     purge's batch event), LISTEN, and the reads by snapshot
//     (pg_current_snapshot, pg_snapshot_xmax, pg_snapshot_xip) of the
//     events' xact_id, which schema/0007 fills with pg_current_xact_id().
//     On CockroachDB, which has neither NOTIFY nor transaction ids, the
//     notify goes and a follower reads a changefeed of session_events
//     (CREATE CHANGEFEED, or EXPERIMENTAL CHANGEFEED FOR on a connection
//     of its own): it emits each row once its transaction committed, and
//     its resolved timestamps say up to when nothing more will come, the
//     point to resume from (WITH cursor) after an outage.
//
// Reading the catalogs: who controls the schema (trust.go), the admin
// role's mark (COMMENT ON ROLE, adminrole.go), pg_trgm's schema
// (migrate.go), and the table's pages for purge's heap walk (purge_heap.go:
// its ctid ranges and its TABLESAMPLE SYSTEM sample of the table, which
// purge.go enables only on PostgreSQL 14 and later; its batches pipelined,
// purge_pipeline.go). Schema 0008
// installs system.role_credentials, a view of pg_authid with the xmin of
// each role's row, which the session check, the login and the credential
// sweep read (credentials.go), and a DO block that refuses to install it
// as anyone but a superuser; CockroachDB has neither pg_authid nor xmin.

// DefaultSchema is the schema that holds the tables unless a connection
// names another (see InSchema): cockroach's, where system is a database
// rather than a schema.
const DefaultSchema = "system"

// CheckSchemaName returns an error naming name and what is accepted when
// it is no schema name InSchema takes: an identifier that needs no quoting.
func CheckSchemaName(name string) error {
	if !plainSchemaName(name) || strings.HasPrefix(name, "pg_") {
		return fmt.Errorf("invalid schema name %q: want lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters, not starting with pg_", name)
	}
	return nil
}

// plainSchemaName reports whether name is 1 to 63 lower-case letters,
// digits and underscores, not starting with a digit. Every command checks
// it as it connects: a loop, where the regular expression's {0,62} took a
// fraction of a millisecond to compile.
func plainSchemaName(name string) bool {
	if name == "" || len(name) > 63 || ('0' <= name[0] && name[0] <= '9') {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// The schema is the connection's, not the process's: a connection, pool
// or transaction made by InSchema (or begun on one) carries it, and every
// statement of this package asks the one it runs on (inSchema). Anything
// else uses DefaultSchema. Two stores over two schemas can so run side by
// side, in one process.

// schemaHolder is a database handle that says which schema its statements
// use.
type schemaHolder interface{ tablesSchema() *tables }

// tables is a schema and the rewriting of statements into it.
type tables struct {
	name string
	refs *strings.Replacer
}

func newTables(name string) *tables {
	return &tables{name: name, refs: strings.NewReplacer("system.", name+".", "SCHEMA system", "SCHEMA "+name,
		"SCHEMA IF NOT EXISTS system", "SCHEMA IF NOT EXISTS "+name)}
}

// defaultTables are the tables of DefaultSchema, for a transaction on a
// connection that carries no schema. A strings.Replacer is built when
// first used, so this costs nothing at start-up.
var defaultTables = newTables(DefaultSchema)

// SchemaOf returns the schema that db's statements use.
func SchemaOf(db any) string {
	if h, ok := db.(schemaHolder); ok {
		return h.tablesSchema().name
	}
	return DefaultSchema
}

// inSchema returns statement q with its tables in db's schema. The
// statements name them system.NAME, and nothing else in them reads
// "system."; the bootstrap names the schema itself as "SCHEMA system" and
// "SCHEMA IF NOT EXISTS system".
func inSchema(db any, q string) string {
	if h, ok := db.(schemaHolder); ok && h.tablesSchema().name != DefaultSchema {
		return h.tablesSchema().refs.Replace(q)
	}
	return q
}

// Conn is a connection whose statements use the tables in a schema of
// its own (InSchema); transactions begun on it carry the schema.
type Conn struct {
	*pgx.Conn
	tables *tables
}

func (c *Conn) tablesSchema() *tables { return c.tables }

// Begin starts a transaction that carries c's schema.
func (c *Conn) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := c.Conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, tables: c.tables}, nil
}

// Pool is a pool whose statements use the tables in a schema of its own
// (PoolInSchema); transactions begun on it carry the schema.
type Pool struct {
	*pgxpool.Pool
	tables *tables
}

func (p *Pool) tablesSchema() *tables { return p.tables }

// Begin starts a transaction that carries p's schema.
func (p *Pool) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := p.Pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, tables: p.tables}, nil
}

// Tx is a transaction that carries the schema of what began it.
type Tx struct {
	pgx.Tx
	tables *tables
	// waitsForStandbys is true for a transaction begun with
	// beginWaitingForStandbys: waitForStandbys has nothing left to set.
	waitsForStandbys bool
}

func (t *Tx) tablesSchema() *tables { return t.tables }

// Begin starts a savepoint that carries t's schema.
func (t *Tx) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := t.Tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, tables: t.tables, waitsForStandbys: t.waitsForStandbys}, nil
}

// InSchema returns conn with its statements in schema (DefaultSchema when
// empty), or an error naming a schema name CheckSchemaName refuses.
func InSchema(conn *pgx.Conn, schema string) (*Conn, error) {
	t, err := tablesOf(schema)
	return &Conn{Conn: conn, tables: t}, err
}

// PoolInSchema returns pool with its statements in schema (DefaultSchema
// when empty).
func PoolInSchema(pool *pgxpool.Pool, schema string) (*Pool, error) {
	t, err := tablesOf(schema)
	return &Pool{Pool: pool, tables: t}, err
}

func tablesOf(schema string) (*tables, error) {
	if schema == "" {
		schema = DefaultSchema
	}
	if err := CheckSchemaName(schema); err != nil {
		return nil, err
	}
	return newTables(schema), nil
}

// withoutJIT turns off PostgreSQL's JIT compilation for the rest of the
// transaction tx. A statement whose estimated cost is high (the lookups per
// logout in summarizeFast are estimated at millions of rows and find none)
// would otherwise spend half a second compiling what then runs in
// milliseconds. SET LOCAL ends with the transaction, so it is safe behind a
// pooler in transaction mode. CockroachDB has no JIT.
func withoutJIT(ctx context.Context, tx DBTX) error {
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
	b := &pgx.Batch{}
	b.Queue(jitOff)
	b.Queue(query, args...).QueryRow(func(row pgx.Row) error { return row.Scan(dest...) })
	return db.SendBatch(ctx, b).Close()
}

// sortMemory is the work_mem of a logout that reports what it revoked:
// enough to sort a million sessions by user in memory (about 150 MB; 64 MB
// spilled 49 MB to disk and cost logout --all two seconds) rather than
// through temporary files. It bounds one admin command's sort on the
// server, for its transaction alone; PostgreSQL uses only what it needs.
const sortMemory = `SET LOCAL work_mem = '256MB'`

// withSortMemory gives the rest of transaction tx sortMemory.
func withSortMemory(ctx context.Context, tx DBTX) error {
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
	if t, ok := tx.(*Tx); ok && t.waitsForStandbys {
		return nil
	}
	_, err := tx.Exec(ctx, remoteApply)
	return err
}

// remoteApply is waitForStandbys's setting.
const remoteApply = `SET LOCAL synchronous_commit = remote_apply`

// beginWaitingForStandbys begins a transaction on conn, in schema, whose
// commit waits as waitForStandbys says, in one round trip: the two
// statements go in one simple query, where BEGIN and then waitForStandbys
// would take one each.
func beginWaitingForStandbys(ctx context.Context, conn *pgx.Conn, schema *tables) (*Tx, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{BeginQuery: "BEGIN; " + remoteApply})
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, tables: schema, waitsForStandbys: true}, nil
}

// createTrigramExtension installs pg_trgm, which 0004's index of user
// agents needs, in the sessions' own schema, where CheckTrust watches who
// owns it; where it is installed already it stays. CockroachDB has trigram
// indexes built in.
func createTrigramExtension(ctx context.Context, tx DBTX) error {
	if _, err := tx.Exec(ctx, inSchema(tx, `CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA system`)); err != nil {
		return fmt.Errorf("create extension pg_trgm: %w", err)
	}
	return nil
}

// StandbyError means a revocation is committed on the primary, but the
// synchronous standbys did not confirm applying it within the bound: a
// session check there (serve --read-url) may still accept the sessions it
// revoked, until the standby replays it.
type StandbyError struct {
	// Standbys names the synchronous standbys that had not confirmed, as
	// pg_stat_replication shows them; or, when none is connected, says so
	// with synchronous_standby_names.
	Standbys string
	// Waited is the bound that passed.
	Waited time.Duration
}

func (e *StandbyError) Error() string {
	return fmt.Sprintf("the revocation is committed on the primary but not yet applied on the synchronous %s: no confirmation within %s",
		e.Standbys, e.Waited)
}

// commitWithin commits tx, a transaction of conn that waits for the
// synchronous standbys, and cancels that wait after timeout. PostgreSQL
// cannot bound the wait itself; a cancel request ends it, and the COMMIT
// then succeeds with a warning: the transaction is committed locally, its
// replication not confirmed. Then it returns a *StandbyError naming the
// standbys that have not applied the commit, unless they all have by then.
//
// The connection is closed after a cancel request, which could otherwise
// land on its next statement; the caller must not use it again.
func commitWithin(ctx context.Context, conn *pgx.Conn, tx pgx.Tx, timeout time.Duration) error {
	var cancelled atomic.Bool
	sent := make(chan struct{})
	timer := time.AfterFunc(timeout, func() {
		defer close(sent)
		cancelled.Store(true)
		cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		// Should the request not arrive, the commit waits on: the caller's
		// context still bounds it.
		_ = conn.PgConn().CancelRequest(cancelCtx)
	})
	err := tx.Commit(ctx)
	if !timer.Stop() {
		<-sent
	}
	if !cancelled.Load() {
		return err
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = conn.Close(closeCtx)
	if err != nil {
		// Cancelled before the commit record was written: rolled back.
		return err
	}
	standbys, err := standbysBehind(ctx, conn.Config())
	if err != nil {
		return fmt.Errorf("the revocation is committed on the primary; the synchronous standbys did not confirm it within %s, and which they are could not be read: %w", timeout, err)
	}
	if standbys == "" {
		return nil
	}
	return &StandbyError{Standbys: standbys, Waited: timeout}
}

// syncStandbysBehind reads the synchronous standbys that have not replayed
// the primary's WAL up to its current flush position, which is at or past a
// commit that has just returned (a standby that confirms no replay position
// counts as behind); how many synchronous standbys are connected; how many
// walsenders it may not see the state of (without pg_read_all_stats, a
// role sees no sync_state nor position); and synchronous_standby_names.
const syncStandbysBehind = `SELECT
    COALESCE(array_agg(application_name ORDER BY application_name)
        FILTER (WHERE sync_state IN ('sync', 'quorum')
            AND (replay_lsn IS NULL OR replay_lsn < pg_catalog.pg_current_wal_flush_lsn())), '{}'),
    count(*) FILTER (WHERE sync_state IN ('sync', 'quorum')),
    count(*) FILTER (WHERE sync_state IS NULL),
    current_setting('synchronous_standby_names')
FROM pg_catalog.pg_stat_replication`

// standbysBehind describes the synchronous standbys that have not applied
// the latest commit, `standby "s1"` or `standbys "s1", "s2"`, or "" when
// they all have. A role that may not see which standbys those are gets the
// ones synchronous_standby_names lists. It runs on a connection of its own:
// see commitWithin.
func standbysBehind(ctx context.Context, cfg *pgx.ConnConfig) (string, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var behind []string
	var connected, hidden int
	var setting string
	if err := conn.QueryRow(ctx, syncStandbysBehind).Scan(&behind, &connected, &hidden, &setting); err != nil {
		return "", err
	}
	switch {
	case hidden > 0:
		return nameStandbys(listedStandbys(setting)) + fmt.Sprintf(" (as synchronous_standby_names lists them: %q)", setting), nil
	case connected == 0:
		return nameStandbys(listedStandbys(setting)) + fmt.Sprintf(": not connected (synchronous_standby_names is %q)", setting), nil
	case len(behind) == 0:
		return "", nil
	}
	return nameStandbys(behind), nil
}

// nameStandbys writes `standby "a"` or `standbys "a", "b"`.
func nameStandbys(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	if len(names) == 1 {
		return "standby " + quoted[0]
	}
	return "standbys " + strings.Join(quoted, ", ")
}

// listedStandbys returns the names in synchronous_standby_names, whichever
// of its forms it takes: "a, b", "FIRST 1 (a, b)", "ANY 2 (a, b)", "*".
func listedStandbys(setting string) []string {
	list := setting
	if open := strings.IndexByte(list, '('); open >= 0 {
		list = strings.TrimSuffix(strings.TrimSpace(list[open+1:]), ")")
	}
	var names []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if unquoted, err := strconv.Unquote(n); err == nil && strings.HasPrefix(n, `"`) {
			n = unquoted
		}
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}
