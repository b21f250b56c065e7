package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/bench/internal/cmdbench"
	"github.com/auth-session/auth-session/pkg/sql"
)

// The measurements of bulk logout and of list's selection: each against
// the raw statement doing the same work, run by psql in the same run.

// bulkLogout measures logout --users-from a file of users against one
// UPDATE ... WHERE username = ANY(...) of the same rows.
func (b *bench) bulkLogout(ctx context.Context, o options) ([]reportRow, error) {
	began := time.Now()
	users := make([]string, o.bulkUsers)
	for i := range users {
		users[i] = fmt.Sprintf("bulk_%05d", i)
	}
	// Every user of the file has sessions; as many rows again belong to
	// users not in it.
	perUser := o.bulkSessions / o.bulkUsers
	spec := fillSpec{
		rows: 2 * o.bulkSessions,
		username: func(i int) string {
			if i%2 == 0 {
				return users[(i/2)%len(users)]
			}
			return fmt.Sprintf("other_%05d", i%len(users))
		},
		revoked: never, expired: never,
	}
	fmt.Fprintf(b.out, "bulk logout: %d runs of each program, each after refilling %d sessions (%d of each of %d users, and as many of others) ...\n",
		o.logoutReps, spec.rows, perUser, len(users))
	file := filepath.Join(os.TempDir(), fmt.Sprintf("bench-users-%d.txt", os.Getpid()))
	if err := os.WriteFile(file, []byte(strings.Join(users, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	defer os.Remove(file)
	check := b.checkRevoked(ctx, o.bulkSessions)
	ours := func() (cmdbench.Run, error) {
		return check(cmdbench.Exec(ctx, nil, b.bin, "logout", "--users-from", file, "--format", "tsv", "--url", b.db.url))
	}
	theirs := func() (cmdbench.Run, error) {
		return check(cmdbench.Exec(ctx, nil, b.psql, cmdbench.PsqlArgs(b.db.url, "-c",
			"UPDATE system.web_sessions SET revoked_at = now() WHERE username = ANY('{"+strings.Join(users, ",")+"}'::TEXT[]) AND revoked_at IS NULL")...))
	}
	a, p, err := cmdbench.Alternate(o.logoutReps, func() error { return b.db.refill(ctx, spec) }, ours, theirs)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b.out, "  done in %s\n", since(began))
	return []reportRow{{
		what: fmt.Sprintf("`logout --users-from` %s users holding %s sessions vs `psql -c 'UPDATE … username = ANY(…)'`, median of %d",
			thousands(len(users)), thousands(o.bulkSessions), o.logoutReps),
		ours: cmdbench.Median(a), oursCPU: cmdbench.MedianCPU(a), theirs: cmdbench.Median(p), theirsCPU: cmdbench.MedianCPU(p), target: 1.2,
	}}, nil
}

// checkRevoked checks, after a run, that exactly want sessions are revoked.
func (b *bench) checkRevoked(ctx context.Context, want int) func(cmdbench.Run, error) (cmdbench.Run, error) {
	return func(run cmdbench.Run, err error) (cmdbench.Run, error) {
		if err != nil {
			return run, err
		}
		var revoked int
		if err := b.db.conn.QueryRow(ctx, `SELECT count(*) FROM system.web_sessions WHERE revoked_at IS NOT NULL`).Scan(&revoked); err != nil {
			return run, err
		}
		if revoked != want {
			return run, fmt.Errorf("%d sessions revoked, want %d", revoked, want)
		}
		return run, nil
	}
}

// logoutAll measures logout --all --yes against one UPDATE of every live
// row, and the latency of logins made while each runs.
func (b *bench) logoutAll(ctx context.Context, o options) ([]reportRow, error) {
	began := time.Now()
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf("user_%04d", i)
	}
	spec := fillSpec{rows: o.listRows, username: func(i int) string { return users[i%len(users)] }, revoked: never, expired: never}
	fmt.Fprintf(b.out, "logout --all: %d runs of each program, each after refilling %d live sessions, logins running beside ...\n",
		o.logoutReps, spec.rows)
	pool, err := pgxpool.New(ctx, b.db.url)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	var latencies = map[string][]time.Duration{}
	// beside runs logins in a loop while run does; their latencies are
	// filed under who.
	beside := func(who string, run func() (cmdbench.Run, error)) (cmdbench.Run, error) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []error
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				_, err := sql.NewStore(pool).Login(ctx, sql.NewSession{Username: b.db.user, HashedSecret: make([]byte, 32), ExpireAfter: time.Hour},
					sql.Actor{Name: "bench", Via: "cli"}, sql.LoginOptions{})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				latencies[who] = append(latencies[who], time.Since(t0))
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
		r, err := run()
		close(stop)
		wg.Wait()
		if err == nil && len(errs) > 0 {
			err = fmt.Errorf("a login beside the logout failed: %w", errs[0])
		}
		return r, err
	}
	ours := func() (cmdbench.Run, error) {
		return beside("ours", func() (cmdbench.Run, error) {
			return cmdbench.Exec(ctx, nil, b.bin, "logout", "--all", "--yes", "--format", "tsv", "--url", b.db.url)
		})
	}
	theirs := func() (cmdbench.Run, error) {
		return beside("theirs", func() (cmdbench.Run, error) {
			return cmdbench.Exec(ctx, nil, b.psql, cmdbench.PsqlArgs(b.db.url, "-c", "UPDATE system.web_sessions SET revoked_at = now() WHERE revoked_at IS NULL")...)
		})
	}
	a, p, err := cmdbench.Alternate(o.logoutReps, func() error { return b.db.refill(ctx, spec) }, ours, theirs)
	if err != nil {
		return nil, err
	}
	// Logins with nothing beside them, for reference.
	for range 50 {
		if _, err := beside("idle", func() (cmdbench.Run, error) { time.Sleep(20 * time.Millisecond); return cmdbench.Run{}, nil }); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(b.out, "  done in %s\n", since(began))
	q := func(who string, p float64) time.Duration {
		ds := slices.Clone(latencies[who])
		slices.Sort(ds)
		if len(ds) == 0 {
			return 0
		}
		return ds[min(len(ds)-1, int(float64(len(ds))*p))]
	}
	return []reportRow{
		{
			what: fmt.Sprintf("`logout --all --yes` of %s live sessions vs `psql -c 'UPDATE …'`, median of %d", thousands(spec.rows), o.logoutReps),
			ours: cmdbench.Median(a), oursCPU: cmdbench.MedianCPU(a), theirs: cmdbench.Median(p), theirsCPU: cmdbench.MedianCPU(p), target: 1.2,
		},
		{
			what: fmt.Sprintf("login latency p50 / p99 / max while `logout --all` runs (%d logins; while psql's UPDATE runs: %s / %s / %s; with nothing beside: %s / %s)",
				len(latencies["ours"]), duration(q("theirs", 0.5)), duration(q("theirs", 0.99)), duration(q("theirs", 1)),
				duration(q("idle", 0.5)), duration(q("idle", 0.99))),
			note: fmt.Sprintf("%s / %s / %s", duration(q("ours", 0.5)), duration(q("ours", 0.99)), duration(q("ours", 1))),
		},
	}, nil
}

// expiredWithinQuery is what list --expired-within 24h --format tsv prints,
// as plain SQL.
var expiredWithinQuery = cmdbench.ExpiredWithinSQL("24 hours")

// summaryQuery is list --summary as plain SQL.
const summaryQuery = `SELECT username,
    count(*) FILTER (WHERE revoked_at IS NULL AND expires_at > now()),
    count(*) FILTER (WHERE revoked_at IS NULL AND expires_at <= now()),
    count(*) FILTER (WHERE revoked_at IS NOT NULL),
    max(last_used_at)
FROM system.web_sessions GROUP BY username ORDER BY 2 DESC, 5 DESC, 1`

// listSelection measures list --expired-within and list --summary on the
// table list fills, against psql running the same SELECT.
func (b *bench) listSelection(ctx context.Context, o options) ([]reportRow, error) {
	began := time.Now()
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf("user_%04d", i)
	}
	// 10% expired within the last day, 45% long expired, the rest live.
	spec := fillSpec{
		rows:     o.listRows,
		username: func(i int) string { return users[i%len(users)] },
		revoked:  func(i int) bool { return i%20 == 3 },
		expired:  never,
		expiresAt: func(i int, now time.Time) time.Time {
			switch {
			case i%10 == 0:
				return now.Add(-time.Duration(1+i%1380) * time.Minute)
			case i%2 == 1:
				return now.Add(-72 * time.Hour)
			}
			return now.Add(time.Hour)
		},
	}
	fmt.Fprintf(b.out, "list --expired-within and --summary: filling %d sessions with COPY ...\n", o.listRows)
	if err := b.db.refill(ctx, spec); err != nil {
		return nil, err
	}
	var plan string
	if err := b.db.conn.QueryRow(ctx, "EXPLAIN (FORMAT TEXT) "+expiredWithinQuery).Scan(&plan); err != nil {
		return nil, err
	}
	var rows []reportRow
	for _, m := range []struct {
		what       string
		ours       []string
		theirs     string
		wantOurs   int
		wantTheirs int
	}{
		{fmt.Sprintf("`list --expired-within 24h --format tsv` on %s sessions (10%% match) vs `psql -At` of the same SELECT", thousands(o.listRows)),
			[]string{"list", "--expired-within", "24h", "--format", "tsv", "--url", b.db.url}, expiredWithinQuery, o.listRows/10 + 1, o.listRows / 10},
		{fmt.Sprintf("`list --summary --format tsv` on %s sessions of 1,000 users vs `psql -At` of the GROUP BY", thousands(o.listRows)),
			[]string{"list", "--summary", "--format", "tsv", "--url", b.db.url}, summaryQuery, len(users) + 1, len(users)},
	} {
		theirsArgs := cmdbench.PsqlArgs(b.db.url, "-At", "-F", "\t", "-c", m.theirs)
		var ourLines, theirLines cmdbench.LineCounter
		if _, err := cmdbench.Exec(ctx, &ourLines, b.bin, m.ours...); err != nil {
			return nil, err
		}
		if _, err := cmdbench.Exec(ctx, &theirLines, b.psql, theirsArgs...); err != nil {
			return nil, err
		}
		if ourLines.Lines != m.wantOurs || theirLines.Lines != m.wantTheirs {
			return nil, fmt.Errorf("%s: %d and %d lines, want %d and %d", m.what, ourLines.Lines, theirLines.Lines, m.wantOurs, m.wantTheirs)
		}
		a, p, err := cmdbench.Alternate(o.listReps+2, nil,
			func() (cmdbench.Run, error) { return cmdbench.Exec(ctx, nil, b.bin, m.ours...) },
			func() (cmdbench.Run, error) { return cmdbench.Exec(ctx, nil, b.psql, theirsArgs...) })
		if err != nil {
			return nil, err
		}
		rows = append(rows, reportRow{what: m.what + fmt.Sprintf(", median of %d", o.listReps+2),
			ours: cmdbench.Median(a), oursCPU: cmdbench.MedianCPU(a), theirs: cmdbench.Median(p), theirsCPU: cmdbench.MedianCPU(p), target: 1.2})
	}
	fmt.Fprintf(b.out, "  plan of the expired-within SELECT: %s\n  done in %s\n", strings.SplitN(plan, "\n", 2)[0], since(began))
	return rows, nil
}
