package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/pkg/sql"
)

// fillKind is one way to fill the table: SQL expressions of row i of {n}
// for its creation (c), expiry (e) and revocation (revoked, NULL for
// none), each relative to the fill's now().
type fillKind struct {
	name, about      string
	created, expires string
	revoked          string
}

// purgeableShare is the share of rows issue 21's fill makes purgeable.
const purgeableShare = 10

var fillKinds = []fillKind{{
	name: "issue21",
	about: "issue 21's table, as bench/scale fills it: 10% expired 22 hours to 31 days ago (created 31 to 1 days ago, " +
		"two-hour sessions), 1,000 expired in the last 15 minutes, the rest created in the last hour for 12 hours, " +
		"5% of those revoked in the last minute",
	created: `CASE WHEN i <= {p} THEN now() - INTERVAL '31 days' + (i::FLOAT8 / {p}) * INTERVAL '30 days'
        WHEN i <= {p} + 1000 THEN now() - INTERVAL '75 minutes' + ((i - {p})::FLOAT8 / 1000) * INTERVAL '15 minutes'
        ELSE now() - INTERVAL '1 hour' + ((i - {p} - 1000)::FLOAT8 / ({n} - {p} - 1000)) * INTERVAL '1 hour' END`,
	expires: `CASE WHEN i <= {p} THEN c + INTERVAL '2 hours' WHEN i <= {p} + 1000 THEN c + INTERVAL '1 hour'
        ELSE c + INTERVAL '12 hours' END`,
	revoked: `CASE WHEN i > {p} + 1000 AND hashint8(i) % 20 = 0 THEN GREATEST(c, now() - (i % 60) * INTERVAL '1 second') END`,
}, {
	name: "lifetime",
	about: "sessions of one fixed lifetime (28 days, as a maximum session lifetime would make them) created evenly over " +
		"the last 31 days, none revoked: the oldest ~10% are purgeable, and expiry follows creation",
	created: `now() - INTERVAL '31 days' + (i::FLOAT8 / {n}) * INTERVAL '31 days'`,
	expires: `c + INTERVAL '28 days'`,
	revoked: `NULL::TIMESTAMPTZ`,
}, {
	name: "logouts",
	about: "the lifetime fill, with 5% of sessions (by a hash) revoked at a time spread evenly between their creation " +
		"and the earlier of their expiry and now: revoked sessions wait in live partitions",
	created: `now() - INTERVAL '31 days' + (i::FLOAT8 / {n}) * INTERVAL '31 days'`,
	expires: `c + INTERVAL '28 days'`,
	revoked: `CASE WHEN hashint8(i) % 20 = 0 THEN c + (abs(hashint8(i + 2)) % 1000) / 1000.0 * (LEAST(c + INTERVAL '28 days', now()) - c) END`,
}, {
	name: "scattered",
	about: "sessions created evenly over the last 31 days; 10% of them (by a hash) two-hour sessions, the rest living " +
		"32 days: the purgeable rows are spread over every day, among live ones",
	created: `now() - INTERVAL '31 days' + (i::FLOAT8 / {n}) * INTERVAL '31 days'`,
	expires: `CASE WHEN hashint8(i) % 10 = 0 THEN c + INTERVAL '2 hours' ELSE c + INTERVAL '32 days' END`,
	revoked: `NULL::TIMESTAMPTZ`,
}}

func fillNames() string {
	var names []string
	for _, f := range fillKinds {
		names = append(names, f.name)
	}
	return strings.Join(names, ", ")
}

func parseFills(s string) ([]fillKind, error) {
	var fills []fillKind
	for _, name := range strings.Fields(s) {
		found := false
		for _, f := range fillKinds {
			if f.name == name {
				fills, found = append(fills, f), true
			}
		}
		if !found {
			return nil, fmt.Errorf("no fill %q: want some of %s", name, fillNames())
		}
	}
	if len(fills) == 0 {
		return nil, fmt.Errorf("no fill in %q: want some of %s", s, fillNames())
	}
	return fills, nil
}

// fillSessions is bench/scale's INSERT … SELECT with the fill's creation,
// expiry and revocation: n/10 users of ten sessions each (none of them a
// role), half the sessions HTTP logins with a client address and a
// User-Agent, ids made as the table's default makes them (milliseconds
// since 2020 in the high bits, so id order is creation order), and each
// secret derived from its id. Row i is inserted j-th, where i = j·stride
// mod n + 1: with a stride of 1 the heap is in creation order; with one
// near n times the golden ratio, prime to n, the rows of each page are
// spread over the whole range of i, as bench/scale's fill leaves them
// (its hash join scatters them), so that purge's rows lie on nearly every
// page, as in a table whose freed space new sessions have reused for long.
const fillSessions = `INSERT INTO system.web_sessions (id, hashed_secret, username, user_id, created_at, expires_at,
    revoked_at, last_used_at, audit_info, client_ip, role_version)
SELECT g.id, sha256(decode(md5(g.id::TEXT) || md5((g.id + 1)::TEXT), 'hex')), 'retention_u' || g.u,
    3000000000 + g.u, g.c, g.e, g.revoked, g.c,
    CASE WHEN g.http THEN jsonb_build_object('via', 'http', 'client_addr', host(g.ip), 'user_agent', g.ua)
        ELSE '{"via": "cli", "actor": "postgres", "client_host": "bench"}' END,
    CASE WHEN g.http THEN g.ip END, 0
FROM (
    SELECT i, i % {users} AS u, c, e, revoked,
        ` + benchdb.FillColumns + `
    FROM generate_series(0, {n}::BIGINT - 1) j,
    LATERAL (SELECT (j * {stride}) % {n} + 1 AS i) ii,
    LATERAL (SELECT {created} AS c) cc,
    LATERAL (SELECT {expires} AS e) ee,
    LATERAL (SELECT {revoked} AS revoked) rr
) g`

// fillPlain creates database name with today's schema (sql.Migrate) and
// fills its sessions table with n rows of fill f, the secondary indexes
// dropped first and built after, as bench/scale does; then vacuums,
// analyzes and checkpoints, so that every copy starts with no dead rows,
// hint bits and statistics set, and no dirty pages. Autovacuum is off for
// the table, so it cannot land in one measurement and not another.
func fillPlain(ctx context.Context, adminURL, name string, n int, f fillKind, scatter bool) error {
	if err := benchdb.ExecOn(ctx, adminURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)", "CREATE DATABASE "+name); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, benchdb.URL(adminURL, name))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := sql.Migrate(ctx, conn, sql.MigrateOptions{}); err != nil {
		return err
	}
	insert := strings.NewReplacer("{created}", f.created, "{expires}", f.expires, "{revoked}", f.revoked).Replace(fillSessions)
	stride := 1
	if scatter {
		stride = scatterStride(n)
	}
	insert = strings.NewReplacer("{n}", strconv.Itoa(n), "{users}", strconv.Itoa(n/10), "{p}", strconv.Itoa(n/purgeableShare),
		"{stride}", strconv.Itoa(stride)).Replace(insert)
	return benchdb.ExecAll(ctx, conn,
		"SET maintenance_work_mem = '1GB'",
		"ALTER TABLE system.web_sessions SET (autovacuum_enabled = false)",
		saveSecondaryIndexes,
		`DO $$ DECLARE r record; BEGIN
FOR r IN SELECT indexname FROM secondary LOOP EXECUTE 'DROP INDEX system.' || quote_ident(r.indexname); END LOOP; END $$`,
		insert,
		buildSecondaryIndexes,
		"VACUUM (ANALYZE) system.web_sessions",
		"CHECKPOINT")
}

// scatterStride is the integer nearest n times the golden ratio's
// fraction that is prime to n, so that j·stride mod n visits every row
// once, neighbours far apart.
func scatterStride(n int) int {
	s := int(float64(n)*0.6180339887) | 1
	for gcd(s, n) != 1 {
		s += 2
	}
	return s
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// saveSecondaryIndexes keeps the definitions of the table's indexes other
// than its primary key, for buildSecondaryIndexes.
const saveSecondaryIndexes = `CREATE TEMP TABLE secondary AS SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'system' AND tablename = 'web_sessions' AND indexname <> 'web_sessions_pkey'`

const buildSecondaryIndexes = `DO $$ DECLARE r record; BEGIN
FOR r IN SELECT indexdef FROM secondary LOOP EXECUTE r.indexdef; END LOOP; END $$`

// shape says what a filled table holds, for the report.
type shape struct {
	rows, purgeable, revoked, revokedPurgeable int64
	bytes                                      int64
	// pages of the heap, and those that hold a purgeable row
	pages, purgeablePages int64
}

func readShape(ctx context.Context, conn *pgx.Conn) (shape, error) {
	var s shape
	err := conn.QueryRow(ctx, `SELECT count(*),
    count(*) FILTER (WHERE `+purgeable+`),
    count(*) FILTER (WHERE revoked_at IS NOT NULL),
    count(*) FILTER (WHERE revoked_at < now() - INTERVAL '1 hour' AND expires_at >= now() - INTERVAL '1 hour'),
    pg_total_relation_size('system.web_sessions'),
    pg_relation_size('system.web_sessions') / current_setting('block_size')::INT,
    count(DISTINCT (ctid::TEXT::POINT)[0]) FILTER (WHERE `+purgeable+`)
FROM system.web_sessions`).Scan(&s.rows, &s.purgeable, &s.revoked, &s.revokedPurgeable, &s.bytes, &s.pages, &s.purgeablePages)
	return s, err
}
