package sql

import (
	"context"
	"time"
)

// ListFilter narrows ListSessions.
type ListFilter struct {
	// Username keeps only this user's sessions when not empty.
	Username string
	// ActiveOnly keeps only sessions neither revoked nor expired.
	ActiveOnly bool
}

// ListedSession is one row that ListSessions reports.
type ListedSession struct {
	ID         int64
	Username   string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt time.Time
	// Active is true when the session is neither revoked nor expired, by
	// the database clock.
	Active bool
}

const (
	listSessions = `SELECT s.id, s.username, s.created_at, s.expires_at, ` + revokedAtOf + `, s.last_used_at,
    ` + isActive + `
FROM system.web_sessions s` + joinLogouts
	listByUser   = ` s.username = $1`
	listActive   = ` ` + isActive
	listOrdering = ` ORDER BY s.created_at, s.id`
)

// listQuery builds the statement for f. Each filter is added only when set,
// rather than written as "$1 = ” OR ...", so that a cached generic plan can
// never fall back to a full scan.
func listQuery(f ListFilter) (string, []any) {
	q, args, sep := listSessions, []any{}, " WHERE"
	if f.Username != "" {
		q, args, sep = q+sep+listByUser, append(args, f.Username), " AND"
	}
	if f.ActiveOnly {
		q += sep + listActive
	}
	return q + listOrdering, args
}

// The rows a logout of everyone would write to.
const countUnrevoked = `SELECT count(*) FROM system.web_sessions WHERE revoked_at IS NULL`

// CountUnrevokedSessions counts the sessions whose revoked_at is not set,
// expired or not: those LogOutEveryone revokes.
func CountUnrevokedSessions(ctx context.Context, db DBTX) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, countUnrevoked).Scan(&n)
	return n, err
}

// ListSessions calls fn for every session that matches f, in creation
// order, streaming: it never holds more than one row.
func ListSessions(ctx context.Context, db DBTX, f ListFilter, fn func(*ListedSession) error) error {
	q, args := listQuery(f)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var s ListedSession
	for rows.Next() {
		s.RevokedAt = nil
		if err := rows.Scan(&s.ID, &s.Username, &s.CreatedAt, &s.ExpiresAt, &s.RevokedAt, &s.LastUsedAt, &s.Active); err != nil {
			return err
		}
		if err := fn(&s); err != nil {
			return err
		}
	}
	return rows.Err()
}
