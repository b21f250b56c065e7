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
	// EventSessionsRevoked records, per user, the sessions a revocation by
	// selection revoked: their count, the selection and the reason.
	EventSessionsRevoked = "sessions.revoked"
	EventLoginFailed     = "login.failed"
	EventLoginThrottled  = "login.throttled"
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

// RecordEvent appends e to the audit trail. Call it with the transaction
// that makes the change it records, so neither exists without the other.
// Text that came from a client is stored as storable makes it, so that no
// client input can make the write fail.
func RecordEvent(ctx context.Context, db DBTX, e Event) error {
	return RecordEvents(ctx, db, []Event{e})
}

// One statement for any number of events: the columns as arrays.
const insertEvents = `INSERT INTO system.session_events
    (event, actor, username, session_id, via, client_addr, user_agent, detail)
SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::JSONB[])`

// RecordEvents is RecordEvent for many events, in one statement: a bulk
// logout of thousands of users records their events in one round trip.
func RecordEvents(ctx context.Context, db DBTX, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	var names, actors, users, vias, addrs, agents, details []string
	var sessionIDs []*int64
	for _, e := range events {
		detail, err := eventDetail(e)
		if err != nil {
			return err
		}
		names, actors, users = append(names, e.Event), append(actors, storable(e.Actor)), append(users, storable(e.Username))
		sessionIDs, vias = append(sessionIDs, e.SessionID), append(vias, e.Via)
		addrs, agents, details = append(addrs, storable(e.ClientAddr)), append(agents, storable(e.UserAgent)), append(details, detail)
	}
	if _, err := db.Exec(ctx, inSchema(insertEvents), names, actors, users, sessionIDs, vias, addrs, agents, details); err != nil {
		if len(events) == 1 {
			return fmt.Errorf("record %s event: %w", events[0].Event, err)
		}
		return fmt.Errorf("record %d %s events: %w", len(events), events[0].Event, err)
	}
	return nil
}

// eventDetail is e.Detail as JSON, its text made storable (see
// storableDetail).
func eventDetail(e Event) (string, error) {
	if len(e.Detail) == 0 {
		return "{}", nil
	}
	detail, err := json.Marshal(storableDetail(e.Detail))
	if err != nil {
		return "", fmt.Errorf("encode event detail: %w", err)
	}
	return string(detail), nil
}

// maxDetailList is the most items of one list an event's detail keeps: a
// revocation by selection records its selection in the event of each user,
// and a list of thousands of users in each would cost the square of their
// number.
const maxDetailList = 16

// storableDetail is detail with every string made storable, in nested
// objects and lists too. Lists stay lists, so that ["a,b"] and ["a","b"]
// read apart; one longer than maxDetailList keeps its first items, and its
// length is recorded beside it under its key with "_count" appended.
func storableDetail(detail map[string]any) map[string]any {
	clean := make(map[string]any, len(detail))
	for k, v := range detail {
		switch v := v.(type) {
		case string:
			clean[k] = storable(v)
		case map[string]any:
			clean[k] = storableDetail(v)
		case []string:
			if len(v) > maxDetailList {
				clean[k+"_count"] = len(v)
				v = v[:maxDetailList]
			}
			list := make([]string, len(v))
			for i, s := range v {
				list[i] = storable(s)
			}
			clean[k] = list
		default:
			clean[k] = v
		}
	}
	return clean
}

// EventFilter narrows ListEvents.
type EventFilter struct {
	// Username keeps only events about this user when not empty.
	Username string
	// Since keeps only events at most this old when positive.
	Since time.Duration
}

const listEvents = `SELECT id, at, event, actor, username, session_id, via, client_addr, user_agent, detail
FROM system.session_events`

// ListEvents calls fn for each event matching f, oldest first, streaming.
func ListEvents(ctx context.Context, db DBTX, f EventFilter, fn func(*Event) error) error {
	// The same WHERE builder as the session listings.
	var w where
	if f.Username != "" {
		w.and("username = " + w.arg(f.Username))
	}
	if f.Since > 0 {
		w.and("at > " + w.ago(f.Since))
	}
	q := listEvents + w.String()
	rows, err := db.Query(ctx, inSchema(q+"\nORDER BY at, id"), w.args...)
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
