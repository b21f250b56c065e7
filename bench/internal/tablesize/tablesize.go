// Package tablesize reads and writes the table sizes the benchmarks fill,
// as their -sizes flags and make bench's SCALE and RETENTION give them:
// "100k 1M 10M".
package tablesize

import (
	"fmt"
	"strconv"
	"strings"
)

// Min is the smallest table the benchmarks fill: bench/scale needs more
// users than the 1,000 that are real roles, at ten sessions each.
const Min = 20_000

// Parse reads table sizes: separated by spaces or
// commas, each a whole number with an optional k (thousands) or M
// (millions), such as "100k 1M 10M".
func Parse(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		n, err := parseOne(f)
		if err != nil {
			return nil, err
		}
		sizes = append(sizes, n)
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("no table size in %q: give sizes such as \"100k 1M 10M\"", s)
	}
	return sizes, nil
}

func parseOne(f string) (int, error) {
	digits, mult := f, 1
	switch {
	case strings.HasSuffix(f, "k"):
		digits, mult = f[:len(f)-1], 1_000
	case strings.HasSuffix(f, "M"):
		digits, mult = f[:len(f)-1], 1_000_000
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n <= 0 || digits[0] == '+' {
		return 0, fmt.Errorf("table size %q: want a whole number of sessions, optionally with k or M (100k, 1M)", f)
	}
	if n > 1_000_000_000/mult {
		return 0, fmt.Errorf("table size %q: at most 1000M sessions", f)
	}
	if n*mult < Min {
		return 0, fmt.Errorf("table size %q: at least %dk sessions", f, Min/1000)
	}
	return n * mult, nil
}

// Name writes n as Parse reads it: 100k, 1M, 10M, 250000.
func Name(n int) string {
	switch {
	case n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n%1_000 == 0:
		return strconv.Itoa(n/1_000) + "k"
	}
	return strconv.Itoa(n)
}
