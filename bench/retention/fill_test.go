package main

import "testing"

func TestParseSizes(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "1M", want: []int{1_000_000}},
		{in: "100k 1M,10M", want: []int{100_000, 1_000_000, 10_000_000}},
		{in: "20000", want: []int{20_000}},
		{in: "", wantErr: true},
		{in: "10k", wantErr: true},
		{in: "1G", wantErr: true},
		{in: "-1M", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSizes(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseSizes(%q): error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("parseSizes(%q) = %v, want %v", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("parseSizes(%q) = %v, want %v", tt.in, got, tt.want)
			}
		}
	}
}

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
