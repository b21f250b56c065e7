package main

import "testing"

// The fill inserts row j·stride mod n + 1 j-th: every row once, and
// neighbours far apart.
func TestScatterStrideVisitsEveryRowOnce(t *testing.T) {
	for _, n := range []int{20_000, 100_000, 1_000_000} {
		stride := scatterStride(n)
		seen := make([]bool, n)
		for j := range n {
			i := j * stride % n
			if seen[i] {
				t.Fatalf("n=%d stride=%d: row %d inserted twice", n, stride, i+1)
			}
			seen[i] = true
		}
		if gap := min(stride, n-stride); gap < n/4 {
			t.Errorf("n=%d: stride %d puts neighbours %d rows apart, want at least %d", n, stride, gap, n/4)
		}
	}
}
