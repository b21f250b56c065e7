package tablesize

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSizes(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    []int
		wantErr string
	}{
		{in: "100k", want: []int{100_000}},
		{in: "100k 1M 10M", want: []int{100_000, 1_000_000, 10_000_000}},
		{in: " 1M,10M ", want: []int{1_000_000, 10_000_000}},
		{in: "250000", want: []int{250_000}},
		{in: "", wantErr: "no table size"},
		{in: "1G", wantErr: `table size "1G"`},
		{in: "1m", wantErr: `table size "1m"`},
		{in: "-1M", wantErr: `table size "-1M"`},
		{in: "+1M", wantErr: `table size "+1M"`},
		{in: "0k", wantErr: `table size "0k"`},
		{in: "1.5M", wantErr: `table size "1.5M"`},
		{in: "10k", wantErr: "at least 20k"},
		{in: "2000M", wantErr: "at most 1000M"},
	} {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestSizeNameReadsBack(t *testing.T) {
	for _, n := range []int{20_000, 100_000, 250_001, 1_000_000, 10_000_000} {
		got, err := parseOne(Name(n))
		if err != nil || got != n {
			t.Errorf("parseOne(Name(%d) = %q) = %d, %v", n, Name(n), got, err)
		}
	}
}
