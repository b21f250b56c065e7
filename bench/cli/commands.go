package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/auth-session/auth-session/bench/internal/cmdbench"
	"github.com/auth-session/auth-session/pkg/cli"
)

// loginArgs is the seed's example: auth-session login web_user --only-cookie.
func (b *bench) loginArgs() []string {
	return []string{"login", b.db.user, "--only-cookie", "--url", b.db.url}
}

// psqlLoginArgs insert the same row as login.
func (b *bench) psqlLoginArgs() []string {
	return cmdbench.PsqlArgs(b.db.url, "-At", "-c", cmdbench.LoginSQL(b.db.user))
}

// login measures whole-process login against psql's INSERT.
func (b *bench) login(ctx context.Context, o options) ([]reportRow, error) {
	began := time.Now()
	fmt.Fprintf(b.out, "login: %d alternating runs of each program ...\n", o.loginReps)
	if err := b.db.refill(ctx, fillSpec{rows: 1000, username: func(int) string { return b.db.user }, revoked: never, expired: never}); err != nil {
		return nil, err
	}
	ours := func() (cmdbench.Run, error) { return cmdbench.Exec(ctx, nil, b.bin, b.loginArgs()...) }
	theirs := func() (cmdbench.Run, error) { return cmdbench.Exec(ctx, nil, b.psql, b.psqlLoginArgs()...) }
	// Warm the page cache, the server's catalogs and both binaries.
	if _, _, err := cmdbench.Alternate(4, nil, ours, theirs); err != nil {
		return nil, err
	}
	a, p, err := cmdbench.Alternate(o.loginReps, nil, ours, theirs)
	if err != nil {
		return nil, err
	}
	// What the statement mode that pgbouncer's transaction mode needs
	// costs against pgx's default, which prepares named statements.
	preparedArgs := b.loginArgs()
	sep := "?"
	if strings.Contains(b.db.url, "?") {
		sep = "&"
	}
	preparedArgs[len(preparedArgs)-1] += sep + "default_query_exec_mode=cache_statement"
	prepared := func() (cmdbench.Run, error) { return cmdbench.Exec(ctx, nil, b.bin, preparedArgs...) }
	d, c, err := cmdbench.Alternate(o.loginReps, nil, ours, prepared)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b.out, "  done in %s\n", since(began))
	return []reportRow{{
		what: fmt.Sprintf("`login web_user --only-cookie` vs `psql -c 'INSERT …'`, whole process, median of %d", o.loginReps),
		ours: cmdbench.Median(a), oursCPU: cmdbench.MedianCPU(a),
		theirs: cmdbench.Median(p), theirsCPU: cmdbench.MedianCPU(p),
		target: 1.2,
	}, {
		what: fmt.Sprintf("`login` in its statement mode (%v) vs with `default_query_exec_mode=cache_statement`, median of %d", cli.PoolerQueryExecMode, o.loginReps),
		note: fmt.Sprintf("%s vs %s: %.2f×", duration(cmdbench.Median(d)), duration(cmdbench.Median(c)), float64(cmdbench.Median(d))/float64(cmdbench.Median(c))),
	}}, nil
}

// logout measures revoking a user's sessions against one raw UPDATE, each
// run on a freshly filled table.
func (b *bench) logout(ctx context.Context, o options) ([]reportRow, error) {
	began := time.Now()
	fmt.Fprintf(b.out, "logout: %d runs of each program, each after refilling %d sessions of %s and 10,000 of others ...\n",
		o.logoutReps, o.logoutSessions, b.db.user)
	others := make([]string, 100)
	for i := range others {
		others[i] = fmt.Sprintf("other_%02d", i)
	}
	spec := fillSpec{
		rows: o.logoutSessions + 10_000,
		username: func(i int) string {
			if i < o.logoutSessions {
				return b.db.user
			}
			return others[i%len(others)]
		},
		revoked: never, expired: never,
	}
	prepare := func() error { return b.db.refill(ctx, spec) }
	check := func(run cmdbench.Run, err error) (cmdbench.Run, error) {
		if err != nil {
			return run, err
		}
		var left, revoked int
		if err := b.db.conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE revoked_at IS NULL AND username = $1),
    count(*) FILTER (WHERE revoked_at IS NOT NULL) FROM system.web_sessions`, b.db.user).Scan(&left, &revoked); err != nil {
			return run, err
		}
		if left != 0 || revoked != o.logoutSessions {
			return run, fmt.Errorf("logout left %d of the user's sessions and revoked %d, want 0 and %d", left, revoked, o.logoutSessions)
		}
		return run, nil
	}
	ours := func() (cmdbench.Run, error) {
		return check(cmdbench.Exec(ctx, nil, b.bin, "logout", b.db.user, "--format", "tsv", "--url", b.db.url))
	}
	theirs := func() (cmdbench.Run, error) {
		return check(cmdbench.Exec(ctx, nil, b.psql, cmdbench.PsqlArgs(b.db.url, "-c",
			"UPDATE system.web_sessions SET revoked_at = now() WHERE username = '"+b.db.user+"' AND revoked_at IS NULL")...))
	}
	a, p, err := cmdbench.Alternate(o.logoutReps, prepare, ours, theirs)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b.out, "  done in %s\n", since(began))
	return []reportRow{{
		what: fmt.Sprintf("`logout` of a user with %s sessions vs `psql -c 'UPDATE …'`, median of %d", thousands(o.logoutSessions), o.logoutReps),
		ours: cmdbench.Median(a), oursCPU: cmdbench.MedianCPU(a),
		theirs: cmdbench.Median(p), theirsCPU: cmdbench.MedianCPU(p),
		target: 1.2,
	}}, nil
}

// list measures streaming every session as TSV against psql -At.
func (b *bench) list(ctx context.Context, o options) ([]reportRow, error) {
	began := time.Now()
	fmt.Fprintf(b.out, "list: filling %d sessions with COPY ...\n", o.listRows)
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf("user_%04d", i)
	}
	err := b.db.refill(ctx, fillSpec{
		rows:     o.listRows,
		username: func(i int) string { return users[i%len(users)] },
		revoked:  func(i int) bool { return i%3 == 1 },
		expired:  func(i int) bool { return i%3 == 2 },
	})
	if err != nil {
		return nil, err
	}
	oursArgs := []string{"list", "--format", "tsv", "--url", b.db.url}
	theirsArgs := cmdbench.PsqlArgs(b.db.url, "-At", "-F", "\t", "-c", cmdbench.ListSQL(""))

	// Both print every row once (ours with a header line).
	var ourLines, theirLines cmdbench.LineCounter
	if _, err := cmdbench.Exec(ctx, &ourLines, b.bin, oursArgs...); err != nil {
		return nil, err
	}
	if _, err := cmdbench.Exec(ctx, &theirLines, b.psql, theirsArgs...); err != nil {
		return nil, err
	}
	if ourLines.Lines != o.listRows+1 || theirLines.Lines != o.listRows {
		return nil, fmt.Errorf("list printed %d lines and psql %d, want %d and %d", ourLines.Lines, theirLines.Lines, o.listRows+1, o.listRows)
	}
	fmt.Fprintf(b.out, "list: %d alternating runs of each program to /dev/null ...\n", o.listReps)
	a, p, err := cmdbench.Alternate(o.listReps, nil,
		func() (cmdbench.Run, error) { return cmdbench.Exec(ctx, nil, b.bin, oursArgs...) },
		func() (cmdbench.Run, error) { return cmdbench.Exec(ctx, nil, b.psql, theirsArgs...) })
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b.out, "  done in %s\n", since(began))
	rows := thousands(o.listRows)
	return []reportRow{
		{
			what: fmt.Sprintf("`list --format tsv` of %s sessions to /dev/null vs `psql -At -c 'SELECT …'`, median of %d", rows, o.listReps),
			ours: cmdbench.Median(a), oursCPU: cmdbench.MedianCPU(a),
			theirs: cmdbench.Median(p), theirsCPU: cmdbench.MedianCPU(p),
			target: 1.5,
		},
		{
			what:      fmt.Sprintf("peak RSS of `list --format tsv` of %s sessions (psql's for comparison)", rows),
			oursRSS:   cmdbench.PeakRSS(a),
			theirsRSS: cmdbench.PeakRSS(p),
			rssLimit:  50 << 20,
		},
	}, nil
}

// thousands formats n with commas: 1,000,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
