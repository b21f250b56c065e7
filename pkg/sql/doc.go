// Package sql is the store of auth-session: the schema migrations and every
// query against system.web_sessions.
//
// Each query is a const next to the function that runs it. Reads take the
// small DBTX interface, so a *pgx.Conn, a *pgxpool.Pool or a pgx.Tx all fit.
// Changes to sessions are the methods of Store (Login, Revoke): each is a
// whole operation that owns its transaction, retried on serialization
// failures (SQLSTATE 40001) as CockroachDB requires, writes its audit event
// in it, and for a revocation waits for the synchronous standbys and rolls
// a dry run back.
//
// The SQL stays within what both PostgreSQL and CockroachDB accept where
// possible; the exceptions are named where they occur.
package sql
