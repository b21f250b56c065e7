package sql

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// mustRecord writes events in a transaction of their own.
func mustRecord(t *testing.T, db TxBeginner, events ...Event) {
	t.Helper()
	ctx := testContext(t)
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if err := RecordEvents(ctx, tx, events); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// eventNames lists events as "event/username" for messages.
func eventNames(events []Event) string {
	var out []string
	for _, e := range events {
		out = append(out, e.Event+"/"+e.Username)
	}
	return strings.Join(out, " ")
}

func listAll(t *testing.T, db DBTX, f EventFilter) []Event {
	t.Helper()
	var out []Event
	if err := ListEvents(testContext(t), db, f, func(e *Event) error {
		out = append(out, *e)
		return nil
	}); err != nil {
		t.Fatalf("list events %+v: %v", f, err)
	}
	return out
}

func TestEventFilters(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	id := func(n int64) *int64 { return &n }
	mustRecord(t, conn,
		Event{Event: EventSessionCreated, Actor: "alice", Username: "alice", SessionID: id(7), Via: "http", ClientAddr: "203.0.113.7"},
		Event{Event: EventSessionCreated, Actor: "root", Username: "bob", SessionID: id(8), Via: "cli", ClientAddr: "build-host"},
		Event{Event: EventSessionRevoked, Actor: "root", Username: "alice", SessionID: id(7), Via: "cli", ClientAddr: "build-host"},
		Event{Event: EventLoginFailed, Actor: "", Username: "carol", Via: "http", ClientAddr: "2001:db8::5"},
		Event{Event: EventUserLoggedOut, Actor: "bob", Username: "bob", Via: "http", ClientAddr: "::ffff:203.0.113.9"},
	)
	// An event of an hour ago, for the time bounds.
	if _, err := conn.Exec(testContext(t), `INSERT INTO system.session_events (at, event, actor, username, via)
VALUES (now() - INTERVAL '1 hour', 'session.created', 'root', 'old', 'cli')`); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name string
		f    EventFilter
		want string
	}{
		{"none", EventFilter{}, "session.created/old session.created/alice session.created/bob session.revoked/alice login.failed/carol user.logged_out/bob"},
		{"user", EventFilter{Username: "alice"}, "session.created/alice session.revoked/alice"},
		{"one type", EventFilter{Events: []string{EventSessionRevoked}}, "session.revoked/alice"},
		{"two types", EventFilter{Events: []string{EventLoginFailed, EventUserLoggedOut}}, "login.failed/carol user.logged_out/bob"},
		{"session", EventFilter{SessionID: 7}, "session.created/alice session.revoked/alice"},
		{"address", EventFilter{Network: netip.MustParsePrefix("203.0.113.7/32")}, "session.created/alice"},
		// The IPv4 address mapped into IPv6 is stored as IPv4.
		{"network", EventFilter{Network: netip.MustParsePrefix("203.0.113.0/24")}, "session.created/alice user.logged_out/bob"},
		{"IPv6", EventFilter{Network: netip.MustParsePrefix("2001:db8::/32")}, "login.failed/carol"},
		{"actor", EventFilter{Actor: "root"}, "session.created/old session.created/bob session.revoked/alice"},
		{"since a duration ago", EventFilter{Since: Instant{Ago: 30 * time.Minute}}, "session.created/alice session.created/bob session.revoked/alice login.failed/carol user.logged_out/bob"},
		{"until a duration ago", EventFilter{Until: Instant{Ago: 30 * time.Minute}}, "session.created/old"},
		{"until a time", EventFilter{Until: Instant{At: now.Add(-30 * time.Minute)}}, "session.created/old"},
		{"since and until", EventFilter{Since: Instant{Ago: 2 * time.Hour}, Until: Instant{At: now.Add(time.Hour)}, Actor: "root"}, "session.created/old session.created/bob session.revoked/alice"},
		{"all at once", EventFilter{Username: "alice", Events: []string{EventSessionRevoked}, SessionID: 7, Actor: "root", Since: Instant{Ago: time.Hour}}, "session.revoked/alice"},
		{"nothing", EventFilter{Username: "alice", Actor: "bob"}, ""},
	}
	for _, tt := range tests {
		if got := eventNames(listAll(t, conn, tt.f)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}

	// Paged newest first, the pages adding up to the listing.
	var paged []Event
	var before int64
	for pages := 0; ; pages++ {
		page, next, err := ListEventsPage(testContext(t), conn, EventFilter{}, before, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 2 || pages > 3 {
			t.Fatalf("page %d of %d events after %d pages", pages+1, len(page), pages)
		}
		paged = append(paged, page...)
		if before = next; next == 0 {
			break
		}
	}
	all := listAll(t, conn, EventFilter{})
	var pagedIDs, allIDs []int64
	for _, e := range paged {
		pagedIDs = append(pagedIDs, e.ID)
	}
	for _, e := range all {
		allIDs = append(allIDs, e.ID)
	}
	slices.Sort(allIDs)
	slices.Reverse(allIDs)
	if !slices.Equal(pagedIDs, allIDs) {
		t.Errorf("pages of 2 list ids %v, want every event newest first: %v", pagedIDs, allIDs)
	}
	page, _, err := ListEventsPage(testContext(t), conn, EventFilter{Username: "bob"}, 0, 0)
	if err != nil || eventNames(page) != "user.logged_out/bob session.created/bob" {
		t.Errorf("bob's page: %q, %v", eventNames(page), err)
	}
}

func TestEventFilterRefusesBadValues(t *testing.T) {
	t.Parallel()
	var w where
	if err := (EventFilter{SessionID: -1}).add(&w); err == nil || err.Error() != "invalid session id -1: want a positive id" {
		t.Errorf("session -1: %v", err)
	}
	if err := (EventFilter{Events: []string{"session.deleted"}}).add(&w); err == nil || !strings.HasPrefix(err.Error(), `unknown event type "session.deleted": want one of session.created,`) {
		t.Errorf("event session.deleted: %v", err)
	}
}

// TestParseEventFilter: the one reader of the filters, whether they came
// from events' flags or the admin route's query string.
func TestParseEventFilter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	parse := func(given map[string][]string) (EventFilter, error) {
		return ParseEventFilter(func(f *EventField) []string { return given[f.Name] }, now)
	}
	f, err := parse(map[string][]string{"user": {"Alice"}, "event": {"login.failed", "user.locked"}, "session": {"917162776906956801"},
		"ip": {"::ffff:203.0.113.0/120"}, "actor": {"root"}, "since": {"2026-11-30 12:00:00"}, "until": {"1h"}})
	want := EventFilter{Username: "Alice", Events: []string{"login.failed", "user.locked"}, SessionID: 917162776906956801,
		Network: netip.MustParsePrefix("203.0.113.0/24"), Actor: "root",
		Since: Instant{At: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}, Until: Instant{Ago: time.Hour}}
	if err != nil || fmt.Sprint(f) != fmt.Sprint(want) {
		t.Errorf("parsed %+v, %v; want %+v", f, err, want)
	}
	for _, tt := range []struct {
		given map[string][]string
		want  string
	}{
		{map[string][]string{"event": {"session.deleted"}}, `invalid event "session.deleted": want one of session.created, session.revoked, sessions.revoked, user.logged_out, user.locked, user.unlocked, login.failed, login.locked, login.throttled, throttle.cleared, retention.batch, retention.purged`},
		{map[string][]string{"session": {"0"}}, `invalid session "0": want a session id, a whole number from 1 up, as list prints it`},
		{map[string][]string{"session": {"+7"}}, `invalid session "+7": want a session id, a whole number from 1 up, as list prints it`},
		{map[string][]string{"ip": {"300.1.1.1"}}, `invalid ip "300.1.1.1": want an IP address`},
		{map[string][]string{"user": {""}}, `invalid user "": must not be empty`},
		{map[string][]string{"actor": {"a\tb"}}, `invalid actor "a\tb": control characters`},
		{map[string][]string{"user": {"a", "b"}}, `invalid user "a,b": given more than once: give it once`},
		{map[string][]string{"since": {"yesterday"}}, `invalid since "yesterday": want an RFC 3339 time`},
		{map[string][]string{"until": {"1969-12-31T00:00:00Z"}}, `invalid until "1969-12-31T00:00:00Z": before 1970-01-01T00:00:00Z`},
		{map[string][]string{"since": {"1h"}, "until": {"2h"}}, `until 2h is not later than since 1h: no event is in between`},
		{map[string][]string{"since": {"2026-11-30T12:00:00Z"}, "until": {"2026-11-30T12:00:00Z"}}, `until 2026-11-30T12:00:00Z is not later than since 2026-11-30T12:00:00Z`},
	} {
		if _, err := parse(tt.given); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %s", tt.given, err, tt.want)
		}
	}
}

// TestEventQueriesUseIndexes: one session's history, an address's events
// and a follower's read are served by an index, not a scan of the trail.
func TestEventQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	ctx := testContext(t)
	// 20,000 events of 2,000 sessions from 200 addresses, committed by
	// 4,000 transactions (made up: older than any running).
	if _, err := conn.Exec(ctx, `INSERT INTO system.session_events (event, actor, username, session_id, via, client_addr, client_ip, xact_id)
SELECT 'session.created', 'u', 'u' || g % 100, g % 2000 + 1, 'http', '10.0.' || g % 200 || '.1', ('10.0.' || g % 200 || '.1')::INET,
    (g / 5)::TEXT::xid8
FROM generate_series(1, 20000) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE system.session_events"); err != nil {
		t.Fatal(err)
	}
	snap, err := CurrentEventsSnapshot(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	query := func(f EventFilter, after EventsSnapshot) (string, string) {
		t.Helper()
		q, args, err := eventsQuery(f, nil)
		if after != "" {
			q, args, err = eventsAfterQuery(f, after)
		}
		if err != nil {
			t.Fatal(err)
		}
		return q, sqlLiterals(t, args)
	}
	for _, tt := range []struct {
		name      string
		f         EventFilter
		after     EventsSnapshot
		wantIndex string
	}{
		{"events --session", EventFilter{SessionID: 42}, "", "session_events_session_id_idx"},
		{"events --ip", EventFilter{Network: netip.MustParsePrefix("10.0.7.0/24")}, "", "session_events_client_ip_idx"},
		{"events --follow: a read", EventFilter{}, snap, "session_events_xact_id_idx"},
		{"events --follow --user: a read", EventFilter{Username: "u7"}, snap, ""},
	} {
		for _, generic := range []bool{false, true} {
			q, args := query(tt.f, tt.after)
			plan := explain(t, conn, q, args, generic)
			name := fmt.Sprintf("%s (generic %v)", tt.name, generic)
			t.Logf("%s: %+v", name, plan)
			usesIndex := false
			plan.walk(func(n planNode) {
				if n.NodeType == "Seq Scan" && n.RelationName == "session_events" {
					t.Errorf("%s: sequential scan of session_events in %+v", name, plan)
				}
				if n.IndexName != "" && (tt.wantIndex == "" || n.IndexName == tt.wantIndex) {
					usesIndex = true
				}
			})
			if !usesIndex {
				t.Errorf("%s: plan %+v does not use index %q", name, plan, tt.wantIndex)
			}
		}
	}
}
