// Package benchdb prepares the database side of the benchmark programs: a
// database of their own, tables of generated sessions filled with COPY, and
// sessions with known secrets to authenticate with.
package benchdb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
)

// idEpoch is the schema's id epoch: ids hold milliseconds since 2020-01-01
// in their high bits, as the table's default makes them.
var idEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Fill empties the sessions table and streams rows expired sessions into
// it with COPY, then vacuums, analyzes and checkpoints, so that every
// measurement starts from the same state: no dead rows, hint bits and
// statistics set, no dirty pages left for the measured run to flush.
//
// The sessions look like a month of logins by 1,000 users: created at a
// steady rate until a day ago, living an hour plus up to spread, every
// tenth revoked ten minutes in. All of them expired more than an hour ago,
// so a purge with the default --older-than takes every row, as the raw
// DELETE does.
func Fill(ctx context.Context, conn *pgx.Conn, rows int, spread time.Duration) error {
	if _, err := conn.Exec(ctx, "TRUNCATE system.web_sessions"); err != nil {
		return fmt.Errorf("empty the table: %w", err)
	}
	end := time.Now().Add(-25 * time.Hour)
	start := end.Add(-30 * 24 * time.Hour)
	step := end.Sub(start) / time.Duration(rows)
	rng := rand.New(rand.NewPCG(1, 2))
	secret := make([]byte, 32)
	const audit = `{"via": "cli", "actor": "postgres", "client_host": "bench"}`
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == rows {
			return nil, nil
		}
		created := start.Add(time.Duration(i) * step)
		// The low 22 bits count rows within a millisecond, so ids are unique
		// where the schema's default would draw them at random.
		id := created.Sub(idEpoch).Milliseconds()<<22 | int64(i&(1<<22-1))
		expires := created.Add(time.Hour + time.Duration(rng.Int64N(int64(spread)+1)))
		var revoked *time.Time
		if i%10 == 0 {
			r := created.Add(10 * time.Minute)
			revoked = &r
		}
		for j := range secret {
			secret[j] = byte(rng.Uint32())
		}
		i++
		return []any{id, secret, fmt.Sprintf("user%04d", i%1000), int64(16384 + i%1000),
			created, expires, revoked, created, audit}, nil
	})
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"system", "web_sessions"},
		[]string{"id", "hashed_secret", "username", "user_id", "created_at", "expires_at", "revoked_at", "last_used_at", "audit_info"}, src)
	if err != nil {
		return fmt.Errorf("copy sessions: %w", err)
	}
	if n != int64(rows) {
		return fmt.Errorf("copied %d sessions, want %d", n, rows)
	}
	for _, stmt := range []string{"VACUUM (ANALYZE) system.web_sessions", "CHECKPOINT"} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// DescribeServer says what the figures were measured on.
func DescribeServer(ctx context.Context, conn *pgx.Conn) (string, error) {
	var version, fsync, syncCommit, buffers string
	err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('fsync'),
    current_setting('synchronous_commit'), current_setting('shared_buffers')`).Scan(&version, &fsync, &syncCommit, &buffers)
	if err != nil {
		return "", fmt.Errorf("read server settings: %w", err)
	}
	return fmt.Sprintf("PostgreSQL %s, fsync=%s, synchronous_commit=%s, shared_buffers=%s, %d CPUs",
		version, fsync, syncCommit, buffers, runtime.NumCPU()), nil
}

// FillColumns are the columns both table-size fills (bench/scale,
// bench/retention) derive for row i created at c, in a SELECT of their
// INSERT … SELECT generate_series: its id, made as the table's default
// makes them (milliseconds since 2020 in the high bits), whether it is an
// HTTP login (half, by a hash), and the client address and User-Agent
// such a login records.
const FillColumns = `(((extract(epoch FROM c) * 1000)::BIGINT - 1577836800000) << 22) | (i & 4194303) AS id,
        hashint8(i + 1) % 2 = 0 AS http,
        '10.0.0.0'::INET + (i % 16777216) AS ip,
        (ARRAY['Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0',
            'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
            'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36',
            'curl/8.4.0'])[1 + i / 2 % 4] AS ua`

// RawLookup is the raw database's session lookup that bench/scale and
// bench/retention measure the session check against: the session's own
// columns by primary key, without the logouts, the role or the setting
// that the check reads beside them.
const RawLookup = `SELECT id, username, user_id, hashed_secret, expires_at, revoked_at, last_used_at
FROM system.web_sessions WHERE id = $1`
