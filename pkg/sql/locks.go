package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Locks: a locked user gets no new session, from the CLI or the API, until
// unlocked or the lock expires. Locking is a revocation (Store.Revoke of
// OfUsers with RevokeOptions.Lock), so the users' sessions and their logins
// in flight end in the same transaction that writes the lock.

// Event names of locks.
const (
	EventUserLocked   = "user.locked"
	EventUserUnlocked = "user.unlocked"
	// EventLoginLocked records an API login refused because the user is
	// locked; the client is answered as for a wrong password.
	EventLoginLocked = "login.locked"
)

// ErrUserLocked is what a login of a locked user returns, as a
// *LockedError.
var ErrUserLocked = errors.New("user is locked")

// LockedError is ErrUserLocked with the lock.
type LockedError struct{ Lock Lock }

func (e *LockedError) Error() string { return ErrUserLocked.Error() }

// Unwrap makes errors.Is(err, ErrUserLocked) hold.
func (e *LockedError) Unwrap() error { return ErrUserLocked }

// Lock is a user's lock.
type Lock struct {
	Username string
	LockedAt time.Time
	// Until is when the lock ends by itself; nil locks until unlocked.
	Until  *time.Time
	By     string
	Reason string
}

// LockSpec makes a revocation of OfUsers also lock the users.
type LockSpec struct {
	// For is how long the lock lasts; zero locks until unlocked.
	For time.Duration
}

const lockColumns = `username, locked_at, locked_until, locked_by, reason`

// isLocked is whether lock l holds now.
const isLocked = `(l.locked_until IS NULL OR l.locked_until > now())`

const upsertLocks = `INSERT INTO system.web_session_locks AS l (username, locked_until, locked_by, reason)
SELECT u, CASE WHEN $2::BIGINT > 0 THEN now() + $2::BIGINT * INTERVAL '1 microsecond' END, $3, $4
FROM unnest($1::TEXT[]) AS u
ON CONFLICT (username) DO UPDATE
SET locked_at = now(), locked_until = excluded.locked_until, locked_by = excluded.locked_by, reason = excluded.reason
RETURNING ` + lockColumns

// lockUsers writes the users' locks, replacing any they had, with a
// user.locked event each.
func lockUsers(ctx context.Context, tx DBTX, users []string, spec LockSpec, by Actor, reason string) error {
	rows, err := tx.Query(ctx, inSchema(tx, upsertLocks), users, spec.For.Microseconds(), by.Name, reason)
	if err != nil {
		return fmt.Errorf("lock users: %w", err)
	}
	locks, err := pgx.CollectRows(rows, scanLock)
	if err != nil {
		return fmt.Errorf("lock users: %w", err)
	}
	events := make([]Event, 0, len(locks))
	for _, l := range locks {
		detail := map[string]any{}
		if l.Until != nil {
			detail["until"] = l.Until.UTC().Format(time.RFC3339Nano)
		}
		if reason != "" {
			detail["reason"] = reason
		}
		events = append(events, by.event(EventUserLocked, l.Username, nil, detail))
	}
	return RecordEvents(ctx, tx, events)
}

func scanLock(row pgx.CollectableRow) (Lock, error) {
	var l Lock
	err := row.Scan(&l.Username, &l.LockedAt, &l.Until, &l.By, &l.Reason)
	return l, err
}

const listLocks = `SELECT ` + lockColumns + ` FROM system.web_session_locks l WHERE ` + isLocked + ` ORDER BY l.username`

// ListLocks returns the locks that hold now, by user name.
func ListLocks(ctx context.Context, db DBTX) ([]Lock, error) {
	rows, err := db.Query(ctx, inSchema(db, listLocks))
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	return pgx.CollectRows(rows, scanLock)
}

// Lifted locks, and expired ones, are deleted: an expired lock no longer
// holds, and unlocking a user whose lock expired is no news.
const deleteLocks = `DELETE FROM system.web_session_locks l WHERE l.username = ANY($1::TEXT[])
RETURNING l.username, ` + isLocked

// Unlock lifts the users' locks, with a user.unlocked event for each user
// whose lock held, and returns those users. Users who were not locked are
// left out of the result.
func (s *Store) Unlock(ctx context.Context, usernames []string, by Actor, reason string) ([]string, error) {
	var unlocked []string
	err := runInTx(ctx, s.db, func(tx pgx.Tx) error {
		unlocked = nil
		rows, err := tx.Query(ctx, inSchema(tx, deleteLocks), unique(usernames))
		if err != nil {
			return err
		}
		var user string
		var held bool
		if _, err := pgx.ForEachRow(rows, []any{&user, &held}, func() error {
			if held {
				unlocked = append(unlocked, user)
			}
			return nil
		}); err != nil {
			return err
		}
		events := make([]Event, 0, len(unlocked))
		for _, u := range unlocked {
			detail := map[string]any{}
			if reason != "" {
				detail["reason"] = reason
			}
			events = append(events, by.event(EventUserUnlocked, u, nil, detail))
		}
		return RecordEvents(ctx, tx, events)
	})
	return unlocked, err
}
