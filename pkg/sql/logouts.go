package sql

import "context"

// Logging a user out of everywhere is race-free because it is recorded as
// an instant, not only as revoked_at on the rows the logout's UPDATE could
// see. A login transaction that began before the logout and commits after it
// inserts a row that UPDATE never saw; its created_at (the login
// transaction's now()) is at or before the logout's logged_out_at, so the
// join below refuses it all the same. Every query that decides whether a
// session is revoked or active reads it through these fragments, with the
// session table aliased s.
//
// A logout of every user is recorded under the name everyone (”), which no
// role can have: it also refuses the logins in flight of users who had no
// session yet.
const (
	// joinLogouts finds the logouts, if any, that revoked s without having
	// seen it: l, one of s's user at or after s's login began, unless it
	// kept s; g, one of every user at or after it. The primary key on
	// username means at most one row of each.
	joinLogouts = `
LEFT JOIN system.web_session_logouts l
    ON l.username = s.username AND s.created_at <= l.logged_out_at AND s.id <> l.kept_session_id
LEFT JOIN system.web_session_logouts g
    ON g.username = '' AND s.created_at <= g.logged_out_at`
	// revokedAtOf is when s was revoked, NULL while it is not.
	revokedAtOf = `COALESCE(s.revoked_at, l.logged_out_at, g.logged_out_at)`
	// isRevoked and isActive are whether s is revoked, and whether it is
	// neither revoked nor expired, by the database clock.
	isRevoked = `(s.revoked_at IS NOT NULL OR l.username IS NOT NULL OR g.username IS NOT NULL)`
	isActive  = `(s.revoked_at IS NULL AND l.username IS NULL AND g.username IS NULL AND s.expires_at > now())`
)

// revokedByLogout is isRevoked's part of the logouts for a statement that
// reads a few sessions by id, without joining: the logout of s's user as
// a probe of its own per session, and the logout of everyone once per
// statement (an uncorrelated subquery), which is the same for every row.
const revokedByLogout = `(s.created_at <= COALESCE((SELECT g.logged_out_at FROM system.web_session_logouts g WHERE g.username = ''), '-infinity')
        OR EXISTS (SELECT FROM system.web_session_logouts l
            WHERE l.username = s.username AND s.created_at <= l.logged_out_at AND s.id <> l.kept_session_id))`

// everyone is the name under which a logout of every user is recorded.
const everyone = ""

// A later logout wins over an earlier one that commits after it: the row
// only moves forward in time. kept_session_id goes with the logout that set
// logged_out_at.
const recordLogout = `INSERT INTO system.web_session_logouts AS l (username, logged_out_at, kept_session_id)
SELECT u, now(), $2 FROM unnest($1::TEXT[]) AS u
ON CONFLICT (username) DO UPDATE
    SET logged_out_at = excluded.logged_out_at, kept_session_id = excluded.kept_session_id
    WHERE l.logged_out_at <= excluded.logged_out_at`

// recordLogoutOf records that every session of the users (each named once)
// whose login began at or before this transaction's start is revoked,
// except session keep (0 keeps none). Run it in the transaction of the
// UPDATE that revokes the users' rows.
func recordLogoutOf(ctx context.Context, db DBTX, usernames []string, keep int64) error {
	_, err := db.Exec(ctx, inSchema(db, recordLogout), usernames, keep)
	return err
}
