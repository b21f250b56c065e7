package sql

import (
	"context"
	"errors"
)

// ErrEmptySelection is what RevokeMatching returns for a selection of
// every session: that is LogOutEveryone, which also refuses logins in
// flight.
var ErrEmptySelection = errors.New("the selection picks every session: log everyone out instead")

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

// RevokeMatching revokes every session sel picks that is not revoked yet,
// in one statement as of one snapshot; sessions revoked before keep their
// first revoked_at. A selection by users alone is LogOutUsers, so that it
// also refuses those users' logins in flight; any other selection picks the
// sessions committed when the statement starts. When fn is not nil it is
// called for each session picked, by user and in creation order. For each
// user of whom it revoked sessions it records a sessions.revoked event with
// the count, the selection as the caller described it, and reason when not
// empty.
func RevokeMatching(ctx context.Context, tx DBTX, sel Selection, described string, by Actor, reason string, fn func(RevokedSession) error) (RevokeResult, error) {
	if sel.IsEmpty() {
		return RevokeResult{}, ErrEmptySelection
	}
	if sel.ByUsersOnly() {
		return LogOutUsers(ctx, tx, sel.Users, 0, by, reason, fn)
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
		detail := map[string]any{"revoked": n, "selection": described}
		if reason != "" {
			detail["reason"] = reason
		}
		return by.event(EventSessionsRevoked, u, nil, detail)
	})
}

// eachRow runs query and calls fn with the scanner of each row, streaming.
func eachRow(ctx context.Context, db DBTX, query string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := db.Query(ctx, inSchema(query), args...)
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
// those RevokeMatching would revoke now, and their users.
func CountMatching(ctx context.Context, db DBTX, sel Selection) (sessions, users int64, err error) {
	var w where
	if err := sel.add(&w); err != nil {
		return 0, 0, err
	}
	w.and("NOT " + isRevoked)
	err = db.QueryRow(ctx, inSchema(`SELECT count(*), count(DISTINCT s.username)
FROM system.web_sessions s`+joinLogouts+w.String()), w.args...).Scan(&sessions, &users)
	return sessions, users, err
}
