package sql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ListFilter picks and orders the rows of ListSessions.
type ListFilter struct {
	Selection
	// Client also reads what the session recorded of its client: the
	// fields of ListedSession.Client.
	Client bool
	// Order is the column the rows come in order of: OrderCreated (the
	// default when empty), OrderExpires or OrderLastUsed; the id splits
	// ties. Desc reverses it.
	Order string
	Desc  bool
	// Limit is the most rows to list; 0 lists all.
	Limit int
}

// Orders of ListFilter.
const (
	OrderCreated  = "created"
	OrderExpires  = "expires"
	OrderLastUsed = "last-used"
)

// Orders is every order ListFilter accepts.
var Orders = []string{OrderCreated, OrderExpires, OrderLastUsed}

// orderColumns are the columns of each order, each the head of an index
// that ends in id, so a limited list reads only the rows it prints.
var orderColumns = map[string]string{
	"":            "s.created_at",
	OrderCreated:  "s.created_at",
	OrderExpires:  "s.expires_at",
	OrderLastUsed: "s.last_used_at",
}

// Session states, as list shows them.
const (
	StatusActive  = "active"
	StatusIdle    = "idle"
	StatusExpired = "expired"
	StatusRevoked = "revoked"
)

// ListedSession is one row that ListSessions and ListSessionsPage report.
type ListedSession struct {
	ID         int64
	Username   string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt time.Time
	// Active is true when the session is neither revoked nor expired (nor
	// idle, under an idle timeout), by the database clock.
	Active bool
	// Status is StatusRevoked, StatusExpired, StatusIdle or StatusActive,
	// in that order of precedence.
	Status string
	// RevokeReason is why the credential check revoked the session (one
	// of the Reason constants of CredentialsChanged); "" for any other
	// revocation, whose reason is in its audit event.
	RevokeReason string
	// Client is what the session recorded of how it was made; set when
	// ListFilter.Client is.
	Client ClientInfo
}

// ClientInfo is what a session recorded of the client that made it: the
// address and User-Agent of an HTTP login, how it was made (cli or http),
// and who made it.
type ClientInfo struct {
	IP, UserAgent, Via, Actor string
}

const (
	listSessions = `SELECT s.id, s.username, s.created_at, s.expires_at, ` + revokedAtOf + `, s.last_used_at, `
	// listReason follows the state.
	listReason = `, COALESCE(s.revoke_reason, '')`
	listClient = `,
    COALESCE(s.audit_info->>'client_addr', ''), COALESCE(s.audit_info->>'user_agent', ''),
    COALESCE(s.audit_info->>'via', ''), COALESCE(s.audit_info->>'actor', '')`
	listFrom = `
FROM system.web_sessions s` + joinLogouts
)

// listQuery builds the statement for f.
func listQuery(f ListFilter) (string, []any, error) {
	var w where
	q := listSessions + statusExpr(&w, f.IdleTimeout) + listReason
	if f.Client {
		q += listClient
	}
	if err := f.add(&w); err != nil {
		return "", nil, err
	}
	col, ok := orderColumns[f.Order]
	if !ok {
		return "", nil, fmt.Errorf("unknown order %q: want one of %s", f.Order, strings.Join(Orders, ", "))
	}
	dir := ""
	if f.Desc {
		dir = " DESC"
	}
	q += listFrom + w.String() + "\nORDER BY " + col + dir + ", s.id" + dir
	if f.Limit > 0 {
		q += " LIMIT " + w.arg(f.Limit)
	}
	return q, w.args, nil
}

// The rows a logout of everyone would write to.
const countUnrevoked = `SELECT count(*) FROM system.web_sessions WHERE revoked_at IS NULL`

// CountUnrevokedSessions counts the sessions whose revoked_at is not set,
// expired or not: those Store.Revoke of Everyone revokes.
func CountUnrevokedSessions(ctx context.Context, db DBTX) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, inSchema(countUnrevoked)).Scan(&n)
	return n, err
}

// ListSessions calls fn for every session that matches f, in creation
// order, streaming: it never holds more than one row.
func ListSessions(ctx context.Context, db DBTX, f ListFilter, fn func(*ListedSession) error) error {
	q, args, err := listQuery(f)
	if err != nil {
		return err
	}
	rows, err := db.Query(ctx, inSchema(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var s ListedSession
	for rows.Next() {
		s = ListedSession{}
		if err := scanListed(rows, &s, f.Client); err != nil {
			return err
		}
		if err := fn(&s); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Listed is s as a listing shows it, in the given status (one of the
// Status constants), for an answer about a session just changed.
func (s Session) Listed(status string) ListedSession {
	return ListedSession{
		ID: s.ID, Username: s.Username, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt,
		LastUsedAt: s.LastUsedAt, Active: status == StatusActive, Status: status,
		Client: ClientInfo{IP: s.Audit.ClientAddr, UserAgent: s.Audit.UserAgent, Via: s.Audit.Via, Actor: s.Audit.Actor},
	}
}

// scanListed reads the columns of listSessions, statusExpr and listReason,
// and of listClient when client is set.
func scanListed(row pgx.Row, s *ListedSession, client bool) error {
	dest := []any{&s.ID, &s.Username, &s.CreatedAt, &s.ExpiresAt, &s.RevokedAt, &s.LastUsedAt, &s.Status, &s.RevokeReason}
	if client {
		dest = append(dest, &s.Client.IP, &s.Client.UserAgent, &s.Client.Via, &s.Client.Actor)
	}
	if err := row.Scan(dest...); err != nil {
		return err
	}
	s.Active = s.Status == StatusActive
	return nil
}

// UserSummary counts one user's sessions by state.
type UserSummary struct {
	Username                 string
	Active, Expired, Revoked int64
	// LastUsed is the latest last_used_at of the user's sessions.
	LastUsed time.Time
}

// One row per user, most active sessions first, then most recently used.
// This form reads every session through joinLogouts; summarizeFast gives
// the same counts without the join, and serves selections that do not
// depend on the state.
const summarizeUsers = `SELECT s.username,
    count(CASE WHEN ` + isActive + ` THEN 1 END),
    count(CASE WHEN NOT ` + isRevoked + ` AND s.expires_at <= now() THEN 1 END),
    count(CASE WHEN ` + isRevoked + ` THEN 1 END),
    max(s.last_used_at)
FROM system.web_sessions s` + joinLogouts

const summaryGrouping = `
GROUP BY s.username
ORDER BY 2 DESC, 5 DESC, 1`

// summarizeFast counts by the plain columns, then moves to revoked the few
// sessions a logout revoked without seeing their rows (logins in flight;
// see joinLogouts): those not revoked whose login began at or before their
// user's logout or the logout of everyone, found through the logouts and
// two partial indexes of the live sessions rather than by joining every
// session; OFFSET 0 keeps the planner from turning the lookups per logout
// into a scan of the sessions. %[1]s is the selection's conditions, each
// starting with AND.
const summarizeFast = `WITH revoked_unseen AS (
    SELECT s.id, s.username, s.live
    FROM system.web_session_logouts l
    CROSS JOIN LATERAL (
        SELECT s.id, s.username, s.expires_at > now() AS live
        FROM system.web_sessions s
        WHERE s.username = l.username AND s.created_at <= l.logged_out_at AND s.id <> l.kept_session_id
          AND s.revoked_at IS NULL%[1]s
        OFFSET 0) s
    WHERE l.username <> ''
    UNION
    SELECT s.id, s.username, s.expires_at > now()
    FROM system.web_session_logouts g
    JOIN system.web_sessions s ON s.created_at <= g.logged_out_at
    WHERE g.username = '' AND s.revoked_at IS NULL%[1]s
), fix AS (
    SELECT username, count(*) FILTER (WHERE live) AS live, count(*) FILTER (WHERE NOT live) AS dead
    FROM revoked_unseen GROUP BY username
)
SELECT t.username, t.active - COALESCE(f.live, 0), t.expired - COALESCE(f.dead, 0),
    t.revoked + COALESCE(f.live, 0) + COALESCE(f.dead, 0), t.last_used
FROM (
    SELECT s.username,
        count(*) FILTER (WHERE s.revoked_at IS NULL AND s.expires_at > now()) AS active,
        count(*) FILTER (WHERE s.revoked_at IS NULL AND s.expires_at <= now()) AS expired,
        count(*) FILTER (WHERE s.revoked_at IS NOT NULL) AS revoked,
        max(s.last_used_at) AS last_used
    FROM system.web_sessions s
    WHERE true%[1]s
    GROUP BY s.username
) t
LEFT JOIN fix f ON f.username = t.username
ORDER BY 2 DESC, 5 DESC, 1`

// summaryQuery builds the statement of SummarizeUsers for sel.
func summaryQuery(sel Selection) (string, []any, error) {
	var w where
	if err := sel.add(&w); err != nil {
		return "", nil, err
	}
	if sel.State != "" {
		return summarizeUsers + w.String() + summaryGrouping, w.args, nil
	}
	conds := ""
	for _, c := range w.conds {
		conds += "\n      AND " + c
	}
	return fmt.Sprintf(summarizeFast, conds), w.args, nil
}

// SummarizeUsers calls fn for each user with sessions in sel, most active
// first. One row per user: it holds no more than one. It reads in a
// transaction of its own, or a savepoint of tx when db is one.
func SummarizeUsers(ctx context.Context, db TxBeginner, sel Selection, fn func(*UserSummary) error) error {
	q, args, err := summaryQuery(sel)
	if err != nil {
		return err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only: nothing to undo
	if err := withoutJIT(ctx, tx); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, inSchema(q), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var u UserSummary
	for rows.Next() {
		if err := rows.Scan(&u.Username, &u.Active, &u.Expired, &u.Revoked, &u.LastUsed); err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return err
		}
	}
	return rows.Err()
}
