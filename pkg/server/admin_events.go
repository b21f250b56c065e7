package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auth-session/auth-session/internal/httpjson"
	"github.com/auth-session/auth-session/pkg/sql"
)

// The admin API's audit trail: GET /api/v1/admin/events, the events
// command's filters as query parameters, in pages newest first.

// adminEventJSON is one event, with the keys of events --format json.
type adminEventJSON struct {
	ID         string          `json:"id"`
	At         string          `json:"at"`
	Event      string          `json:"event"`
	Actor      string          `json:"actor"`
	Username   string          `json:"username"`
	SessionID  *string         `json:"session_id"`
	Via        string          `json:"via"`
	ClientAddr string          `json:"client_addr"`
	UserAgent  string          `json:"user_agent"`
	Detail     json.RawMessage `json:"detail"`
}

type adminEventsResponse struct {
	Events []adminEventJSON `json:"events"`
	// Next is the before cursor of the next page, null on the last one.
	Next *string `json:"next"`
}

// handleAdminEvents answers GET /api/v1/admin/events with one page of the
// audit trail, newest first. Query parameters: user, event (repeatable),
// session, ip, actor, since and until (an RFC 3339 time or a duration
// ago), limit (1 to 5000, default 500) and before (the next cursor of the
// previous page). An unknown parameter is a 400, not a filter left out.
func (s *Server) handleAdminEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, before, limit, err := eventsQuery(r, time.Now())
		if err != nil {
			writeError(w, badRequest("%s", err))
			return
		}
		page, next, err := sql.ListEventsPage(r.Context(), s.db, f, before, limit)
		if err != nil {
			s.storeUnavailable(w, r, "cannot list events", err)
			return
		}
		out := adminEventsResponse{Events: make([]adminEventJSON, 0, len(page))}
		for _, e := range page {
			out.Events = append(out.Events, adminEvent(e))
		}
		if next != 0 {
			cursor := jsonID(next)
			out.Next = &cursor
		}
		httpjson.Write(w, http.StatusOK, out)
	})
}

// eventsQuery reads the route's query parameters: the filters by
// sql.ParseEventFilter (the rules of the events command's flags, which
// share their names), limit and before. An error names the parameter,
// quotes its value and says what is accepted.
func eventsQuery(r *http.Request, now time.Time) (f sql.EventFilter, before int64, limit int, err error) {
	q := r.URL.Query()
	params := append(sql.EventFieldNames(), "limit", "before")
	for name, values := range q {
		if !slices.Contains(params, name) {
			return f, 0, 0, fmt.Errorf("unknown query parameter %s: want %s", strconv.Quote(name), strings.Join(params, ", "))
		}
		if len(values) > 1 && (name == "limit" || name == "before") {
			return f, 0, 0, fmt.Errorf("invalid %s %s: given more than once: give it once", name, strconv.Quote(strings.Join(values, ",")))
		}
	}
	if f, err = sql.ParseEventFilter(func(field *sql.EventField) []string { return q[field.Name] }, now); err != nil {
		return f, 0, 0, err
	}
	if q.Has("limit") {
		v := q.Get("limit")
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > sql.MaxPageLimit {
			return f, 0, 0, fmt.Errorf("invalid limit %s: want a whole number from 1 to %d", strconv.Quote(v), sql.MaxPageLimit)
		}
	}
	if q.Has("before") {
		v := q.Get("before")
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 1 {
			return f, 0, 0, fmt.Errorf("invalid before %s: want an event id, as in the next field of the previous page", strconv.Quote(v))
		}
	}
	return f, before, limit, nil
}

// adminEvent renders an event for the admin API.
func adminEvent(e sql.Event) adminEventJSON {
	out := adminEventJSON{
		ID: jsonID(e.ID), At: jsonTime(e.At), Event: e.Event, Actor: e.Actor, Username: e.Username,
		Via: e.Via, ClientAddr: e.ClientAddr, UserAgent: e.UserAgent, Detail: json.RawMessage("{}"),
	}
	if e.SessionID != nil {
		id := jsonID(*e.SessionID)
		out.SessionID = &id
	}
	if len(e.Detail) > 0 {
		// A map read from JSONB encodes again.
		if b, err := json.Marshal(e.Detail); err == nil {
			out.Detail = b
		}
	}
	return out
}
