// Package sql is the store of auth-session: the schema migrations and every
// query against system.web_sessions.
//
// Each query is a const next to the function that runs it. Functions take the
// small DBTX interface, so a *pgx.Conn, a *pgxpool.Pool or a pgx.Tx all fit,
// and writes that must happen together run inside RunInTx, which retries on
// serialization failures (SQLSTATE 40001) as CockroachDB requires.
//
// The SQL stays within what both PostgreSQL and CockroachDB accept where
// possible; the exceptions are named where they occur.
package sql
