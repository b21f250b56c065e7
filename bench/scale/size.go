package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/tablesize"
)

// Which users each measure takes, so that none sees another's changes:
// whoami and the session check present the live sessions of the first
// lookupUsers real roles; login makes sessions for loginUser; list --user
// lists the next users in turn; logout takes a user of its own for each
// run from firstLogoutUser on; revoke takes the live sessions of users
// without a role from firstRevokeUser on.
const (
	lookupUsers     = 600
	loginUser       = 600
	firstListUser   = 601
	listUsers       = 99
	firstLogoutUser = 700
	logoutUsers     = realRoles - firstLogoutUser
	firstRevokeUser = realRoles
	revokeUsers     = 200
)

// sizeRun is the benchmark at one table size.
type sizeRun struct {
	o        options
	n        int
	template string // the filled database, never changed
	work     string // its copy, where the commands and serve run
	workURL  string
	pool     *pgxpool.Pool
	// keys are the live sessions that the session check and whoami
	// present, spread over the table and shuffled.
	keys []int64
	// revokeIDs are live sessions for revoke, taken in turn.
	revokeIDs  []int64
	nextLogout int
	nextRevoke int
	nextList   int
	serveAddr  string
	shape      tableShape
	// purged is how many sessions each purge deleted, in every round.
	purged     []float64
	report     report
	roundTrips []commandTrips
}

func runSize(ctx context.Context, out io.Writer, o options, n int) (err error) {
	s := &sizeRun{o: o, n: n, template: "scale_" + strings.ToLower(tablesize.Name(n))}
	s.work = s.template + "_work"
	s.workURL = benchdb.URL(o.url, s.work)
	progress("%s: filling %s sessions", tablesize.Name(n), thousands(n))
	began := time.Now()
	defer func() { err = errors.Join(err, benchdb.DropDatabase(ctx, o.url, s.template)) }()
	if s.shape, err = fill(ctx, o.url, s.template, n); err != nil {
		return err
	}
	s.shape.filled = time.Since(began)
	progress("%s: filled in %v", tablesize.Name(n), s.shape.filled.Round(time.Second))
	defer func() { err = errors.Join(err, benchdb.DropDatabase(ctx, o.url, s.work)) }()
	if err := benchdb.CopyDatabase(ctx, o.url, s.template, s.work); err != nil {
		return err
	}
	poolCfg, err := pgxpool.ParseConfig(s.workURL)
	if err != nil {
		return err
	}
	poolCfg.MaxConns = 16 // serve's default --max-conns
	if s.pool, err = pgxpool.NewWithConfig(ctx, poolCfg); err != nil {
		return err
	}
	defer s.pool.Close()
	if err := s.pickSessions(ctx); err != nil {
		return err
	}
	stopServe, err := s.startServe(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopServe()) }()
	if err := s.checkCommands(ctx); err != nil {
		return err
	}
	for round := range o.rounds {
		progress("%s: round %d of %d", tablesize.Name(n), round+1, o.rounds)
		if err := s.commands(ctx, round); err != nil {
			return err
		}
		if err := s.lookups(ctx, round); err != nil {
			return err
		}
		if err := s.purges(ctx, round); err != nil {
			return err
		}
	}
	progress("%s: peak memory of list", tablesize.Name(n))
	if err := s.memory(ctx); err != nil {
		return err
	}
	progress("%s: round trips of the everyday commands", tablesize.Name(n))
	if s.roundTrips, err = s.countRoundTrips(ctx); err != nil {
		return err
	}
	s.print(out)
	return nil
}

// pickSessions chooses the sessions that the session check, whoami and
// revoke present.
func (s *sizeRun) pickSessions(ctx context.Context) error {
	const live = `SELECT id FROM system.web_sessions
WHERE username = ANY($1) AND revoked_at IS NULL AND expires_at > now() + INTERVAL '1 hour' ORDER BY id`
	var err error
	if s.keys, err = queryIDs(ctx, s.pool, live, userNames(0, lookupUsers)); err != nil {
		return err
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(s.keys), func(i, j int) { s.keys[i], s.keys[j] = s.keys[j], s.keys[i] })
	if s.revokeIDs, err = queryIDs(ctx, s.pool, live, userNames(firstRevokeUser, revokeUsers)); err != nil {
		return err
	}
	if need := s.o.rounds*2*s.o.reps + 2; len(s.revokeIDs) < need {
		return fmt.Errorf("%d live sessions to revoke, want %d: fewer -reps or -rounds", len(s.revokeIDs), need)
	}
	return nil
}

func queryIDs(ctx context.Context, pool *pgxpool.Pool, q string, args ...any) ([]int64, error) {
	rows, err := pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("no session found for the benchmark to present")
	}
	return ids, nil
}

// userNames names count users from first.
func userNames(first, count int) []string {
	names := make([]string, count)
	for i := range names {
		names[i] = userName(first + i)
	}
	return names
}

// print writes the size's table and the round trips.
func (s *sizeRun) print(out io.Writer) {
	sh := s.shape
	fmt.Fprintf(out, "\n### %s sessions\n\n", tablesize.Name(s.n))
	fmt.Fprintf(out, "%s sessions, %s with their indexes, filled in %v: %s purgeable, %s expired in the last hour, %s revoked, %s HTTP logins; "+
		"%s users, %s of them real roles, 10 sessions each. %s; the load column is the load average (1 min) at the start of each round's measurement. "+
		"The session check and whoami present %s live sessions spread over the table, from %d clients.\n\n",
		thousands(sh.rows), mib(sh.bytes), sh.filled.Round(time.Second), thousands(sh.purgeable), thousands(sh.expiredWithinHour),
		thousands(sh.revoked), thousands(sh.http), thousands(s.n/10), thousands(realRoles), plural(s.o.rounds, "round"), thousands(len(s.keys)), s.o.concurrency)
	fmt.Fprintf(out, "Each purge deleted %s sessions.\n\n", span(s.purged, func(v float64) string { return thousands(int64(v)) }))
	s.report.print(out)
	fmt.Fprintln(out)
	printRoundTrips(out, s.roundTrips)
}

func mib(b int64) string {
	if b >= 10<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%d MiB", b>>20)
}

// plural is n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
