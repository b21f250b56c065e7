package sql

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// SessionCheck is what the HTTP interface needs to decide whether a
// presented session authenticates a request. Everything that depends on time
// was decided by the database clock, in the same statement.
type SessionCheck struct {
	ID           int64
	Username     string
	UserID       int64
	HashedSecret []byte
	ExpiresAt    time.Time
	// Revoked is true once revoked_at is set, or once a logout of the user
	// began after the session's login did (see revokedByLogout).
	Revoked bool
	// Expired is true when expires_at is not in the future.
	Expired bool
	// Idle is true when the session was not used for the policy's idle
	// timeout, if it has one.
	Idle bool
	// RoleValid is true when a role with the session's name and OID still
	// exists, may log in, is not past its VALID UNTIL, and (while sessions
	// end with their credentials) its row is the one the session was
	// minted with (see CredentialsChanged). A role dropped and re-created
	// under the same name has a new OID, so it does not inherit the old
	// role's sessions.
	RoleValid bool
	// EndsForGood is true when a refusal for the role's sake is final: the
	// session carries its role's stamp and the setting
	// SettingEndSessionsOnCredentialChange is on, so the sweep
	// (CredentialsChanged) revokes it. Otherwise a role that may log in
	// again gets the session back.
	EndsForGood bool
	// TouchDue is true when last_used_at is older than the touch interval
	// passed to CheckSession, or the session has recorded no use over
	// HTTP yet (made by the CLI, its last User-Agent is NULL): its first
	// is recorded at once.
	TouchDue bool
}

// checkColumns reads a session and the current state of its role. The role
// is found through its OID (the catalog's primary key) and must still carry
// the session's name; while sessions end with their credentials (c.on), its
// row must also be the version the session was minted with, unless the
// session has none (0: made by an older binary). The role's state is one
// number (roleState): the first case, a role unchanged since login, is the
// common one and needs no look at the setting, whose lookup then never
// runs. rolvaliduntil may be 'infinity', which does not scan into
// time.Time, so only the comparison is read.
//
// Each session's role and its user's logout are probes of their own, and
// the logout of everyone is read once per statement (revokedByLogout):
// joined, a statement of a few ids hashed every role of pg_authid once
// there were a thousand roles, so that its cost grew with them. OFFSET 0
// keeps the planner from turning the role's lateral subquery back into
// such a join.
const checkColumns = `SELECT s.id, s.username, s.user_id, s.hashed_secret, s.expires_at,
    s.revoked_at IS NOT NULL OR ` + revokedByLogout + `,
    s.expires_at <= now(),
    CASE WHEN r.rolcanlogin AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now()) AND s.role_version = r.row_version THEN 0
        WHEN s.role_version <> 0 AND c.on THEN 2
        WHEN r.rolcanlogin AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now()) THEN 0
        ELSE 1 END,
    s.last_used_at < now() - $2::BIGINT * INTERVAL '1 microsecond' OR s.last_user_agent IS NULL,
    $3::BIGINT > 0 AND s.last_used_at <= now() - $3::BIGINT * INTERVAL '1 microsecond'
FROM system.web_sessions s
LEFT JOIN LATERAL (SELECT r.rolcanlogin, r.rolvaliduntil, r.row_version FROM system.role_credentials r
    WHERE r.oid = s.user_id::OID AND r.rolname = s.username OFFSET 0) r ON true
CROSS JOIN (` + endingOn + `) c`

// The role states checkColumns reads: valid, refused while the role cannot
// log in, refused for good (see SessionCheck.EndsForGood).
const (
	roleValid     = 0
	roleRefused   = 1
	roleEndedGood = 2
)

const (
	checkSession  = checkColumns + "\nWHERE s.id = $1"
	checkSessions = checkColumns + "\nWHERE s.id = ANY($1::BIGINT[])"
)

func scanCheck(row pgx.Row) (SessionCheck, error) {
	var c SessionCheck
	var state int32
	err := row.Scan(&c.ID, &c.Username, &c.UserID, &c.HashedSecret, &c.ExpiresAt,
		&c.Revoked, &c.Expired, &state, &c.TouchDue, &c.Idle)
	c.RoleValid, c.EndsForGood = state == roleValid, state == roleEndedGood
	return c, err
}

// CheckPolicy is what a session check measures against, besides the
// session's own expiry.
type CheckPolicy struct {
	// TouchInterval sets SessionCheck.TouchDue.
	TouchInterval time.Duration
	// IdleTimeout, when positive, sets SessionCheck.Idle for a session not
	// used for that long.
	IdleTimeout time.Duration
}

// CheckSession reads session id together with the current state of its role,
// in one round trip, measured against p. It returns ErrSessionNotFound for an
// unknown id.
func CheckSession(ctx context.Context, db DBTX, id int64, p CheckPolicy) (SessionCheck, error) {
	c, err := scanCheck(db.QueryRow(ctx, inSchema(db, checkSession), id, p.TouchInterval.Microseconds(), p.IdleTimeout.Microseconds()))
	if errors.Is(err, pgx.ErrNoRows) {
		return SessionCheck{}, ErrSessionNotFound
	}
	if err != nil {
		return SessionCheck{}, err
	}
	return c, nil
}

// CheckSessions is CheckSession for several ids in one statement: it calls
// fn for each id found, in no particular order. Unknown ids are left out.
func CheckSessions(ctx context.Context, db DBTX, ids []int64, p CheckPolicy, fn func(SessionCheck)) error {
	rows, err := db.Query(ctx, inSchema(db, checkSessions), ids, p.TouchInterval.Microseconds(), p.IdleTimeout.Microseconds())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCheck(rows)
		if err != nil {
			return err
		}
		fn(c)
	}
	return rows.Err()
}

// Touch is one session's use for TouchSessions to record: the address and
// User-Agent of the request that found its touch due.
type Touch struct {
	SessionID  int64
	ClientAddr string
	UserAgent  string
}

// touchSessions runs the touch, schema 0009's function: it writes the
// sessions whose touch is due, skips a row another transaction holds, and
// gives up at once (lock_not_available) on a table locked against writes.
const touchSessions = `SELECT system.touch_sessions($1::BIGINT[], $2::INET[], $3::TEXT[], $4::BIGINT)`

// TouchSessions sets last_used_at of the sessions of touches to now(), and
// their last address and User-Agent to the touch's, where last_used_at is
// older than touchInterval, in one statement. It is best-effort and never
// waits: rows another transaction holds are skipped, and when the table
// itself is locked (a CREATE INDEX, say) it returns an error for which
// IsLockTimeout is true at once rather than waiting. The User-Agent is kept
// as a login's is (storable); an address that is no IP address is recorded
// as none. Unknown ids are not an error.
func TouchSessions(ctx context.Context, db DBTX, touches []Touch, touchInterval time.Duration) error {
	ids := make([]int64, len(touches))
	ips := make([]*string, len(touches))
	agents := make([]string, len(touches))
	for i, t := range touches {
		ids[i], ips[i], agents[i] = t.SessionID, clientIP(t.ClientAddr), storable(t.UserAgent)
	}
	_, err := db.Exec(ctx, inSchema(db, touchSessions), ids, ips, agents, touchInterval.Microseconds())
	return err
}

// IsLockTimeout reports whether err is a lock wait that lock_timeout ended
// (SQLSTATE 55P03, lock_not_available).
func IsLockTimeout(err error) bool {
	return SQLState(err) == "55P03"
}
