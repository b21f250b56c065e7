package sql

import (
	"context"
	"fmt"
	"time"
)

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
	rows, err := tx.Query(ctx, inSchema(tx, q), args...)
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
