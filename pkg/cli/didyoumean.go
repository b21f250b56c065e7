package cli

import (
	"strings"
	"unicode/utf8"
)

// closest returns the name among names nearest to typed by edit distance
// (letters inserted, deleted, replaced or two swapped), when near enough to
// be a typo: at most 2 edits, and at most a third of typed's letters. A
// name that differs only in case comes first: WEB_USER meant web_user. It
// returns "" when none is.
func closest(typed string, names []string) string {
	for _, name := range names {
		if name != typed && strings.EqualFold(name, typed) {
			return name
		}
	}
	limit := min(2, utf8.RuneCountInString(typed)/3)
	best, bestDist := "", limit+1
	for _, name := range names {
		if d := editDistance(typed, name); d < bestDist {
			best, bestDist = name, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b, in
// runes: insertions, deletions, substitutions and swaps of two neighbours.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows of the table: two back (for swaps), the previous, this.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
