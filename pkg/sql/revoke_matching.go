package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrPicksEveryone is what Store.Revoke of Matching and CountMatching return for a
// selection that, in effect, picks everyone: one without any filter, or one
// that names no user and picks every live session (there being one), such
// as created after 1970 or idle for a second. Logging everyone out is
// Revoke of Everyone, which also refuses logins in flight, and asked for as
// such.
var ErrPicksEveryone = errors.New("the selection picks every live session")

// A selection's conditions (%[1]s) pick every live session when they pick
// one and no live session fails them; a condition on a column that is NULL
// (a CLI login has no address) fails, hence IS NOT TRUE.
const picksEveryLive = `SELECT EXISTS (
    SELECT 1 FROM system.web_sessions s` + joinLogouts + `
    WHERE ` + isActive + ` AND %[1]s
) AND NOT EXISTS (
    SELECT 1 FROM system.web_sessions s` + joinLogouts + `
    WHERE ` + isActive + ` AND (%[1]s) IS NOT TRUE
)`

// checkNotEveryone returns ErrPicksEveryone when sel picks everyone (see
// there). A selection that names users, to pick or to leave, never does:
// it says whose sessions it picks, however few users have any.
func checkNotEveryone(ctx context.Context, db DBTX, sel Selection) error {
	if sel.IsEmpty() {
		return ErrPicksEveryone
	}
	if len(sel.Users) > 0 || sel.leavesUsers() {
		return nil
	}
	var w where
	if err := sel.add(&w); err != nil {
		return err
	}
	var everyone bool
	query := fmt.Sprintf(picksEveryLive, "("+strings.Join(w.conds, " AND ")+")")
	if err := db.QueryRow(ctx, inSchema(db, query), w.args...).Scan(&everyone); err != nil {
		return fmt.Errorf("check whether the selection picks every live session: %w", err)
	}
	if everyone {
		return ErrPicksEveryone
	}
	return nil
}

// One statement picks the sessions of a selection as of its snapshot, with
// their revocation time if revoked (see joinLogouts), and revokes those not
// revoked yet. A row another transaction revokes meanwhile keeps its own
// time: the UPDATE waits for that transaction and finds revoked_at set.
const (
	revokeMatchingPicked = `WITH picked AS (
    SELECT s.id, s.username, s.created_at, ` + revokedAtOf + ` AS revoked_at
    FROM system.web_sessions s` + joinLogouts
	revokeMatchingRevoked = `
), revoked AS (
    UPDATE system.web_sessions w SET revoked_at = now()
    FROM picked p
    WHERE w.id = p.id AND p.revoked_at IS NULL AND w.revoked_at IS NULL
    RETURNING w.id, w.revoked_at
)`
	// Each session picked, by user then creation. One another transaction
	// revoked between the snapshot and the UPDATE is reported as revoked
	// before, at this transaction's time.
	revokeMatchingRows = `
SELECT p.id, p.username, p.created_at, COALESCE(r.revoked_at, p.revoked_at, now()), r.id IS NOT NULL
FROM picked p LEFT JOIN revoked r ON r.id = p.id
ORDER BY p.username, p.created_at, p.id`
	// The counts alone, per user, when no caller reads the rows.
	revokeMatchingCounts = `
SELECT p.username, count(r.id), count(*) - count(r.id)
FROM picked p LEFT JOIN revoked r ON r.id = p.id
GROUP BY p.username
ORDER BY p.username`
)

// revokeMatching revokes every session sel picks that is not revoked yet,
// in one statement as of one snapshot; sessions revoked before keep their
// first revoked_at. A selection by users alone is logOut, so that it
// also refuses those users' logins in flight; any other selection picks the
// sessions committed when the statement starts. When fn is not nil it is
// called for each session picked, by user and in creation order. For each
// user of whom it revoked sessions it records a sessions.revoked event with
// the count, the selection as the caller wrote it (written: each field or
// flag given, by the HTTP API's field names, its value as given, users as a
// list), and reason when not empty. A selection that picks everyone is
// ErrPicksEveryone, and changes nothing.
func revokeMatching(ctx context.Context, tx DBTX, sel Selection, written map[string]any, by Actor, reason string, fn func(RevokedSession) error) (RevokeResult, error) {
	if sel.byExceptOnly() {
		return logOutAllExcept(ctx, tx, sel, by, reason, fn)
	}
	if err := checkNotEveryone(ctx, tx, sel); err != nil {
		return RevokeResult{}, err
	}
	if sel.ByUsersOnly() {
		return logOut(ctx, tx, userSet{names: unique(sel.Users)}, 0, by, reason, fn)
	}
	var w where
	if err := sel.add(&w); err != nil {
		return RevokeResult{}, err
	}
	if err := waitForStandbys(ctx, tx); err != nil {
		return RevokeResult{}, err
	}
	query := revokeMatchingPicked + w.String() + revokeMatchingRevoked
	var t tally
	var err error
	if fn != nil {
		err = eachRow(ctx, tx, query+revokeMatchingRows, w.args, func(scan func(...any) error) error {
			var r RevokedSession
			if err := scan(&r.ID, &r.Username, &r.CreatedAt, &r.RevokedAt, &r.Now); err != nil {
				return err
			}
			t.session(r)
			return fn(r)
		})
	} else {
		err = eachRow(ctx, tx, query+revokeMatchingCounts, w.args, func(scan func(...any) error) error {
			var user string
			var revoked, before int64
			if err := scan(&user, &revoked, &before); err != nil {
				return err
			}
			t.add(user, revoked, before)
			return nil
		})
	}
	if err != nil {
		return t.res, err
	}
	return t.record(ctx, tx, func(u string, n int64) Event {
		detail := map[string]any{"revoked": n, "selection": written}
		if reason != "" {
			detail["reason"] = reason
		}
		return by.event(EventSessionsRevoked, u, nil, detail)
	})
}

// eachRow runs query and calls fn with the scanner of each row, streaming.
func eachRow(ctx context.Context, db DBTX, query string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := db.Query(ctx, inSchema(db, query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CountMatching counts the sessions sel picks that are not revoked yet,
// those Store.Revoke of Matching would revoke now, and their users; like it, it
// returns ErrPicksEveryone for a selection that picks everyone.
func CountMatching(ctx context.Context, db DBTX, sel Selection) (sessions, users int64, err error) {
	if err := checkNotEveryone(ctx, db, sel); err != nil {
		return 0, 0, err
	}
	var w where
	if err := sel.add(&w); err != nil {
		return 0, 0, err
	}
	w.and("NOT " + isRevoked)
	err = db.QueryRow(ctx, inSchema(db, `SELECT count(*), count(DISTINCT s.username)
FROM system.web_sessions s`+joinLogouts+w.String()), w.args...).Scan(&sessions, &users)
	return sessions, users, err
}

// The users a logout of everyone but some reaches: each role that may log
// in, and each user with a live session (a role dropped since), but those
// the condition %[1]s on name leaves out. The live users are read from the
// index of live sessions by user, one name at a time, rather than from
// every live row.
const usersToLogOutExcept = `WITH RECURSIVE live(name) AS (
    SELECT min(username) FROM system.web_sessions WHERE revoked_at IS NULL
  UNION ALL
    SELECT (SELECT min(username) FROM system.web_sessions WHERE revoked_at IS NULL AND username > live.name)
    FROM live WHERE live.name IS NOT NULL
), everyone(name) AS (
    SELECT name FROM live WHERE name IS NOT NULL
  UNION
    SELECT rolname::TEXT FROM pg_catalog.pg_roles WHERE rolcanlogin
)
SELECT name FROM everyone WHERE %[1]s`

// logOutAllExcept logs out every user but those sel leaves out (sel picks
// by ExceptUsers and ExceptRoles alone), as logOut of each: so that it
// refuses their logins in flight too, which one UPDATE of the sessions of
// everyone but some could not.
func logOutAllExcept(ctx context.Context, tx DBTX, sel Selection, by Actor, reason string, fn func(RevokedSession) error) (RevokeResult, error) {
	var w where
	sel.addExcept(&w, "name")
	rows, err := tx.Query(ctx, inSchema(tx, fmt.Sprintf(usersToLogOutExcept, strings.Join(w.conds, " AND "))), w.args...)
	if err != nil {
		return RevokeResult{}, fmt.Errorf("list the users to log out: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return RevokeResult{}, fmt.Errorf("list the users to log out: %w", err)
	}
	if len(names) == 0 {
		return RevokeResult{}, nil
	}
	return logOut(ctx, tx, userSet{names: names}, 0, by, reason, fn)
}
