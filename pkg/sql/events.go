package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
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

// EventTypes are the events the trail holds, as events --event and the
// admin API's event parameter name them.
var EventTypes = []string{
	EventSessionCreated, EventSessionRevoked, EventSessionsRevoked, EventUserLoggedOut,
	EventUserLocked, EventUserUnlocked, EventLoginFailed, EventLoginLocked, EventLoginThrottled,
	EventThrottleCleared, EventRetentionBatch, EventRetentionPurged, EventSettingChanged,
}

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

// One statement for any number of events: the columns as arrays. It wakes
// the followers of the trail (notifyEvents) once, whatever the number.
const insertEvents = `WITH written AS (
    INSERT INTO system.session_events
        (event, actor, username, session_id, via, client_addr, user_agent, detail, client_ip)
    SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::JSONB[], $9::INET[])
)
` + notifyEvents

// RecordEvents is RecordEvent for many events, in one statement: a bulk
// logout of thousands of users records their events in one round trip.
func RecordEvents(ctx context.Context, db DBTX, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	var names, actors, users, vias, addrs, agents, details []string
	var sessionIDs []*int64
	var ips []*string
	for _, e := range events {
		detail, err := eventDetail(e)
		if err != nil {
			return err
		}
		names, actors, users = append(names, e.Event), append(actors, storable(e.Actor)), append(users, storable(e.Username))
		sessionIDs, vias = append(sessionIDs, e.SessionID), append(vias, e.Via)
		addrs, agents, details = append(addrs, storable(e.ClientAddr)), append(agents, storable(e.UserAgent)), append(details, detail)
		ips = append(ips, clientIP(e.ClientAddr))
	}
	if _, err := db.Exec(ctx, inSchema(db, insertEvents), names, actors, users, sessionIDs, vias, addrs, agents, details, ips); err != nil {
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

// EventFilter narrows the events listed. Each field narrows when set; the
// zero EventFilter keeps every event. Every value is bound as a parameter.
type EventFilter struct {
	// Username keeps only events about this user when not empty.
	Username string
	// Events keeps only events of these types (EventTypes).
	Events []string
	// SessionID keeps only events about this session when positive.
	SessionID int64
	// Network keeps only events whose client address is in it (an address
	// is a prefix of its full length). Events of the CLI have none.
	Network netip.Prefix
	// Actor keeps only events made by this role: the database user of a
	// command, the signed-in user of a request.
	Actor string
	// Since and Until keep only events at or after Since and before Until.
	Since, Until Instant
}

// add adds f's conditions to w, on session_events aliased e. Each is added
// only when set (see Selection.add); --session and --ip are served by an
// index each (see schema/0007), the rest by the time order of the listing.
func (f EventFilter) add(w *where) error {
	if f.Username != "" {
		w.and("e.username = " + w.arg(f.Username))
	}
	for _, e := range f.Events {
		if !slices.Contains(EventTypes, e) {
			return fmt.Errorf("unknown event type %q: want one of %s", e, strings.Join(EventTypes, ", "))
		}
	}
	switch len(f.Events) {
	case 0:
	case 1:
		w.and("e.event = " + w.arg(f.Events[0]))
	default:
		w.and("e.event = ANY(" + w.arg(f.Events) + "::TEXT[])")
	}
	switch {
	case f.SessionID < 0:
		return fmt.Errorf("invalid session id %d: want a positive id", f.SessionID)
	case f.SessionID > 0:
		w.and("e.session_id = " + w.arg(f.SessionID))
	}
	if f.Network.IsValid() {
		first, last := networkRange(f.Network)
		w.and("e.client_ip BETWEEN " + w.arg(first.String()) + "::INET AND " + w.arg(last.String()) + "::INET")
	}
	if f.Actor != "" {
		w.and("e.actor = " + w.arg(f.Actor))
	}
	if !f.Since.IsZero() {
		w.and("e.at >= " + f.Since.sql(w))
	}
	if !f.Until.IsZero() {
		w.and("e.at < " + f.Until.sql(w))
	}
	return nil
}

const listEvents = `SELECT e.id, e.at, e.event, e.actor, e.username, e.session_id, e.via, e.client_addr, e.user_agent, e.detail
FROM system.session_events e`

// eventsQuery is the listing of the events matching f, oldest first, with
// the further conditions that more adds to w.
func eventsQuery(f EventFilter, more func(w *where)) (string, []any, error) {
	var w where
	if err := f.add(&w); err != nil {
		return "", nil, err
	}
	if more != nil {
		more(&w)
	}
	return listEvents + w.String() + "\nORDER BY e.at, e.id", w.args, nil
}

// ListEvents calls fn for each event matching f, oldest first, streaming.
func ListEvents(ctx context.Context, db DBTX, f EventFilter, fn func(*Event) error) error {
	q, args, err := eventsQuery(f, nil)
	if err != nil {
		return err
	}
	return queryEvents(ctx, db, q, args, fn)
}

// queryEvents runs q, a listing of listEvents' columns, and calls fn for
// each row.
func queryEvents(ctx context.Context, db DBTX, q string, args []any, fn func(*Event) error) error {
	rows, err := db.Query(ctx, inSchema(db, q), args...)
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

// ListEventsPage returns the events matching f, newest (highest id) first,
// at most limit of them (1 to MaxPageLimit; 0 is DefaultPageLimit), those
// with an id below before when it is positive, and the before of the next
// page, 0 when this page is the last: the keyset paging of
// ListSessionsPage.
func ListEventsPage(ctx context.Context, db DBTX, f EventFilter, before int64, limit int) (page []Event, next int64, err error) {
	if limit == 0 {
		limit = DefaultPageLimit
	}
	if limit < 1 || limit > MaxPageLimit {
		return nil, 0, fmt.Errorf("page limit %d is out of range 1 to %d", limit, MaxPageLimit)
	}
	var w where
	if err := f.add(&w); err != nil {
		return nil, 0, err
	}
	if before > 0 {
		w.and("e.id < " + w.arg(before))
	}
	// One row more than asked says whether another page follows.
	q := listEvents + w.String() + "\nORDER BY e.id DESC LIMIT " + w.arg(limit+1)
	err = queryEvents(ctx, db, q, w.args, func(e *Event) error {
		page = append(page, *e)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if len(page) > limit {
		page = page[:limit]
		next = page[limit-1].ID
	}
	return page, next, nil
}
