package cmdbench

// The statements psql runs against the commands: each does the work its
// command does, as one statement.

// LoginSQL inserts the row that login USER inserts: a hashed random
// secret, the role checked in the same statement, expiry from the database
// clock. It prints the new id.
func LoginSQL(user string) string {
	return `INSERT INTO system.web_sessions (hashed_secret, username, user_id, expires_at, audit_info)
SELECT sha256(convert_to(gen_random_uuid()::text, 'UTF8')), r.rolname, r.oid::BIGINT, now() + INTERVAL '1 hour', '{"via": "psql"}'
FROM pg_catalog.pg_roles r
WHERE r.rolname = '` + user + `' AND r.rolcanlogin AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now())
RETURNING id`
}

// ListSQL is what list --format tsv prints, with where (a WHERE clause,
// or empty for every session): the same columns, including the stale flag
// of the default --warn-stale-days=30, in the same order.
func ListSQL(where string) string {
	return `SELECT username, id, created_at, expires_at, revoked_at, last_used_at,
    revoked_at IS NULL AND expires_at > now() AND last_used_at < now() - INTERVAL '30 days'
FROM system.web_sessions ` + where + `
ORDER BY created_at, id`
}

// ExpiredWithinSQL is what list --expired-within D --format tsv prints,
// for D written as a PostgreSQL interval ('24 hours').
func ExpiredWithinSQL(interval string) string {
	return `SELECT username, id, created_at, expires_at, revoked_at, last_used_at,
    CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired' ELSE 'active' END,
    false
FROM system.web_sessions
WHERE expires_at > now() - INTERVAL '` + interval + `' AND expires_at <= now()
ORDER BY created_at, id`
}
