package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LoginLimits bound the password checks of logins within a sliding window.
// The checks are counted in system.login_attempts, so every server over one
// database counts the same ones, and a purge of the audit trail leaves them
// alone.
type LoginLimits struct {
	// PerUserAddress is the most password checks of one user name from one
	// client address that did not make a session; 0 means no such limit.
	PerUserAddress int
	// PerAddress is the most such checks from one client address, whatever
	// the user names; 0 means no such limit.
	PerAddress int
	// Window is how far back checks count.
	Window time.Duration
}

// Off reports whether l limits nothing.
func (l LoginLimits) Off() bool {
	return l.PerUserAddress == 0 && l.PerAddress == 0 || l.Window <= 0
}

// Throttle says whether an attempt may have its password checked.
type Throttle struct {
	// Throttled is true when a limit is reached: the attempt must be refused
	// without checking its password.
	Throttled bool
	// RetryAfter is when the oldest check counted leaves the window, and
	// another attempt may be checked; set when Throttled.
	RetryAfter time.Duration
}

// LoginAttempt is the answer of ReserveLoginAttempt: either Throttled, or a
// place in the count held for the attempt.
type LoginAttempt struct {
	Throttle
	// id is the attempt's row in system.login_attempts; 0 when throttled or
	// when the limits are off.
	id int64
}

// The checks of the window from one address, and for one user name from it,
// with the seconds until the oldest of each leaves the window; an attempt
// counts from its reservation on, so a burst is counted as it arrives.
const countLoginAttempts = `SELECT count(*),
    count(CASE WHEN username = $2 THEN 1 END),
    COALESCE(EXTRACT(EPOCH FROM min(at) + $3::BIGINT * INTERVAL '1 microsecond' - now()), 0),
    COALESCE(EXTRACT(EPOCH FROM min(CASE WHEN username = $2 THEN at END) + $3::BIGINT * INTERVAL '1 microsecond' - now()), 0)
FROM system.login_attempts
WHERE client_addr = $1 AND at > now() - $3::BIGINT * INTERVAL '1 microsecond'`

// The address's row, whose lock the upsert holds until the transaction
// ends: reservations from one address, by any server, are made one at a
// time. No advisory lock: CockroachDB has none.
const lockLoginAddress = `INSERT INTO system.login_throttle (client_addr, counts_until)
VALUES ($1, now() + $2::BIGINT * INTERVAL '1 microsecond')
ON CONFLICT (client_addr) DO UPDATE SET counts_until = greatest(system.login_throttle.counts_until, excluded.counts_until)`

const insertLoginAttempt = `INSERT INTO system.login_attempts (client_addr, username, counts_until)
VALUES ($1, $2, now() + $3::BIGINT * INTERVAL '1 microsecond') RETURNING id`

// ReserveLoginAttempt holds a place in the count of clientAddr and username
// for an attempt about to have its password checked, or says that a limit
// of l is reached. Call it before the check: the place is held in the
// database, so however many attempts arrive at once, through however many
// servers, at most l's limits are checked in a window. The place counts as
// a failure until Store.Login gives it back when the attempt made a
// session.
func ReserveLoginAttempt(ctx context.Context, db interface {
	DBTX
	TxBeginner
}, l LoginLimits, clientAddr, username string) (LoginAttempt, error) {
	if l.Off() {
		return LoginAttempt{}, nil
	}
	clientAddr, username = storable(clientAddr), storable(username)
	// Once an address is throttled, its attempts are refused on a read,
	// without waiting for its lock or writing.
	t, err := countAttempts(ctx, db, l, clientAddr, username)
	if err != nil || t.Throttled {
		return LoginAttempt{Throttle: t}, err
	}
	var a LoginAttempt
	err = runInTx(ctx, db, func(tx pgx.Tx) error {
		a = LoginAttempt{}
		if _, err := tx.Exec(ctx, inSchema(tx, lockLoginAddress), clientAddr, l.Window.Microseconds()); err != nil {
			return err
		}
		// Counted again under the lock: what other reservations of the
		// address committed meanwhile is in this statement's snapshot.
		var err error
		if a.Throttle, err = countAttempts(ctx, tx, l, clientAddr, username); err != nil || a.Throttled {
			return err
		}
		return tx.QueryRow(ctx, inSchema(tx, insertLoginAttempt), clientAddr, username, l.Window.Microseconds()).Scan(&a.id)
	})
	if err != nil {
		return LoginAttempt{}, fmt.Errorf("reserve a login attempt: %w", err)
	}
	if a.id != 0 {
		cleanLoginThrottle(ctx, db)
	}
	return a, nil
}

// countAttempts counts the checks of clientAddr and username against l, by
// the database clock.
func countAttempts(ctx context.Context, db DBTX, l LoginLimits, clientAddr, username string) (Throttle, error) {
	var fromAddr, forUser int
	var addrClears, userClears float64
	err := db.QueryRow(ctx, inSchema(db, countLoginAttempts), clientAddr, username, l.Window.Microseconds()).
		Scan(&fromAddr, &forUser, &addrClears, &userClears)
	if err != nil {
		return Throttle{}, fmt.Errorf("count login attempts: %w", err)
	}
	var t Throttle
	if l.PerAddress > 0 && fromAddr >= l.PerAddress {
		t = Throttle{Throttled: true, RetryAfter: seconds(addrClears)}
	}
	if l.PerUserAddress > 0 && forUser >= l.PerUserAddress {
		t = Throttle{Throttled: true, RetryAfter: max(t.RetryAfter, seconds(userClears))}
	}
	return t, nil
}

const releaseLoginAttempt = `DELETE FROM system.login_attempts WHERE id = $1`

// giveBackLoginAttempt gives back the place of an attempt that made a
// session, so that it does not count as a failure. Call it in the
// transaction that creates the session, so that neither happens without
// the other.
func giveBackLoginAttempt(ctx context.Context, tx DBTX, a LoginAttempt) error {
	if a.id == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, inSchema(tx, releaseLoginAttempt), a.id); err != nil {
		return fmt.Errorf("release a login attempt: %w", err)
	}
	return nil
}

// cleanBatch bounds the rows each reservation deletes of those out of the
// window: more than the one it adds, so that the tables stay about the size
// of a window's attempts.
const cleanBatch = 10

// The rows out of the window, by any address, a few at a time; rows another
// transaction holds are left for the next time, not waited for.
var cleanLoginRows = []string{
	`DELETE FROM system.login_attempts WHERE id IN (SELECT id FROM system.login_attempts
    WHERE counts_until < now() ORDER BY counts_until LIMIT $1 FOR UPDATE SKIP LOCKED)`,
	`DELETE FROM system.login_throttle WHERE client_addr IN (SELECT client_addr FROM system.login_throttle
    WHERE counts_until < now() ORDER BY counts_until LIMIT $1 FOR UPDATE SKIP LOCKED)`,
}

// cleanLoginThrottle deletes a few rows that left the window. A failure
// only leaves them for the next reservation: the attempt goes on.
func cleanLoginThrottle(ctx context.Context, db DBTX) {
	for _, q := range cleanLoginRows {
		if _, err := db.Exec(ctx, inSchema(db, q), cleanBatch); err != nil {
			return
		}
	}
}

// ThrottledLogins are attempts from one address refused by the throttle,
// for the audit trail.
type ThrottledLogins struct {
	ClientAddr string
	// UserAgent is the first attempt's.
	UserAgent string
	// Attempts is how many there were, at least 1.
	Attempts int
}

// The attempts added to the address's login.throttled event of the window.
const countThrottledLogins = `UPDATE system.session_events
SET detail = detail || jsonb_build_object('attempts', (detail->>'attempts')::BIGINT + $3, 'last_at', now())
WHERE id = (SELECT throttled_event_id FROM system.login_throttle WHERE client_addr = $1)
    AND event = 'login.throttled' AND at > now() - $2::BIGINT * INTERVAL '1 microsecond'`

// The event names no user: the attempts it counts may name many, and none
// of their passwords was checked. The User-Agent is the first attempt's.
const insertThrottledEvent = `INSERT INTO system.session_events (event, actor, username, via, client_addr, user_agent, detail, client_ip)
VALUES ('login.throttled', '', '', 'http', $1, $2, jsonb_build_object('attempts', $3::BIGINT, 'last_at', now()), $4::INET)
RETURNING id`

const setThrottledEvent = `UPDATE system.login_throttle SET throttled_event_id = $2 WHERE client_addr = $1`

// RecordThrottledLogins records attempts refused by the throttle in bounded
// form: one login.throttled event per client address and window, whose
// detail counts the attempts ("attempts") and says when the last were
// recorded ("last_at"). Attempts that follow update that one row instead of
// adding a row each.
func RecordThrottledLogins(ctx context.Context, db interface {
	DBTX
	TxBeginner
}, l LoginLimits, t ThrottledLogins) error {
	clientAddr := storable(t.ClientAddr)
	tag, err := db.Exec(ctx, inSchema(db, countThrottledLogins), clientAddr, l.Window.Microseconds(), t.Attempts)
	if err != nil {
		return fmt.Errorf("count throttled logins: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// The first of the window: made under the address's lock, so that
	// attempts arriving together make one event.
	err = runInTx(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, inSchema(tx, lockLoginAddress), clientAddr, l.Window.Microseconds()); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, inSchema(tx, countThrottledLogins), clientAddr, l.Window.Microseconds(), t.Attempts)
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		var id int64
		if err := tx.QueryRow(ctx, inSchema(tx, insertThrottledEvent), clientAddr, storable(t.UserAgent), t.Attempts, clientIP(clientAddr)).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, inSchema(tx, notifyEvents)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, inSchema(tx, setThrottledEvent), clientAddr, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("record throttled logins: %w", err)
	}
	return nil
}

func seconds(s float64) time.Duration {
	return max(time.Duration(s*float64(time.Second)), 0)
}

// EventThrottleCleared records a throttle show's counts cleared by hand.
const EventThrottleCleared = "throttle.cleared"

// ThrottledClient is an address, or a user name at an address, whose
// failed logins reached a limit.
type ThrottledClient struct {
	ClientAddr string
	// Username is "" for the limit of the address, whatever the names.
	Username string
	// Failures counts the failed logins within the window.
	Failures int
	// ClearsAt is when enough of them leave the window for a login to be
	// checked again.
	ClearsAt time.Time
}

// The addresses, and the (address, user name) pairs, with at least $1 and
// $2 failures in the window $3; a limit of 0 picks none. A group clears
// when its count falls below the limit: when its (count - limit + 1)th
// oldest failure leaves the window.
const listThrottled = `WITH w AS (
    SELECT client_addr, username, at FROM system.login_attempts
    WHERE at > now() - $3::BIGINT * INTERVAL '1 microsecond'
)
SELECT client_addr, '' AS username, count(*),
    (array_agg(at ORDER BY at))[count(*) - $1 + 1] + $3::BIGINT * INTERVAL '1 microsecond'
FROM w WHERE $1 > 0 GROUP BY client_addr HAVING count(*) >= $1
UNION ALL
SELECT client_addr, username, count(*),
    (array_agg(at ORDER BY at))[count(*) - $2 + 1] + $3::BIGINT * INTERVAL '1 microsecond'
FROM w WHERE $2 > 0 GROUP BY client_addr, username HAVING count(*) >= $2
ORDER BY 1, 2`

// ListThrottled returns the addresses, and the user names at an address,
// that l throttles now.
func ListThrottled(ctx context.Context, db DBTX, l LoginLimits) ([]ThrottledClient, error) {
	if l.Off() {
		return nil, nil
	}
	rows, err := db.Query(ctx, inSchema(db, listThrottled), l.PerAddress, l.PerUserAddress, l.Window.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("list throttled clients: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ThrottledClient, error) {
		var c ThrottledClient
		err := row.Scan(&c.ClientAddr, &c.Username, &c.Failures, &c.ClearsAt)
		return c, err
	})
}

// Failed logins are deleted by address, by user name, or both; $1 or $2
// NULL matches any.
const clearThrottle = `DELETE FROM system.login_attempts
WHERE ($1::TEXT IS NULL OR client_addr = $1) AND ($2::TEXT IS NULL OR username = $2)`

// ClearThrottle forgets the failed logins from clientAddr, or of
// username, or of username from clientAddr ("" matches any, not both), so
// that they are checked again at once, with a throttle.cleared event; it
// returns how many it forgot.
func (s *Store) ClearThrottle(ctx context.Context, clientAddr, username string, by Actor) (int64, error) {
	if clientAddr == "" && username == "" {
		return 0, errors.New("clear the throttle: name an address or a user name")
	}
	arg := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	var n int64
	err := runInTx(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, inSchema(tx, clearThrottle), arg(clientAddr), arg(username))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		detail := map[string]any{"failures": n}
		if clientAddr != "" {
			detail["client_addr"] = clientAddr
		}
		return RecordEvent(ctx, tx, by.event(EventThrottleCleared, username, nil, detail))
	})
	return n, err
}
