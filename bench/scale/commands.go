package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/auth-session/auth-session/bench/internal/cmdbench"
)

// A command measured against psql: both as whole processes, given the
// same URL.
type commandPair struct {
	what string
	// ours and theirs run once, the n-th time each is called (from 0).
	ours, theirs func(ctx context.Context, n int) (cmdbench.Run, error)
	// target bounds ours / psql: everydayTarget, or noTarget.
	target float64
}

// everydayTarget is issue 21's bound on an everyday command against psql
// doing the same statement.
const everydayTarget = 1.2

// commandPairs are the everyday commands against psql on the work
// database.
func (s *sizeRun) commandPairs() []commandPair {
	bin, psql, url := s.o.bin, s.o.psql, s.workURL
	ours := func(ctx context.Context, args ...string) (cmdbench.Run, error) {
		return cmdbench.Exec(ctx, nil, bin, append(args, "--url", url)...)
	}
	theirs := func(ctx context.Context, extra ...string) (cmdbench.Run, error) {
		return cmdbench.Exec(ctx, nil, psql, cmdbench.PsqlArgs(url, extra...)...)
	}
	reps := fmt.Sprintf("whole processes, median of %d (ours / psql)", s.o.reps)
	return []commandPair{
		{
			// What the commands below pay before they connect.
			what: "process start-up alone: `auth-session --version` vs `psql --version`, " + reps,
			ours: func(ctx context.Context, _ int) (cmdbench.Run, error) {
				return cmdbench.Exec(ctx, nil, bin, "--version")
			},
			theirs: func(ctx context.Context, _ int) (cmdbench.Run, error) {
				return cmdbench.Exec(ctx, nil, psql, "--version")
			},
			target: noTarget,
		},
		{
			what: "`login USER --only-cookie` vs `psql -c 'INSERT …'`, " + reps,
			ours: func(ctx context.Context, _ int) (cmdbench.Run, error) {
				return ours(ctx, "login", userName(loginUser), "--only-cookie")
			},
			theirs: func(ctx context.Context, _ int) (cmdbench.Run, error) {
				return theirs(ctx, "-At", "-c", cmdbench.LoginSQL(userName(loginUser)))
			},
			target: everydayTarget,
		},
		{
			what: "`logout USER` (10 sessions) vs `psql -c 'UPDATE …'`, " + reps,
			ours: func(ctx context.Context, _ int) (cmdbench.Run, error) {
				return ours(ctx, "logout", s.logoutUser(), "--format", "tsv")
			},
			theirs: func(ctx context.Context, _ int) (cmdbench.Run, error) {
				return theirs(ctx, "-c", "UPDATE system.web_sessions SET revoked_at = now() WHERE username = '"+s.logoutUser()+"' AND revoked_at IS NULL")
			},
			target: everydayTarget,
		},
		{
			what: "`list --user USER` (10 rows) vs `psql -At -c 'SELECT …'`, " + reps,
			ours: func(ctx context.Context, n int) (cmdbench.Run, error) {
				return ours(ctx, "list", "--user", listUser(n), "--format", "tsv")
			},
			theirs: func(ctx context.Context, n int) (cmdbench.Run, error) {
				return theirs(ctx, "-At", "-F", "\t", "-c", cmdbench.ListSQL("WHERE username = '"+listUser(n)+"'"))
			},
			target: everydayTarget,
		},
		{
			what: "`list --expired-within 1h` vs `psql -At -c 'SELECT …'`, " + reps,
			ours: func(ctx context.Context, _ int) (cmdbench.Run, error) {
				return ours(ctx, "list", "--expired-within", "1h", "--format", "tsv")
			},
			theirs: func(ctx context.Context, _ int) (cmdbench.Run, error) {
				return theirs(ctx, "-At", "-F", "\t", "-c", cmdbench.ExpiredWithinSQL("1 hour"))
			},
			target: everydayTarget,
		},
		{
			what: "`revoke ID --yes` vs `psql -c 'UPDATE …'`, " + reps,
			ours: func(ctx context.Context, _ int) (cmdbench.Run, error) {
				return ours(ctx, "revoke", strconv.FormatInt(s.revokeID(), 10), "--yes", "--format", "tsv")
			},
			theirs: func(ctx context.Context, _ int) (cmdbench.Run, error) {
				return theirs(ctx, "-c", "UPDATE system.web_sessions SET revoked_at = now() WHERE id = "+strconv.FormatInt(s.revokeID(), 10)+" AND revoked_at IS NULL")
			},
			target: everydayTarget,
		},
	}
}

// logoutUser is the next user for a logout, each with all 10 sessions.
func (s *sizeRun) logoutUser() string {
	u := firstLogoutUser + s.nextLogout
	s.nextLogout++
	return userName(u)
}

// revokeID is the next live session for revoke.
func (s *sizeRun) revokeID() int64 {
	id := s.revokeIDs[s.nextRevoke]
	s.nextRevoke++
	return id
}

// listUser is the user that list --user lists in run n.
func listUser(n int) string { return userName(firstListUser + n%listUsers) }

// commands measures each pair in one round: o.reps runs of each,
// alternating which goes first; the round's figure is the ratio of the
// medians.
func (s *sizeRun) commands(ctx context.Context, round int) error {
	for _, p := range s.commandPairs() {
		var oursN, theirsN int
		load := loadAverage()
		a, b, err := cmdbench.Alternate(s.o.reps, nil,
			func() (cmdbench.Run, error) { oursN++; return p.ours(ctx, round*s.o.reps+oursN-1) },
			func() (cmdbench.Run, error) { theirsN++; return p.theirs(ctx, round*s.o.reps+theirsN-1) })
		if err != nil {
			return err
		}
		ours, theirs := ms(cmdbench.Median(a)), ms(cmdbench.Median(b))
		s.report.measure(p.what, milliseconds, p.target, false).add(ours, theirs, ours/theirs, load)
	}
	return nil
}

// checkCommands runs, once and untimed, what the comparisons rest on:
// login prints a cookie; list --user and list --expired-within print the
// rows psql prints; logout and revoke leave nothing of theirs unrevoked.
func (s *sizeRun) checkCommands(ctx context.Context) error {
	var out bytes.Buffer
	run := func(name string, args ...string) (string, error) {
		out.Reset()
		_, err := cmdbench.Exec(ctx, &out, name, args...)
		return out.String(), err
	}
	cookie, err := run(s.o.bin, "login", userName(loginUser), "--only-cookie", "--url", s.workURL)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(cookie, "session=") || strings.Count(cookie, "\n") != 1 {
		return fmt.Errorf("login --only-cookie printed %q, want one cookie line", cookie)
	}
	for _, c := range []struct {
		ours []string
		sql  string
	}{
		{[]string{"list", "--user", listUser(0), "--format", "tsv"}, cmdbench.ListSQL("WHERE username = '" + listUser(0) + "'")},
		{[]string{"list", "--expired-within", "1h", "--format", "tsv"}, cmdbench.ExpiredWithinSQL("1 hour")},
	} {
		ours, err := run(s.o.bin, append(c.ours, "--url", s.workURL)...)
		if err != nil {
			return err
		}
		theirs, err := run(s.o.psql, cmdbench.PsqlArgs(s.workURL, "-At", "-F", "\t", "-c", c.sql)...)
		if err != nil {
			return err
		}
		if o, t := strings.Count(ours, "\n"), strings.Count(theirs, "\n"); o != t+1 || t == 0 {
			return fmt.Errorf("%s printed %d lines and psql %d, want a header and the same rows", strings.Join(c.ours, " "), o, t)
		}
	}
	// One run of each of logout and revoke, on a user and a session that
	// the rounds do not take.
	user, id := userName(firstLogoutUser+logoutUsers-1), s.revokeIDs[len(s.revokeIDs)-1]
	if _, err := run(s.o.bin, "logout", user, "--format", "tsv", "--url", s.workURL); err != nil {
		return err
	}
	if _, err := run(s.o.bin, "revoke", strconv.FormatInt(id, 10), "--yes", "--format", "tsv", "--url", s.workURL); err != nil {
		return err
	}
	var left int
	err = s.pool.QueryRow(ctx, `SELECT count(*) FROM system.web_sessions WHERE (username = $1 OR id = $2) AND revoked_at IS NULL`,
		user, id).Scan(&left)
	if err == nil && left != 0 {
		err = fmt.Errorf("logout %s and revoke %d left %d sessions unrevoked", user, id, left)
	}
	return err
}

// memory measures the peak resident set of list printing every session,
// in the formats that issue 21 found holding every row (table, html) and
// in tsv for comparison, each stopped at o.rssCap.
func (s *sizeRun) memory(ctx context.Context) error {
	for _, format := range []string{"table", "html", "tsv"} {
		load := loadAverage()
		r, err := cmdbench.ExecCapped(ctx, s.o.rssCap, s.o.bin, "list", "--format", format, "--url", s.workURL)
		if err != nil {
			return err
		}
		what := fmt.Sprintf("peak RSS of `list --format %s` of every session (child rusage)", format)
		if r.Stopped {
			what += fmt.Sprintf(", **stopped at %d MiB** after %.0f s", s.o.rssCap>>20, r.Wall.Seconds())
		}
		s.report.measure(what, mebibytes, 50, false).addAlone(float64(r.MaxRSS)/(1<<20), load)
	}
	return nil
}
