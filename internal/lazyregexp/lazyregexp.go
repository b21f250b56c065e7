// Package lazyregexp holds regular expressions that are compiled the first
// time they are used. A package-level regexp.MustCompile runs when the
// binary starts, for every command, including the ones that never use it:
// start-up is most of what a short command costs beside psql
// (docs/benchmarks.md).
package lazyregexp

import (
	"regexp"
	"sync"
)

// New returns expr's regular expression, compiled on the first call.
func New(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
