package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Sessions end with their credentials. A session records at login a stamp
// of its role's row in pg_authid (schema 0008): role_version, the row's
// xmin, which every ALTER ROLE replaces, and password_tag, a keyed digest of
// the password verifier. The session check compares the stamp with the row
// in its one statement, so a session whose role changed since login is
// refused, even if nobody saw the change happen (NOLOGIN then LOGIN gives
// the same values back, never the same xmin). The sweep (CredentialsChanged)
// then marks such sessions revoked with a reason and records one event per
// user. Both read the role through the view system.role_credentials, which
// reads pg_authid with its owner's (a superuser's) rights, like pg_roles.
// While the setting SettingEndSessionsOnCredentialChange is false, neither
// applies: a session is refused only while its role cannot log in.

// The reasons the sweep records in revoke_reason and its events, in the
// order it gives them when a session has several.
const (
	ReasonRoleDropped     = "role dropped"
	ReasonRoleDisabled    = "role disabled"
	ReasonPasswordChanged = "password changed"
	// ReasonRoleChanged is any other change of the role's row: a rename,
	// CONNECTION LIMIT, an attribute, or a NOLOGIN (or VALID UNTIL in the
	// past) that was undone before anything looked.
	ReasonRoleChanged = "role changed"
)

// ErrRoleChanged means a login's role changed between its password check
// and the session's insert (NewSession.RoleVersion): nothing was written.
var ErrRoleChanged = errors.New("the role changed while its password was checked")

// endingOn reads whether sessions end with their credentials: the setting,
// or its default.
const endingOn = `SELECT COALESCE((SELECT value FROM system.settings WHERE name = '` +
	SettingEndSessionsOnCredentialChange + `'), '` + endSessionsDefault + `') = 'true' AS on`

// roleVersion is a role's stamp when its password is about to be checked.
const roleVersion = `SELECT row_version FROM system.role_credentials WHERE rolname = $1`

// RoleVersion returns the version of role username's row, for
// NewSession.RoleVersion, or 0 when there is no such role.
func RoleVersion(ctx context.Context, db DBTX, username string) (int64, error) {
	var v int64
	err := db.QueryRow(ctx, inSchema(db, roleVersion), username).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read role %q: %w", username, err)
	}
	return v, nil
}

// CredentialsChanged picks the sessions, live and stamped at login, whose
// role's row changed since, or whose role may no longer log in: revoked
// with their reason in revoke_reason, and a sessions.revoked event per
// user with the count and the reasons. Sweeps are one at a time across
// every process (a transaction lock), so a change is recorded once
// whoever finds it. It does nothing while the setting
// SettingEndSessionsOnCredentialChange is false. By.Name empty records
// the connected user.
func CredentialsChanged() Target { return Target{kind: targetCredentials} }

// beginSweep takes the transaction-level advisory lock that makes sweeps
// one at a time (its key is "authsess" in ASCII), and reads whether
// sessions end with their credentials and who is connected. The sweep's
// statement must begin after the lock is taken, so that it sees what an
// earlier sweep revoked.
const beginSweep = `SELECT current_user, c.on FROM (SELECT pg_advisory_xact_lock(7022647185915605875)) l, (` + endingOn + `) c`

// sweepCandidates picks the sessions of CredentialsChanged, as the CTE
// ended (id, reason). The
// (role, version) pairs of live stamped sessions are walked one index
// probe each (a loose index scan), so a sweep costs the number of pairs,
// not of sessions; only the sessions of the pairs whose role changed are
// read, through the same index (OFFSET 0 keeps the planner from joining
// every live session instead, as it would when it overestimates the changed
// pairs; role_version <> 0 is the index's predicate, which the planner
// cannot infer from a parameter). A rename changes the role's row, so a
// pair whose version is current has its role's name. A session revoked by
// a logout that did not see its row (joinLogouts) is left as it is. The
// keyed digest of the password, which tells a password change from another
// change, is read for the changed roles alone: joined to every pair, the
// view would compute it for every role it scans.
const sweepCandidates = `WITH RECURSIVE pairs (user_id, role_version) AS (
    (SELECT user_id, role_version FROM system.web_sessions
     WHERE revoked_at IS NULL AND role_version <> 0
     ORDER BY user_id, role_version LIMIT 1)
    UNION ALL
    SELECT n.user_id, n.role_version FROM pairs p CROSS JOIN LATERAL (
        SELECT user_id, role_version FROM system.web_sessions
        WHERE revoked_at IS NULL AND role_version <> 0 AND (user_id, role_version) > (p.user_id, p.role_version)
        ORDER BY user_id, role_version LIMIT 1) n
), changed AS MATERIALIZED (
    SELECT p.user_id, p.role_version, CASE
        WHEN r.oid IS NULL THEN '` + ReasonRoleDropped + `'
        WHEN NOT (r.rolcanlogin AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now())) THEN '` + ReasonRoleDisabled + `'
        END AS reason
    FROM pairs p LEFT JOIN system.role_credentials r ON r.oid = p.user_id::OID
    WHERE r.oid IS NULL OR r.row_version <> p.role_version
       OR NOT (r.rolcanlogin AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now()))
), ended AS (
    SELECT s.id, COALESCE(c.reason, CASE WHEN s.password_tag IS DISTINCT FROM t.password_tag
        THEN '` + ReasonPasswordChanged + `' ELSE '` + ReasonRoleChanged + `' END) AS reason
    FROM changed c
    LEFT JOIN LATERAL (SELECT r.password_tag FROM system.role_credentials r WHERE r.oid = c.user_id::OID OFFSET 0) t ON true
    CROSS JOIN LATERAL (
        SELECT s.id, s.password_tag FROM system.web_sessions s` + joinLogouts + `
        WHERE s.user_id = c.user_id AND s.role_version = c.role_version
          AND s.revoked_at IS NULL AND s.role_version <> 0 AND s.expires_at > now()
          AND l.username IS NULL AND g.username IS NULL
        OFFSET 0) s
)`

// sweepCredentials revokes the sessions of CredentialsChanged.
const sweepCredentials = sweepCandidates + `
UPDATE system.web_sessions s SET revoked_at = now(), revoke_reason = e.reason
FROM ended e
WHERE s.id = e.id AND s.revoked_at IS NULL
RETURNING s.id, s.username, s.created_at, s.revoked_at, e.reason`

// sweepDue reads, in one statement outside a transaction, whether a sweep
// would revoke anything: sessions end with their credentials, and a
// session of CredentialsChanged is there. Most of the time none is, and the
// sweep's transaction (its lock, its commit waiting for the standbys) is
// not begun at all: four round trips fewer for every list, revoke and
// purge. A change committed after it read is left to the next sweep, as if
// this one had run a moment earlier; the session check refuses such a
// session all the same.
const sweepDue = sweepCandidates + `
SELECT (` + endingOn + `) AND EXISTS (SELECT 1 FROM ended)`

// isSweepDue runs sweepDue.
func isSweepDue(ctx context.Context, db DBTX) (bool, error) {
	var due bool
	if err := db.QueryRow(ctx, inSchema(db, sweepDue)).Scan(&due); err != nil {
		return false, fmt.Errorf("check for sessions whose credentials changed: %w", err)
	}
	return due, nil
}

// reasonOrder ranks the reasons of one user's sessions for their event.
var reasonOrder = []string{ReasonRoleDropped, ReasonRoleDisabled, ReasonPasswordChanged, ReasonRoleChanged}

// endChangedCredentials runs the sweep in tx, records a sessions.revoked
// event per user with the count and the reasons, and calls each (when not
// nil) for every session it revoked.
func endChangedCredentials(ctx context.Context, tx DBTX, by Actor, each func(RevokedSession) error) (RevokeResult, error) {
	var res RevokeResult
	if err := waitForStandbys(ctx, tx); err != nil {
		return res, err
	}
	var user string
	var on bool
	if err := tx.QueryRow(ctx, inSchema(tx, beginSweep)).Scan(&user, &on); err != nil {
		return res, fmt.Errorf("begin the credential sweep: %w", err)
	}
	if !on {
		return res, nil
	}
	if by.Name == "" {
		by.Name = user
	}
	var t tally
	reasons := map[string]map[string]bool{}
	err := eachRow(ctx, tx, sweepCredentials, nil, func(scan func(...any) error) error {
		r := RevokedSession{Now: true}
		var reason string
		if err := scan(&r.ID, &r.Username, &r.CreatedAt, &r.RevokedAt, &reason); err != nil {
			return err
		}
		t.session(r)
		if reasons[r.Username] == nil {
			reasons[r.Username] = map[string]bool{}
		}
		reasons[r.Username][reason] = true
		if each != nil {
			return each(r)
		}
		return nil
	})
	if err != nil {
		return t.res, fmt.Errorf("end the sessions whose credentials changed: %w", err)
	}
	return t.record(ctx, tx, func(u string, n int64) Event {
		var rs []string
		for _, r := range reasonOrder {
			if reasons[u][r] {
				rs = append(rs, r)
			}
		}
		return by.event(EventSessionsRevoked, u, nil, map[string]any{"revoked": n, "reason": strings.Join(rs, ", ")})
	})
}
