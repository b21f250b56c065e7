package sql

import (
	"context"
	"time"
)

// The changes to sessions, each written with its audit event: the
// operation itself records the event, in the same transaction, so no caller
// can make the change and forget the event. Store.Login and Store.Revoke run
// them, each in a transaction of its own, so that a failure leaves neither.

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

// audit is what a session minted by a records of how it was made: the host
// the CLI ran on, or the HTTP client's address and User-Agent.
func (a Actor) audit() AuditInfo {
	info := AuditInfo{Via: a.Via, Actor: a.Name}
	if a.Via == "cli" {
		info.ClientHost = a.ClientAddr
	} else {
		info.ClientAddr, info.UserAgent = a.ClientAddr, a.UserAgent
	}
	return info
}

// login mints a session as createSession does, its audit info that of by,
// and records its session.created event, in transaction tx. When the
// session limit (maxSessions, or when nil the setting) is positive, the
// user's live sessions beyond it are revoked (overLimit) in tx, each with a
// session.revoked event whose reason is ReasonSessionLimit, and counted in
// limitRevoked; the new session is always kept.
func login(ctx context.Context, tx DBTX, ns NewSession, by Actor, maxSessions *int) (s Session, limitRevoked int64, err error) {
	// A lock committed after this check also records the user's logout
	// instant, which refuses this login's session (see joinLogouts).
	limit, err := checkLogin(ctx, tx, ns, maxSessions)
	if err != nil {
		return Session{}, 0, err
	}
	ns.Audit = by.audit()
	if s, err = createSession(ctx, tx, ns); err != nil {
		return Session{}, 0, err
	}
	detail := map[string]any{"expires_at": s.ExpiresAt.UTC().Format(time.RFC3339Nano)}
	if err := RecordEvent(ctx, tx, by.event(EventSessionCreated, s.Username, &s.ID, detail)); err != nil {
		return Session{}, 0, err
	}
	if limit > 0 {
		res, err := revokeIn(ctx, tx, overLimit(s, limit), RevokeOptions{By: by, Reason: ReasonSessionLimit}, nil)
		if err != nil {
			return Session{}, 0, err
		}
		limitRevoked = res.Revoked
	}
	return s, limitRevoked, nil
}

// What a login checks before it mints, in one statement: the user's lock,
// when one holds, and the settings max-session-lifetime and
// max-sessions-per-user (NULL: their defaults).
const loginChecks = `SELECT (SELECT value FROM system.settings WHERE name = $2),
    (SELECT value FROM system.settings WHERE name = $3),
    l.username, l.locked_at, l.locked_until, l.locked_by, l.reason
FROM (SELECT 1) AS one
LEFT JOIN system.web_session_locks l ON l.username = $1 AND ` + isLocked

// checkLogin returns a *LockedError when ns's user is locked, and a
// *LifetimeCapError when ns asks for longer than the cap; otherwise the
// session limit: maxSessions, or when nil the setting's.
func checkLogin(ctx context.Context, tx DBTX, ns NewSession, maxSessions *int) (int, error) {
	var capText, limitText, user, by, reason *string
	var lockedAt, until *time.Time
	err := tx.QueryRow(ctx, inSchema(tx, loginChecks), ns.Username, SettingMaxSessionLifetime, SettingMaxSessionsPerUser).
		Scan(&capText, &limitText, &user, &lockedAt, &until, &by, &reason)
	if err != nil {
		return 0, err
	}
	if user != nil {
		return 0, &LockedError{Lock: Lock{Username: *user, LockedAt: *lockedAt, Until: until, By: *by, Reason: *reason}}
	}
	text := maxSessionLifetimeDefault
	if capText != nil {
		text = *capText
	}
	if err := lifetimeWithin(ns.ExpireAfter, text); err != nil {
		return 0, err
	}
	if maxSessions != nil {
		return *maxSessions, nil
	}
	return storedNumber(SettingMaxSessionsPerUser, limitText)
}

// RevokeResult counts what Store.Revoke did, or would have done.
type RevokeResult struct {
	// Revoked counts the sessions this call revoked.
	Revoked int64
	// AlreadyRevoked counts the users' sessions revoked before; it is
	// counted only when the sessions are read back (fn, or several users).
	AlreadyRevoked int64
	// Users counts the users of whom this call revoked sessions.
	Users int
}

// logOut revokes every session of the users that is not revoked yet,
// except session keep (0 keeps none), including logins still in flight (see
// joinLogouts), in a few statements whatever the number of users; sessions
// revoked before keep their first revoked_at. It matches by name only, so
// it also reaches the sessions of roles dropped since. When fn is not nil it
// is called, after the change, for each of the users' revoked sessions, by
// user and in creation order. For each user of whom it revoked sessions it
// records a user.logged_out event with the count, and reason when not
// empty.
func logOut(ctx context.Context, tx DBTX, users userSet, keep int64, by Actor, reason string, fn func(RevokedSession) error) (RevokeResult, error) {
	if !users.everyone && len(users.names) == 0 {
		return RevokeResult{}, nil
	}
	if err := waitForStandbys(ctx, tx); err != nil {
		return RevokeResult{}, err
	}
	var t tally
	var each func(RevokedSession) error
	if fn != nil || users.everyone || len(users.names) > 1 {
		each = func(r RevokedSession) error {
			t.session(r)
			if fn != nil {
				return fn(r)
			}
			return nil
		}
	}
	revoked, err := revokeUserSessions(ctx, tx, users, keep, each)
	if err != nil {
		return t.res, err
	}
	if each == nil {
		t.add(users.names[0], revoked, 0)
	}
	return t.record(ctx, tx, func(u string, n int64) Event {
		detail := map[string]any{"revoked": n, "keep_current": keep != 0}
		if reason != "" {
			detail["reason"] = reason
		}
		return by.event(EventUserLoggedOut, u, nil, detail)
	})
}

// tally counts a revocation's sessions per user, in the order the users
// first had one revoked, for the result and the events of one per user.
type tally struct {
	res     RevokeResult
	perUser map[string]int64
	order   []string
}

// add counts revoked sessions of user revoked now and before revoked
// before.
func (t *tally) add(user string, revoked, before int64) {
	if revoked > 0 {
		if t.perUser == nil {
			t.perUser = map[string]int64{}
		}
		if t.perUser[user] == 0 {
			t.order = append(t.order, user)
		}
		t.perUser[user] += revoked
		t.res.Revoked += revoked
	}
	t.res.AlreadyRevoked += before
}

// session counts one session read back.
func (t *tally) session(r RevokedSession) {
	if r.Now {
		t.add(r.Username, 1, 0)
	} else {
		t.add(r.Username, 0, 1)
	}
}

// record writes event(user, count) for each user of whom sessions were
// revoked, and returns the result.
func (t *tally) record(ctx context.Context, tx DBTX, event func(user string, revoked int64) Event) (RevokeResult, error) {
	events := make([]Event, 0, len(t.order))
	for _, u := range t.order {
		events = append(events, event(u, t.perUser[u]))
	}
	t.res.Users = len(events)
	return t.res, RecordEvents(ctx, tx, events)
}

// unique returns names without repeats, in their first order.
func unique(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
