package sql

import (
	"context"
	"time"
)

// The changes to sessions, each written with its audit event: the
// operation itself records the event, on the same transaction, so no caller
// can make the change and forget the event. Run each in a transaction
// (RunInTx), so that a failure leaves neither.

// Actor says who makes a change and from where, for its audit event.
type Actor struct {
	// Name is the database user running the CLI, or the role of the HTTP
	// caller.
	Name string
	// Via is "cli" or "http".
	Via string
	// ClientAddr is the host the CLI runs on, or the HTTP client's address.
	ClientAddr string
	// UserAgent is the HTTP client's User-Agent.
	UserAgent string
}

func (a Actor) event(name, username string, sessionID *int64, detail map[string]any) Event {
	return Event{Event: name, Actor: a.Name, Username: username, SessionID: sessionID, Via: a.Via,
		ClientAddr: a.ClientAddr, UserAgent: a.UserAgent, Detail: detail}
}

// Login mints a session as CreateSession does and records its
// session.created event.
func Login(ctx context.Context, tx DBTX, ns NewSession, by Actor) (Session, error) {
	s, err := CreateSession(ctx, tx, ns)
	if err != nil {
		return Session{}, err
	}
	detail := map[string]any{"expires_at": s.ExpiresAt.UTC().Format(time.RFC3339Nano)}
	return s, RecordEvent(ctx, tx, by.event(EventSessionCreated, s.Username, &s.ID, detail))
}

// RevokeByID revokes session id, and only when owner owns it if owner is not
// nil (see RevokeSession and RevokeOwnSession), and returns its row; newly
// reports whether this call revoked it, and only then is a session.revoked
// event recorded: a session revoked before keeps its first event.
func RevokeByID(ctx context.Context, tx DBTX, id int64, owner *Owner, by Actor) (s Session, newly bool, err error) {
	if owner != nil {
		s, newly, err = RevokeOwnSession(ctx, tx, *owner, id)
	} else {
		s, newly, err = RevokeSession(ctx, tx, id)
	}
	if err != nil || !newly {
		return s, newly, err
	}
	return s, true, RecordEvent(ctx, tx, by.event(EventSessionRevoked, s.Username, &s.ID, nil))
}

// LogOut revokes every session of username that is not revoked yet, except
// session keep (0 keeps none), including logins still in flight (see
// joinLogouts); sessions revoked before keep their first revoked_at. It
// matches by name only, so it also reaches the sessions of a role dropped
// since. When fn is not nil it is called, after the change, for each of the
// user's revoked sessions in creation order. When it revoked any, it records
// a user.logged_out event with the count. It returns how many sessions this
// call revoked.
func LogOut(ctx context.Context, tx DBTX, username string, keep int64, by Actor, fn func(RevokedSession) error) (int64, error) {
	revoked, err := revokeUserSessions(ctx, tx, username, keep)
	if err != nil {
		return 0, err
	}
	if fn != nil {
		if err := eachRevokedSession(ctx, tx, username, fn); err != nil {
			return revoked, err
		}
	}
	if revoked == 0 {
		return 0, nil
	}
	detail := map[string]any{"revoked": revoked, "keep_current": keep != 0}
	return revoked, RecordEvent(ctx, tx, by.event(EventUserLoggedOut, username, nil, detail))
}
