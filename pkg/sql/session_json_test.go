package sql

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// filledSession is a ListedSession with a value in every field of
// SessionFields, set through the fields themselves, so that a field added
// later is filled too.
func filledSession(t *testing.T) ListedSession {
	t.Helper()
	var s ListedSession
	at := time.Date(2026, 12, 1, 20, 45, 51, 339061000, time.UTC)
	for i, f := range SessionFields {
		switch p := f.in(&s).(type) {
		case *int64:
			*p = 915705278349967361 + int64(i)
		case *string:
			*p = f.Key + ` <"é"> \`
		case *bool:
			*p = true
		case *time.Time:
			*p = at.Add(time.Duration(i) * time.Second)
		case **time.Time:
			v := at.Add(time.Duration(i) * time.Second)
			*p = &v
		default:
			t.Fatalf("session field %s is a %T: give it a value here and a JSON form in session_json.go", f.Key, p)
		}
	}
	return s
}

// TestSessionFieldsDeclared: keys are unique, and each field has its SQL and
// its place in the row.
func TestSessionFieldsDeclared(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range SessionFields {
		if f.Key == "" || f.Header == "" || f.Type == "" || f.expr == nil || f.in == nil || seen[f.Key] {
			t.Errorf("session field %+v: want a key of its own, a header, a type, its SQL and its place", f)
		}
		seen[f.Key] = true
	}
}

// TestSessionJSONRoundTrip: what the HTTP API writes of a session, a
// client reads back the same, for every field.
func TestSessionJSONRoundTrip(t *testing.T) {
	s := filledSession(t)
	b := append(AppendSessionJSON([]byte{'{'}, &s, SessionFields), '}')
	var object map[string]json.RawMessage
	if err := json.Unmarshal(b, &object); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, b)
	}
	if len(object) != len(SessionFields) {
		t.Errorf("%d members for %d fields:\n%s", len(object), len(SessionFields), b)
	}
	if !strings.Contains(string(b), `"id":"915705278349967362"`) {
		t.Errorf("the id is not a decimal string:\n%s", b)
	}
	var got ListedSession
	if err := DecodeSessionJSON(object, &got, SessionFields); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("read back\n%+v\nwrote\n%+v\nas %s", got, s, b)
	}

	delete(object, "created_at")
	if err := DecodeSessionJSON(object, &got, SessionFields); err == nil || !strings.Contains(err.Error(), "created_at: missing") {
		t.Errorf("a member missing: %v; want an error naming created_at", err)
	}
	object["created_at"] = json.RawMessage("null")
	if err := DecodeSessionJSON(object, &got, SessionFields); err == nil || !strings.Contains(err.Error(), "created_at") {
		t.Errorf("created_at null: %v; want an error naming it", err)
	}
}
