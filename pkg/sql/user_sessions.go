package sql

import (
	"context"
	"fmt"
	"time"
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

// ownSessionsQuery is the statement of ListOwnSessions.
func ownSessionsQuery(owner Owner, idle time.Duration) (string, []any) {
	var w where
	q := "SELECT " + selectFields(&w, SessionFields, idle) + listFrom
	w.and("s.username = " + w.arg(owner.Username))
	w.and("s.user_id = " + w.arg(owner.UserID))
	w.and(activeExpr(&w, idle))
	return q + w.String() + "\nORDER BY s.created_at DESC, s.id DESC", w.args
}

// ListOwnSessions returns the active sessions of owner (neither revoked nor
// expired, nor idle under the idle timeout idle when it is positive, by the
// database clock), newest first, with every field: those the session check
// accepts under the same policy.
func ListOwnSessions(ctx context.Context, db DBTX, owner Owner, idle time.Duration) ([]ListedSession, error) {
	q, args := ownSessionsQuery(owner, idle)
	var out []ListedSession
	err := eachListed(ctx, db, q, args, SessionFields, func(s *ListedSession) error {
		out = append(out, *s)
		return nil
	})
	return out, err
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
// millions of rows it starts. It reads every field.
func pageQuery(f PageFilter, limit int) (string, []any, error) {
	var w where
	q := "SELECT " + selectFields(&w, SessionFields, f.IdleTimeout) + listFrom
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
	err = eachListed(ctx, db, q, args, SessionFields, func(s *ListedSession) error {
		page = append(page, *s)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].ID
	}
	return page, next, nil
}

// The admin role may not exist (init has not run, or it was dropped), and
