package main

import "testing"

func TestPurgeRuns(t *testing.T) {
	for _, tc := range []struct {
		rows int64
		want int
	}{
		{0, 5}, {20_000, 5}, {100_000, 5}, {1_000_000, 3}, {3_000_001, 1}, {10_000_000, 1},
	} {
		if got := purgeRuns(tc.rows); got != tc.want {
			t.Errorf("purgeRuns(%d) = %d, want %d", tc.rows, got, tc.want)
		}
	}
}
