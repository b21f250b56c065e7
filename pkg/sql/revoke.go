package sql

import (
	"context"
	"errors"
	"fmt"
)

// What a revocation picks, and the one place that turns it into the
// statements that revoke (revokeIn). Store.Revoke runs it in a transaction
// of its own; Login runs the session limit's in the login's.

// ErrInterrupted is what Store.Revoke returns, wrapping the context's
// error, when its context was cancelled (Ctrl-C, a client gone) before the
// commit was sent: the transaction rolled back and nothing was revoked.
var ErrInterrupted = errors.New("interrupted before the commit")

// errDryRun rolls back the transaction of a dry run, once it has done the
// rest.
var errDryRun = errors.New("dry run")

// SessionNotFoundError is ErrSessionNotFound for one id of a revocation by
// id: no session has it, or, for OwnSession, none the owner owns.
type SessionNotFoundError struct {
	ID int64
}

func (e *SessionNotFoundError) Error() string { return fmt.Sprintf("session %d not found", e.ID) }

// Unwrap makes errors.Is(err, ErrSessionNotFound) hold.
func (e *SessionNotFoundError) Unwrap() error { return ErrSessionNotFound }

type targetKind int

const (
	noTarget targetKind = iota
	targetIDs
	targetUsers
	targetEveryone
	targetMatching
	targetOverLimit
	targetCredentials
)

// Target is what a revocation picks; make one with ByIDs, OwnSession,
// OfUsers, Everyone, Matching or CredentialsChanged.
type Target struct {
	kind    targetKind
	ids     []int64
	owner   *Owner
	users   []string
	sel     Selection
	written map[string]any
	// limit and fresh are the session limit's: the user's live sessions
	// to keep, and the new session, which is always kept.
	limit int
	fresh Session
}

// ByIDs picks sessions by id, reported in this order; a session revoked
// before keeps its first revoked_at, and its first event. An id not found
// is a *SessionNotFoundError.
func ByIDs(ids ...int64) Target { return Target{kind: targetIDs, ids: ids} }

// OwnSession picks session id if owner owns it; a missing id and someone
// else's are the same *SessionNotFoundError, and take the same path.
func OwnSession(owner Owner, id int64) Target {
	return Target{kind: targetIDs, ids: []int64{id}, owner: &owner}
}

// OfUsers picks every session of the users (names given twice count once),
// also of roles dropped since, as it matches by name, and refuses their
// logins in flight (see joinLogouts). Sessions are reported by user, then
// in creation order. No user picks nothing.
func OfUsers(usernames ...string) Target { return Target{kind: targetUsers, users: usernames} }

// Everyone picks every session, and refuses every login in flight, also of
// users who have no session yet.
func Everyone() Target { return Target{kind: targetEveryone} }

// Matching picks the sessions sel picks, as of one snapshot; a selection
// by users alone is OfUsers, so that it also refuses their logins in
// flight. written is the selection as the caller wrote it, for the audit
// trail: each field or flag given, by the HTTP API's field names, its value
// as given, users as a list. A selection that picks everyone is
// ErrPicksEveryone, and changes nothing.
func Matching(sel Selection, written map[string]any) Target {
	return Target{kind: targetMatching, sel: sel, written: written}
}

// overLimit picks the live sessions of fresh's user beyond the limit most
// recently used, never fresh.
func overLimit(fresh Session, limit int) Target {
	return Target{kind: targetOverLimit, fresh: fresh, limit: limit}
}

// check refuses a Target made by none of its constructors, and options
// that do not apply to it.
func (t Target) check(opts RevokeOptions) error {
	if t.kind == noTarget {
		return errors.New("revoke: no sessions picked: make the Target with ByIDs, OwnSession, OfUsers, Everyone, Matching or CredentialsChanged")
	}
	if opts.KeepSession != 0 && t.kind != targetUsers {
		return errors.New("revoke: KeepSession applies to OfUsers only")
	}
	if opts.Lock != nil && (t.kind != targetUsers || opts.KeepSession != 0) {
		return errors.New("revoke: Lock applies to OfUsers only, keeping no session")
	}
	if opts.Reason != "" && t.kind == targetCredentials {
		return errors.New("revoke: CredentialsChanged records each session's own reason; leave Reason empty")
	}
	return nil
}

// revokeIn revokes what t picks in transaction tx, with its events.
func revokeIn(ctx context.Context, tx DBTX, t Target, opts RevokeOptions, each func(RevokedSession) error) (RevokeResult, error) {
	switch t.kind {
	case targetIDs:
		return revokeByIDs(ctx, tx, t.ids, t.owner, opts.By, opts.Reason, each)
	case targetUsers:
		if opts.Lock != nil {
			if err := lockUsers(ctx, tx, unique(t.users), *opts.Lock, opts.By, opts.Reason); err != nil {
				return RevokeResult{}, err
			}
		}
		return logOut(ctx, tx, userSet{names: unique(t.users)}, opts.KeepSession, opts.By, opts.Reason, each)
	case targetEveryone:
		return logOut(ctx, tx, userSet{everyone: true}, 0, opts.By, opts.Reason, each)
	case targetMatching:
		return revokeMatching(ctx, tx, t.sel, t.written, opts.By, opts.Reason, each)
	case targetOverLimit:
		return revokeOverLimit(ctx, tx, t.fresh, t.limit, opts.By, opts.Reason)
	case targetCredentials:
		return endChangedCredentials(ctx, tx, opts.By, each)
	}
	return RevokeResult{}, t.check(opts)
}

// revokeByIDs revokes each session of ids, only when owner owns it if
// owner is not nil, and records a session.revoked event for each it revoked
// now, with reason when not empty: a session revoked before keeps its first
// event.
func revokeByIDs(ctx context.Context, tx DBTX, ids []int64, owner *Owner, by Actor, reason string, each func(RevokedSession) error) (RevokeResult, error) {
	if err := waitForStandbys(ctx, tx); err != nil {
		return RevokeResult{}, err
	}
	var t tally
	var events []Event
	for _, id := range ids {
		r, err := revokeOne(ctx, tx, id, owner)
		if errors.Is(err, ErrSessionNotFound) {
			return t.res, &SessionNotFoundError{ID: id}
		}
		if err != nil {
			return t.res, fmt.Errorf("session %d: %w", id, err)
		}
		t.session(r)
		if r.Now {
			events = append(events, by.event(EventSessionRevoked, r.Username, &r.ID, reasonDetail(reason)))
		}
		if each != nil {
			if err := each(r); err != nil {
				return t.res, err
			}
		}
	}
	t.res.Users = len(t.order)
	return t.res, RecordEvents(ctx, tx, events)
}

// reasonDetail is the detail of an event that records only its reason, if
// any.
func reasonDetail(reason string) map[string]any {
	if reason == "" {
		return nil
	}
	return map[string]any{"reason": reason}
}

// ReasonSessionLimit is the reason of the revocations a session limit makes.
const ReasonSessionLimit = "session limit"

// trimSessions revokes the user's live sessions beyond the most recently
// used $3, never the new one ($4), which counts among them. Two logins of
// one user at the same instant may each keep the other's session: the
// limit holds again at the user's next login.
const trimSessions = `UPDATE system.web_sessions SET revoked_at = now()
WHERE id IN (
    SELECT s.id FROM system.web_sessions s` + joinLogouts + `
    WHERE s.username = $1 AND s.user_id = $2 AND s.id <> $4 AND ` + isActive + `
    ORDER BY s.last_used_at DESC, s.id DESC
    OFFSET $3::INT - 1)
RETURNING id`

// revokeOverLimit revokes the live sessions of fresh's user beyond the
// limit most recently used, never fresh, each with a session.revoked event.
func revokeOverLimit(ctx context.Context, tx DBTX, fresh Session, limit int, by Actor, reason string) (RevokeResult, error) {
	if err := waitForStandbys(ctx, tx); err != nil {
		return RevokeResult{}, err
	}
	var res RevokeResult
	var events []Event
	err := eachRow(ctx, tx, trimSessions, []any{fresh.Username, fresh.UserID, limit, fresh.ID}, func(scan func(...any) error) error {
		var id int64
		if err := scan(&id); err != nil {
			return err
		}
		res.Revoked++
		events = append(events, by.event(EventSessionRevoked, fresh.Username, &id, reasonDetail(reason)))
		return nil
	})
	if err != nil {
		return res, err
	}
	if res.Revoked > 0 {
		res.Users = 1
	}
	return res, RecordEvents(ctx, tx, events)
}
