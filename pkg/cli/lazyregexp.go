package cli

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles expr the first time it is used. A package-level
// regexp.MustCompile runs when the binary starts, for every command,
// including the ones that never use it: start-up is most of what a short
// command costs beside psql (docs/benchmarks.md).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
