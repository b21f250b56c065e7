package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Event names written to system.session_events.
const (
	EventSessionCreated = "session.created"
	EventSessionRevoked = "session.revoked"
	EventUserLoggedOut  = "user.logged_out"
	EventLoginFailed    = "login.failed"
	EventLoginThrottled = "login.throttled"
)

// Event is one row of the audit trail. It never holds a secret.
type Event struct {
	ID         int64
	At         time.Time
	Event      string
	Actor      string
	Username   string
	SessionID  *int64
	Via        string
	ClientAddr string
	UserAgent  string
	Detail     map[string]any
}

const insertEvent = `INSERT INTO system.session_events
    (event, actor, username, session_id, via, client_addr, user_agent, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::JSONB)`

// RecordEvent appends e to the audit trail. Call it with the transaction
// that makes the change it records, so neither exists without the other.
// Text that came from a client is stored as storable makes it, so that no
// client input can make the write fail.
func RecordEvent(ctx context.Context, db DBTX, e Event) error {
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		clean := make(map[string]any, len(e.Detail))
		for k, v := range e.Detail {
			if s, ok := v.(string); ok {
				v = storable(s)
			}
			clean[k] = v
		}
		var err error
		if detail, err = json.Marshal(clean); err != nil {
			return fmt.Errorf("encode event detail: %w", err)
		}
	}
	_, err := db.Exec(ctx, insertEvent, e.Event, storable(e.Actor), storable(e.Username), e.SessionID, e.Via,
		storable(e.ClientAddr), storable(e.UserAgent), string(detail))
	if err != nil {
		return fmt.Errorf("record %s event: %w", e.Event, err)
	}
	return nil
}

// EventFilter narrows ListEvents.
type EventFilter struct {
	// Username keeps only events about this user when not empty.
	Username string
	// Since keeps only events at most this old when positive.
	Since time.Duration
}

// ListEvents calls fn for each event matching f, oldest first, streaming.
func ListEvents(ctx context.Context, db DBTX, f EventFilter, fn func(*Event) error) error {
	q := `SELECT id, at, event, actor, username, session_id, via, client_addr, user_agent, detail
FROM system.session_events`
	var args []any
	sep := " WHERE"
	if f.Username != "" {
		args = append(args, f.Username)
		q += fmt.Sprintf("%s username = $%d", sep, len(args))
		sep = " AND"
	}
	if f.Since > 0 {
		args = append(args, f.Since.Microseconds())
		q += fmt.Sprintf("%s at > now() - $%d::BIGINT * INTERVAL '1 microsecond'", sep, len(args))
	}
	rows, err := db.Query(ctx, q+" ORDER BY at, id", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var e Event
	for rows.Next() {
		e = Event{}
		if err := rows.Scan(&e.ID, &e.At, &e.Event, &e.Actor, &e.Username, &e.SessionID, &e.Via,
			&e.ClientAddr, &e.UserAgent, &e.Detail); err != nil {
			return err
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return rows.Err()
}
