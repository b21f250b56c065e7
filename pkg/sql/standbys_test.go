package sql

import (
	"slices"
	"testing"
)

func TestListedStandbys(t *testing.T) {
	for setting, want := range map[string][]string{
		"standby":               {"standby"},
		"s1, s2":                {"s1", "s2"},
		"FIRST 1 (s1, \"S 2\")": {"s1", "S 2"},
		"ANY 2 (a,b,c)":         {"a", "b", "c"},
		"2 (a, b)":              {"a", "b"},
		"*":                     {"*"},
	} {
		if got := listedStandbys(setting); !slices.Equal(got, want) {
			t.Errorf("listedStandbys(%q) = %q; want %q", setting, got, want)
		}
	}
}
