package sql

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Queries of the self-service and admin HTTP API: a user's own sessions,
// every session page by page, and who may see them all.

// Owner names the role a session was minted for: its name and OID. A role
// dropped and created again under the same name has a new OID, and does
// not own the sessions of its predecessor.
type Owner struct {
	Username string
	UserID   int64
}

const listOwnSessions = `SELECT ` + sessionColumnsOf + `
FROM system.web_sessions s` + joinLogouts + `
WHERE s.username = $1 AND s.user_id = $2 AND ` + isActive + `
ORDER BY s.created_at DESC, s.id DESC`

// ListOwnSessions returns the active sessions of owner (neither revoked nor
// expired, by the database clock), newest first.
func ListOwnSessions(ctx context.Context, db DBTX, owner Owner) ([]Session, error) {
	rows, err := db.Query(ctx, inSchema(listOwnSessions), owner.Username, owner.UserID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var s Session
		if err := scanSession(rows, &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// One statement, whatever the id: a missing id, someone else's and a
// malformed one (passed as 0) take the same path, so the answer's timing
// does not tell them apart. COALESCE keeps the first revoked_at.
const revokeOwnSession = `UPDATE system.web_sessions SET revoked_at = COALESCE(revoked_at, now())
WHERE id = $1 AND username = $2 AND user_id = $3
RETURNING ` + sessionColumns + `, revoked_at = now()`

// revokeOwn revokes session id if owner owns it, and returns its row.
// A session revoked before keeps its first revoked_at; newly reports whether
// this call revoked it. It returns ErrSessionNotFound when no session with
// that id belongs to owner, without saying whether one exists.
func revokeOwn(ctx context.Context, db DBTX, owner Owner, id int64) (s Session, newly bool, err error) {
	err = scanSession(db.QueryRow(ctx, inSchema(revokeOwnSession), id, owner.Username, owner.UserID), &s, &newly)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, false, ErrSessionNotFound
	}
	return s, newly, err
}

// Bounds of one page of ListSessionsPage.
const (
	DefaultPageLimit = 500
	MaxPageLimit     = 5000
)

// PageFilter selects one page of ListSessionsPage.
type PageFilter struct {
	Selection
	// Before keeps only sessions with a smaller id (ids grow with time)
	// when positive: the cursor a previous page returned.
	Before int64
	// Limit is the most sessions on the page, 1 to MaxPageLimit; zero
	// means DefaultPageLimit.
	Limit int
}

// pageQuery builds the statement for f: its selection, and a keyset on the
// primary key for the cursor, so a page costs the same however deep into
// millions of rows it starts.
// The columns are list's, with the client's, so that one row type and one
// scanner serve both.
func pageQuery(f PageFilter, limit int) (string, []any, error) {
	var w where
	q := listSessions + statusExpr(&w, f.IdleTimeout) + listReason + listClient + listFrom
	if err := f.add(&w); err != nil {
		return "", nil, err
	}
	if f.Before > 0 {
		w.and("s.id < " + w.arg(f.Before))
	}
	return q + w.String() + "\nORDER BY s.id DESC LIMIT " + w.arg(limit), w.args, nil
}

// ListSessionsPage returns the sessions matching f, newest (highest id)
// first, at most f.Limit of them, and the cursor of the next page: the
// Before of the page that follows, or 0 when this page is the last.
func ListSessionsPage(ctx context.Context, db DBTX, f PageFilter) (page []ListedSession, next int64, err error) {
	limit := f.Limit
	if limit == 0 {
		limit = DefaultPageLimit
	}
	if limit < 1 || limit > MaxPageLimit {
		return nil, 0, fmt.Errorf("page limit %d is out of range 1 to %d", limit, MaxPageLimit)
	}
	// One row more than asked says whether another page follows.
	q, args, err := pageQuery(f, limit+1)
	if err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, inSchema(q), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var s ListedSession
		if err := scanListed(rows, &s, true); err != nil {
			return nil, 0, err
		}
		page = append(page, s)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].ID
	}
	return page, next, nil
}

// The admin role may not exist (init has not run, or it was dropped), and
