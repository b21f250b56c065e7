package sql

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// TestEveryFieldNarrowsBeyondUsers guards the over-revocation trap: a
// revocation by users alone is a logout of all of their sessions, so a
// selection with any other field set must not be taken for one. The test
// sets each field of Selection in turn, beside Users; a field added to
// Selection but not turned into a condition by add fails here too.
func TestEveryFieldNarrowsBeyondUsers(t *testing.T) {
	samples := map[string]any{
		"ExceptUsers":   []string{"bob"},
		"ExceptRoles":   []string{"admin"},
		"State":         StatusExpired,
		"ExpiredWithin": time.Hour,
		"CreatedBefore": Instant{Ago: time.Hour},
		"CreatedAfter":  Instant{At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		"IdleFor":       time.Hour,
		"Network":       netip.MustParsePrefix("203.0.113.0/24"),
		"UserAgent":     "curl",
		"Via":           "cli",
	}
	// Not filters: Users is what the others narrow; IdleTimeout is the
	// policy the states are read by.
	notFilters := map[string]bool{"Users": true, "IdleTimeout": true}
	typ := reflect.TypeOf(Selection{})
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Name
		if notFilters[name] {
			continue
		}
		sample, ok := samples[name]
		if !ok {
			t.Errorf("Selection.%s has no sample value in this test: add one, and the condition it adds in Selection.add", name)
			continue
		}
		sel := Selection{Users: []string{"alice"}}
		reflect.ValueOf(&sel).Elem().Field(i).Set(reflect.ValueOf(sample))
		if sel.ByUsersOnly() {
			t.Errorf("Selection{Users, %s} is taken for a selection by users alone: revoke would log out all of alice's sessions", name)
		}
		var w where
		if err := sel.add(&w); err != nil {
			t.Errorf("Selection{Users, %s: %v}: %v", name, sample, err)
		} else if len(w.conds) < 2 {
			t.Errorf("Selection{Users, %s: %v} adds no condition of its own: list and revoke would ignore it", name, sample)
		}
	}
}
