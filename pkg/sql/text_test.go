package sql

import (
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
	_, err = CreateSession(ctx, conn, NewSession{Username: "postgres", HashedSecret: []byte("x"), ExpireAfter: hour,
		Audit: AuditInfo{Via: "http", Actor: hostile, ClientAddr: hostile, UserAgent: hostile}})
	if err != nil && err != ErrUserNotFound {
		t.Fatalf("create a session with hostile audit info: %v", err)
	}
}
