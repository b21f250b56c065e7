package main

import (
	"context"
	"crypto/md5"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// The table's users: one per ten sessions, named rolePrefix and a number;
// the first realRoles of them are roles that may log in, whose sessions
// carry the role's OID and stamp as login writes them. The others' roles
// do not exist (dropped since, as in a table that outlived its users).
const (
	rolePrefix = "scale_u"
	realRoles  = 1000
	// fakeUserID is added to a user's number for the user_id of a user
	// without a role: inside the OID range, above any OID in use.
	fakeUserID = 3_000_000_000
	// recentlyExpired sessions expired in the last 15 minutes.
	recentlyExpired = 1000
)

func userName(u int) string { return rolePrefix + strconv.Itoa(u) }

// createRoles makes the real roles, where they are missing.
var createRoles = `DO $$ BEGIN
FOR u IN 0..` + strconv.Itoa(realRoles-1) + ` LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '` + rolePrefix + `' || u) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', '` + rolePrefix + `' || u);
    END IF;
END LOOP; END $$`

// dropRoles drops them.
var dropRoles = `DO $$ BEGIN
FOR u IN 0..` + strconv.Itoa(realRoles-1) + ` LOOP
    EXECUTE format('DROP ROLE IF EXISTS %I', '` + rolePrefix + `' || u);
END LOOP; END $$`

// fillSessions fills the table of issue 21 in one INSERT … SELECT, row i
// of {n} ({users} = n/10 users, user i mod users, ten sessions each):
//
//   - i ≤ n/10, 10%: expired 22 hours to 31 days ago, in insertion order:
//     what purge deletes;
//   - the next 1,000: expired in the last 15 minutes, not yet purgeable
//     (list --expired-within 1h);
//   - the rest live for 11 to 12 hours more, created in the last hour;
//     5% of them, spread by a hash, revoked in the last minute (not
//     purgeable for 59 minutes).
//
// Half the sessions, by another hash, are HTTP logins with a client
// address and a User-Agent; the rest CLI logins. Ids are made as the
// table's default makes them (milliseconds since 2020 in the high bits),
// and each secret is derived from its id (sessionSecret), so the
// benchmark can present any session's cookie. Every timestamp is
// relative to the fill's now().
const fillSessions = `INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, created_at, expires_at,
    revoked_at, last_used_at, audit_info, client_ip, role_version, password_tag)
SELECT g.id, sha256(decode(md5(g.id::TEXT) || md5((g.id + 1)::TEXT), 'hex')), '{prefix}' || g.u,
    COALESCE(r.oid::BIGINT, {fakeid} + g.u), g.c, g.e, g.revoked, g.c,
    CASE WHEN g.http THEN jsonb_build_object('via', 'http', 'client_addr', host(g.ip), 'user_agent', g.ua)
        ELSE '{"via": "cli", "actor": "postgres", "client_host": "bench"}' END,
    CASE WHEN g.http THEN g.ip END, COALESCE(r.row_version, 0), r.password_tag
FROM (
    SELECT i, i % {users} AS u, c, e,
        CASE WHEN i > {purgeable} + {recent} AND hashint8(i) % 20 = 0 THEN GREATEST(c, now() - (i % 60) * INTERVAL '1 second') END AS revoked,
        ` + benchdb.FillColumns + `
    FROM generate_series(1, {n}::BIGINT) i,
    LATERAL (SELECT CASE
        WHEN i <= {purgeable} THEN now() - INTERVAL '31 days' + (i::FLOAT8 / {purgeable}) * INTERVAL '30 days'
        WHEN i <= {purgeable} + {recent} THEN now() - INTERVAL '75 minutes' + ((i - {purgeable})::FLOAT8 / {recent}) * INTERVAL '15 minutes'
        ELSE now() - INTERVAL '1 hour' + ((i - {purgeable} - {recent})::FLOAT8 / ({n} - {purgeable} - {recent})) * INTERVAL '1 hour' END AS c) cc,
    LATERAL (SELECT CASE
        WHEN i <= {purgeable} THEN c + INTERVAL '2 hours'
        WHEN i <= {purgeable} + {recent} THEN c + INTERVAL '1 hour'
        ELSE c + INTERVAL '12 hours' END AS e) ee
) g
LEFT JOIN real_roles r ON r.u = g.u`

// fill creates database name on the server of adminURL, installs the
// schema and fills the sessions table with n rows (fillSessions), its
// secondary indexes dropped first and built after, then vacuums, analyzes
// and checkpoints, so that every copy starts with no dead rows, hint bits
// and statistics set, and no dirty pages. Autovacuum is off for the table,
// so it cannot land in one measurement and not another.
func fill(ctx context.Context, adminURL, name string, n int) (tableShape, error) {
	if err := benchdb.ExecOn(ctx, adminURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)", "CREATE DATABASE "+name); err != nil {
		return tableShape{}, err
	}
	conn, err := pgx.Connect(ctx, benchdb.URL(adminURL, name))
	if err != nil {
		return tableShape{}, fmt.Errorf("connect to %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := sql.Migrate(ctx, conn, sql.MigrateOptions{}); err != nil {
		return tableShape{}, err
	}
	steps := []string{
		"SET maintenance_work_mem = '1GB'",
		"ALTER TABLE system.web_sessions SET (autovacuum_enabled = false)",
		`CREATE TEMP TABLE secondary AS SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'system' AND tablename = 'web_sessions' AND indexname <> 'web_sessions_pkey'`,
		`DO $$ DECLARE r record; BEGIN
FOR r IN SELECT indexname FROM secondary LOOP EXECUTE 'DROP INDEX system.' || quote_ident(r.indexname); END LOOP; END $$`,
		`CREATE TEMP TABLE real_roles AS
SELECT substr(rolname, ` + strconv.Itoa(len(rolePrefix)+1) + `)::INT AS u, oid, row_version, password_tag
FROM system.role_credentials WHERE rolname ~ '^` + rolePrefix + `[0-9]+$'`,
		strings.NewReplacer("{n}", strconv.Itoa(n), "{users}", strconv.Itoa(n/10), "{purgeable}", strconv.Itoa(n/10),
			"{recent}", strconv.Itoa(recentlyExpired), "{prefix}", rolePrefix, "{fakeid}", strconv.Itoa(fakeUserID)).Replace(fillSessions),
		`DO $$ DECLARE r record; BEGIN
FOR r IN SELECT indexdef FROM secondary LOOP EXECUTE r.indexdef; END LOOP; END $$`,
		"VACUUM (ANALYZE) system.web_sessions",
		"CHECKPOINT",
	}
	for _, step := range steps {
		if _, err := conn.Exec(ctx, step); err != nil {
			return tableShape{}, fmt.Errorf("fill %s: %s: %w", name, benchdb.FirstLine(step), err)
		}
	}
	return readShape(ctx, conn)
}

// sessionSecret is the secret fillSessions derived session id's hash
// from: the MD5 of the id's decimal digits, then of the next id's.
func sessionSecret(id int64) []byte {
	a := md5.Sum([]byte(strconv.FormatInt(id, 10)))
	b := md5.Sum([]byte(strconv.FormatInt(id+1, 10)))
	return append(a[:], b[:]...)
}

// cookieValue is the cookie of a session that fillSessions made.
func cookieValue(id int64) string { return auth.EncodeValue(id, sessionSecret(id)) }

// tableShape says what a filled table holds, for the report.
type tableShape struct {
	rows, purgeable, expiredWithinHour, revoked, http int64
	bytes                                             int64
	filled                                            time.Duration
}

func readShape(ctx context.Context, conn *pgx.Conn) (tableShape, error) {
	var s tableShape
	err := conn.QueryRow(ctx, `SELECT count(*),
    count(*) FILTER (WHERE expires_at < now() - INTERVAL '1 hour' OR revoked_at < now() - INTERVAL '1 hour'),
    count(*) FILTER (WHERE expires_at <= now() AND expires_at > now() - INTERVAL '1 hour'),
    count(*) FILTER (WHERE revoked_at IS NOT NULL),
    count(*) FILTER (WHERE client_ip IS NOT NULL),
    pg_total_relation_size('system.web_sessions')
FROM system.web_sessions`).Scan(&s.rows, &s.purgeable, &s.expiredWithinHour, &s.revoked, &s.http, &s.bytes)
	return s, err
}
