package sql

import (
	"context"
	"fmt"
	"time"
)

// LoginLimits bound failed password logins within a sliding window. The
// failures are the login.failed events of the audit trail, so every server
// over one database counts the same ones.
type LoginLimits struct {
	// PerUserAddress is the most failures for one user name from one client
	// address; 0 means no such limit.
	PerUserAddress int
	// PerAddress is the most failures from one client address, whatever the
	// user names; 0 means no such limit.
	PerAddress int
	// Window is how far back failures count.
	Window time.Duration
}

// Off reports whether l limits nothing.
func (l LoginLimits) Off() bool {
	return l.PerUserAddress == 0 && l.PerAddress == 0 || l.Window <= 0
}

// Throttle is the answer of CheckLoginThrottle.
type Throttle struct {
	// Throttled is true when a limit is reached: the attempt must be refused
	// without checking its password.
	Throttled bool
	// RetryAfter is when the oldest failure counted leaves the window, and
	// another attempt may be checked; set when Throttled.
	RetryAfter time.Duration
}

// Counted with the partial index on (client_addr, at) of login.failed
// events. Throttled attempts are not failures: they do not extend the
// window, so a guesser gets at most the limit's checks per window.
const countLoginFailures = `SELECT count(*),
    count(CASE WHEN username = $2 THEN 1 END),
    COALESCE(EXTRACT(EPOCH FROM min(at) + $3::BIGINT * INTERVAL '1 microsecond' - now()), 0),
    COALESCE(EXTRACT(EPOCH FROM min(CASE WHEN username = $2 THEN at END) + $3::BIGINT * INTERVAL '1 microsecond' - now()), 0)
FROM system.session_events
WHERE event = 'login.failed' AND client_addr = $1 AND at > now() - $3::BIGINT * INTERVAL '1 microsecond'`

// CheckLoginThrottle counts the recent failed logins from clientAddr, and
// those for username from it, against l, by the database clock.
func CheckLoginThrottle(ctx context.Context, db DBTX, l LoginLimits, clientAddr, username string) (Throttle, error) {
	if l.Off() {
		return Throttle{}, nil
	}
	var fromAddr, forUser int
	var addrClears, userClears float64
	err := db.QueryRow(ctx, inSchema(countLoginFailures), storable(clientAddr), storable(username), l.Window.Microseconds()).
		Scan(&fromAddr, &forUser, &addrClears, &userClears)
	if err != nil {
		return Throttle{}, fmt.Errorf("count failed logins: %w", err)
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

func seconds(s float64) time.Duration {
	return max(time.Duration(s*float64(time.Second)), 0)
}
