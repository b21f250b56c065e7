package sql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Session is one row of system.web_sessions, without its hashed secret.
type Session struct {
	ID         int64
	Username   string
	UserID     int64
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt time.Time
	Audit      AuditInfo
}

// sessionColumns are the columns scanned by scanSession, in its order.
const sessionColumns = `id, username, user_id, created_at, expires_at, revoked_at, last_used_at, audit_info`

// scanSession reads the columns of sessionColumns.
func scanSession(row pgx.Row, s *Session) error {
	return row.Scan(&s.ID, &s.Username, &s.UserID, &s.CreatedAt, &s.ExpiresAt, &s.RevokedAt, &s.LastUsedAt, &s.Audit)
}

// AuditInfo records how and by whom a session was minted.
type AuditInfo struct {
	// Via is "cli" or "http".
	Via string `json:"via"`
	// Actor is the database user that minted the session (the admin for cli).
	Actor string `json:"actor,omitempty"`
	// ClientHost is the host name the CLI ran on.
	ClientHost string `json:"client_host,omitempty"`
	// ClientAddr is the remote address of an HTTP login.
	ClientAddr string `json:"client_addr,omitempty"`
	// UserAgent is the User-Agent of an HTTP login.
	UserAgent string `json:"user_agent,omitempty"`
}

// NewSession is what Store.Login needs to mint a session.
type NewSession struct {
	Username     string
	HashedSecret []byte
	ExpireAfter  time.Duration
	Audit        AuditInfo
	// RoleVersion, when not 0, is the version of the role's row read
	// (RoleVersion) before its password was checked: a role changed since,
	// its password perhaps, gets no session (ErrRoleChanged), so that a
	// password checked before a change cannot make a session that outlives
	// it.
	RoleVersion int64
}

// The role is checked and the row inserted in one statement, so a role
// dropped between check and insert cannot slip through. Both timestamps use
// the transaction's now(), so expires_at - created_at is exactly ExpireAfter.
// The session records its role's stamp (see CredentialsChanged). An HTTP
// login is the session's first use: its address and User-Agent are the
// last ones too, as its time is last_used_at's ($5 and $7, NULL for the
// CLI).
const insertSession = `INSERT INTO system.web_sessions
    (hashed_secret, username, user_id, expires_at, audit_info, client_ip, role_version, password_tag, last_ip, last_user_agent)
SELECT $1::BYTEA, r.rolname, r.oid::BIGINT, now() + $2::BIGINT * INTERVAL '1 microsecond', $3::JSONB, $5::INET,
    r.row_version, r.password_tag, $5::INET, $7::TEXT
FROM system.role_credentials r
WHERE r.rolname = $4 AND r.rolcanlogin
  AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now())
  AND ($6::BIGINT = 0 OR r.row_version = $6::BIGINT)
RETURNING id, username, user_id, created_at, expires_at, last_used_at`

// whyNoLogin explains an empty insert. rolvaliduntil may be 'infinity',
// which does not scan into time.Time, so only the comparison is read.
const whyNoLogin = `SELECT r.rolcanlogin, COALESCE(r.rolvaliduntil <= now(), false)
FROM pg_catalog.pg_roles r WHERE r.rolname = $1`

// createSession inserts a session for an existing role that may log in,
// with expires_at = now() + ExpireAfter on the database clock. It returns
// ErrUserNotFound, ErrUserCannotLogin or ErrUserExpired when the role does
// not qualify, and ErrRoleChanged when it is not at ns.RoleVersion, having
// written nothing.
func createSession(ctx context.Context, db DBTX, ns NewSession) (Session, error) {
	ns.Audit = storableAudit(ns.Audit)
	audit, err := json.Marshal(ns.Audit)
	if err != nil {
		return Session{}, fmt.Errorf("encode audit info: %w", err)
	}
	var lastUserAgent *string
	if ns.Audit.Via == "http" {
		lastUserAgent = &ns.Audit.UserAgent
	}
	s := Session{Audit: ns.Audit}
	err = db.QueryRow(ctx, inSchema(db, insertSession), ns.HashedSecret, ns.ExpireAfter.Microseconds(), string(audit), ns.Username,
		clientIP(ns.Audit.ClientAddr), ns.RoleVersion, lastUserAgent).
		Scan(&s.ID, &s.Username, &s.UserID, &s.CreatedAt, &s.ExpiresAt, &s.LastUsedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, explainNoLogin(ctx, db, ns.Username, ns.RoleVersion != 0)
	}
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

const missingRoles = `SELECT u FROM unnest($1::TEXT[]) WITH ORDINALITY AS t(u, n)
WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = u)
ORDER BY n`

// MissingRoles returns those of usernames that name no role, in their order.
func MissingRoles(ctx context.Context, db DBTX, usernames []string) ([]string, error) {
	if len(usernames) == 0 {
		return nil, nil
	}
	rows, err := db.Query(ctx, inSchema(db, missingRoles), usernames)
	if err != nil {
		return nil, fmt.Errorf("look up roles: %w", err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up roles: %w", err)
	}
	return missing, nil
}

func explainNoLogin(ctx context.Context, db DBTX, username string, versioned bool) error {
	var canLogin, expired bool
	err := db.QueryRow(ctx, inSchema(db, whyNoLogin), username).Scan(&canLogin, &expired)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return ErrUserNotFound
	case err != nil:
		return err
	case !canLogin:
		return ErrUserCannotLogin
	case expired:
		return ErrUserExpired
	case versioned:
		return ErrRoleChanged
	}
	// The role qualified a moment later (created concurrently): say what
	// happened rather than guess.
	return fmt.Errorf("role %q changed while the session was being created; try again", username)
}

// RevokedSession is one row that Store.Revoke reports: a revocation by id
// (ByIDs, OwnSession) reads every field, as list would now; the others
// read ID, Username, CreatedAt and RevokedAt.
type RevokedSession struct {
	ListedSession
	// Now is true when this call revoked the session, false when it had
	// been revoked before.
	Now bool
}

// One statement revokes every live row of the users but one (id <> 0
// excludes nothing: no session has id 0).
const revokeUserSessionsSQL = `UPDATE system.web_sessions SET revoked_at = now()
WHERE username = ANY($1) AND revoked_at IS NULL AND id <> $2`

// revokeAndListUserSessions does the same and returns every revoked session
// of the users, by user then creation: those it revoked from the UPDATE's
// RETURNING, those revoked before from the statement's snapshot, which the
// UPDATE does not change. One statement, so that no login can commit
// between the change and what is reported of it.
const revokeAndListUserSessions = `WITH r AS (
    UPDATE system.web_sessions SET revoked_at = now()
    WHERE username = ANY($1) AND revoked_at IS NULL AND id <> $2
    RETURNING id, username, created_at, revoked_at
)
SELECT id, username, created_at, revoked_at, true FROM r
UNION ALL
SELECT id, username, created_at, revoked_at, false FROM system.web_sessions
WHERE username = ANY($1) AND revoked_at IS NOT NULL
ORDER BY 2, 3, 1`

// The same two statements for every user.
const (
	revokeEveryonesSessions        = `UPDATE system.web_sessions SET revoked_at = now() WHERE revoked_at IS NULL`
	revokeAndListEveryonesSessions = `WITH r AS (
    UPDATE system.web_sessions SET revoked_at = now() WHERE revoked_at IS NULL
    RETURNING id, username, created_at, revoked_at
)
SELECT id, username, created_at, revoked_at, true FROM r
UNION ALL
SELECT id, username, created_at, revoked_at, false FROM system.web_sessions WHERE revoked_at IS NOT NULL
ORDER BY 2, 3, 1`
)

// userSet is whom a logout is for: the users named, or everyone.
type userSet struct {
	names    []string
	everyone bool
}

// revokeUserSessions records the logout's instant and revokes the users'
// live rows but keep. Without fn it returns how many it revoked; with fn it
// calls fn for each revoked session of the users, by user and in creation
// order, streaming, and returns how many of them it revoked.
func revokeUserSessions(ctx context.Context, db DBTX, users userSet, keep int64, fn func(RevokedSession) error) (int64, error) {
	names, query, args := users.names, revokeUserSessionsSQL, []any{users.names, keep}
	if users.everyone {
		names, query, args = []string{everyone}, revokeEveryonesSessions, nil
	}
	if err := recordLogoutOf(ctx, db, names, keep); err != nil {
		return 0, err
	}
	if fn == nil {
		tag, err := db.Exec(ctx, inSchema(db, query), args...)
		return tag.RowsAffected(), err
	}
	if err := withSortMemory(ctx, db); err != nil {
		return 0, err
	}
	query = revokeAndListUserSessions
	if users.everyone {
		query = revokeAndListEveryonesSessions
	}
	var revoked int64
	err := eachRow(ctx, db, query, args, func(scan func(...any) error) error {
		var r RevokedSession
		if err := scan(&r.ID, &r.Username, &r.CreatedAt, &r.RevokedAt, &r.Now); err != nil {
			return err
		}
		if r.Now {
			revoked++
		}
		return fn(r)
	})
	return revoked, err
}

// revokeByID revokes session id, and reads it back with every field, in
// one statement. One statement too whatever the id and the owner: for the
// self-service API, a missing id, someone else's and a malformed one
// (passed as 0) take the same path, so the answer's timing does not tell
// them apart. COALESCE keeps the first revoked_at. %[1]s is the SELECT
// list of the fields, %[2]s the conditions beyond the id.
const revokeByID = `WITH s AS (
    UPDATE system.web_sessions SET revoked_at = COALESCE(revoked_at, now())
    WHERE id = $1%[2]s
    RETURNING *, revoked_at = now() AS revoked_now
)
SELECT %[1]s, s.revoked_now
FROM s` + joinLogouts

// revokeOne revokes session id, only if owner owns it when owner is not
// nil, and returns its row with every field, as list would show it now. A
// session revoked before keeps its first revoked_at; Now reports whether
// this call revoked it. It returns ErrSessionNotFound when no session with
// that id is there (for owner), without saying whether one exists.
func revokeOne(ctx context.Context, db DBTX, id int64, owner *Owner) (RevokedSession, error) {
	w := where{args: []any{id}}
	fields := selectFields(&w, SessionFields, 0)
	mine := ""
	if owner != nil {
		mine = " AND username = " + w.arg(owner.Username) + " AND user_id = " + w.arg(owner.UserID)
	}
	var r RevokedSession
	dest := append(scanTargets(SessionFields, &r.ListedSession), &r.Now)
	err := db.QueryRow(ctx, inSchema(db, fmt.Sprintf(revokeByID, fields, mine)), w.args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return RevokedSession{}, ErrSessionNotFound
	}
	r.Active = r.Status == StatusActive
	return r, err
}

const getSession = `SELECT ` + sessionColumns + `
FROM system.web_sessions WHERE id = $1`

// GetSession returns one session by id, or ErrSessionNotFound.
func GetSession(ctx context.Context, db DBTX, id int64) (s Session, err error) {
	err = scanSession(db.QueryRow(ctx, inSchema(db, getSession), id), &s)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrSessionNotFound
	}
	return s, err
}
