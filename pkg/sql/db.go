package sql

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what the queries need: a connection, a pool or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TxBeginner starts transactions: a *pgx.Conn or a *pgxpool.Pool.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Sentinel errors returned by the store.
var (
	// ErrUserNotFound means no role has the given name.
	ErrUserNotFound = errors.New("user does not exist")
	// ErrUserCannotLogin means the role exists but has NOLOGIN.
	ErrUserCannotLogin = errors.New("user is not allowed to log in (NOLOGIN)")
	// ErrUserExpired means the role's VALID UNTIL has passed.
	ErrUserExpired = errors.New("user's password has expired (VALID UNTIL is in the past)")
	// ErrSessionNotFound means no session has the given id.
	ErrSessionNotFound = errors.New("session not found")
	// ErrSchemaMissing means auth-session init has not run on this database.
	ErrSchemaMissing = errors.New("the auth-session schema is not installed")
	// ErrSchemaOutdated means the database's schema is older than this binary's.
	ErrSchemaOutdated = errors.New("the auth-session schema is older than this binary")
	// ErrSchemaTooNew means the database's schema is newer than this binary knows.
	ErrSchemaTooNew = errors.New("the auth-session schema is newer than this binary")
)

// maxTxAttempts bounds runInTx's retries; contention that outlasts this many
// attempts is better reported than hidden.
const maxTxAttempts = 10

// runInTx runs fn in a transaction and commits it, retrying the whole
// transaction when the database reports a serialization failure or a
// deadlock. fn must therefore be safe to run more than once.
func runInTx(ctx context.Context, db TxBeginner, fn func(tx pgx.Tx) error) error {
	return retry(ctx, func() error { return runOnce(ctx, db, fn) })
}

// retry runs attempt until it succeeds, fails for another reason than a
// serialization failure or a deadlock, or has failed maxTxAttempts times.
// attempt is one transaction: runInTx's, or a single statement run outside
// a transaction block, which the database commits on its own.
func retry(ctx context.Context, attempt func() error) error {
	backoff := 5 * time.Millisecond
	for n := 1; ; n++ {
		err := attempt()
		if err == nil || !IsRetryable(err) || n == maxTxAttempts {
			return err
		}
		// Jitter keeps two retrying clients from colliding again in lockstep.
		sleep := backoff/2 + rand.N(backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %d attempts: %w)", ctx.Err(), n, err)
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// DefaultStandbyTimeout is how long a revocation waits for the synchronous
// standbys to apply it when the caller sets no bound of its own.
const DefaultStandbyTimeout = 5 * time.Second

// runRevocation is runInTx for a transaction that revokes sessions, whose
// commit waits for every synchronous standby to apply it (see
// waitForStandbys). Should they not confirm within standbyTimeout, the wait
// is cancelled and it returns a *StandbyError: the revocation is committed
// on the primary, not yet applied on the standby. db is a *pgx.Conn, a
// *pgxpool.Pool, or one of them in a schema (*Conn, *Pool); on anything else, and with a standbyTimeout of zero or
// less, the commit waits as long as it takes.
func runRevocation(ctx context.Context, db TxBeginner, standbyTimeout time.Duration, fn func(tx pgx.Tx) error) error {
	if standbyTimeout <= 0 {
		return runInTx(ctx, db, fn)
	}
	return retry(ctx, func() error {
		conn, schema, release, err := ownConn(ctx, db)
		if err != nil {
			return err
		}
		if conn == nil {
			return runOnce(ctx, db, fn)
		}
		defer release()
		if schema == nil {
			schema = defaultTables
		}
		tx, err := beginWaitingForStandbys(ctx, conn, schema)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		return commitWithin(ctx, conn, tx, standbyTimeout)
	})
}

// ownConn returns a connection of db that no one else uses until release:
// a cancel request that commitWithin sends must reach this transaction's
// commit and nothing else; and the schema of db, when it carries one
// (InSchema), for the transaction to carry. It returns a nil connection
// for a db that is none of *pgx.Conn, *pgxpool.Pool, *Conn and *Pool.
func ownConn(ctx context.Context, db TxBeginner) (conn *pgx.Conn, schema *tables, release func(), err error) {
	switch db := db.(type) {
	case *Conn:
		return db.Conn, db.tables, func() {}, nil
	case *Pool:
		c, err := db.Pool.Acquire(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		return c.Conn(), db.tables, c.Release, nil
	case *pgx.Conn:
		return db, nil, func() {}, nil
	case *pgxpool.Pool:
		c, err := db.Acquire(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		return c.Conn(), nil, c.Release, nil
	}
	return nil, nil, nil, nil
}

func runOnce(ctx context.Context, db TxBeginner, fn func(tx pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		// The rollback error, if any, says less than the one that caused it.
		_ = tx.Rollback(ctx)
		return err
	}
	return tx.Commit(ctx)
}

// IsRetryable reports whether err is a transient conflict after which the
// same transaction may succeed when run again.
func IsRetryable(err error) bool {
	code := SQLState(err)
	return code == "40001" || code == "40P01"
}

// SQLState returns the SQLSTATE of the database error in err's chain, or "".
func SQLState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
