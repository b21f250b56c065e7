package cli

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"alice", "bob", "web_user", "web_admin"}
	for typed, want := range map[string]string{
		"alcie":    "alice", // two letters swapped
		"alice2":   "alice",
		"web_usr":  "web_user",
		"bob":      "bob",
		"bb":       "", // too short to guess
		"carol":    "",
		"web_adm1": "web_admin",
	} {
		if got := closest(typed, names); got != want {
			t.Errorf("closest(%q) = %q, want %q", typed, got, want)
		}
	}
}
