package cli

import "testing"

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 sessions"}, {1, "1 session"}, {2, "2 sessions"}, {-1, "-1 sessions"}} {
		if got := plural(tt.n, "session", "sessions"); got != tt.want {
			t.Errorf("plural(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
