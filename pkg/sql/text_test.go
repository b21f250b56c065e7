package sql

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStorable(t *testing.T) {
	long := strings.Repeat("é", MaxClientText) // 2 bytes each
	tests := []struct{ in, want string }{
		{"curl/8.0", "curl/8.0"},
		{"\xc3\x28", "\uFFFD("},
		{"a\x00b", "a\uFFFDb"},
		{"bell\a\r\n", "bell\uFFFD\uFFFD\uFFFD"},
		{"\xff\xfe", "\uFFFD\uFFFD"},
		{long, long[:MaxClientText]},
		{strings.Repeat("a", MaxClientText-1) + "é", strings.Repeat("a", MaxClientText-1)},
	}
	for _, tt := range tests {
		got := storable(tt.in)
		if got != tt.want || !utf8.ValidString(got) || len(got) > MaxClientText {
			t.Errorf("storable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Every field a client can fill is written, whatever it holds.
func TestRecordEventStoresAnyClientText(t *testing.T) {
	t.Parallel()
	conn, _ := newStore(t)
	ctx := testContext(t)
	hostile := "\x00\xc3\x28\xff" + strings.Repeat("x", 10_000)
	err := RecordEvent(ctx, conn, Event{Event: EventLoginFailed, Actor: hostile, Username: hostile, Via: "http",
		ClientAddr: hostile, UserAgent: hostile, Detail: map[string]any{"reason": hostile}})
	if err != nil {
		t.Fatalf("record an event of hostile text: %v", err)
	}
	_, err = createSession(ctx, conn, NewSession{Username: "postgres", HashedSecret: []byte("x"), ExpireAfter: hour,
		Audit: AuditInfo{Via: "http", Actor: hostile, ClientAddr: hostile, UserAgent: hostile}})
	if err != nil && err != ErrUserNotFound {
		t.Fatalf("create a session with hostile audit info: %v", err)
	}
}

// An event's detail keeps lists as lists, their text storable, and at most
// maxDetailList items of each, with the full length beside them.
func TestStorableDetail(t *testing.T) {
	many := make([]string, maxDetailList+5)
	for i := range many {
		many[i] = "u"
	}
	got := storableDetail(map[string]any{"revoked": 2, "selection": map[string]any{
		"users": []string{"a,b", "c\x1b"}, "ip": "127.0.0.1", "more": many}})
	b, err := json.Marshal(got)
	want := `{"revoked":2,"selection":{"ip":"127.0.0.1","more":["u","u","u","u","u","u","u","u","u","u","u","u","u","u","u","u"],"more_count":21,"users":["a,b","c` + "\uFFFD" + `"]}}`
	if err != nil || string(b) != want {
		t.Errorf("storableDetail = %s (%v), want %s", b, err, want)
	}
}
