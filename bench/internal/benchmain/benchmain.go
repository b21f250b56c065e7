// Package benchmain is the end of every benchmark program's main: run the
// benchmark until it returns or an interrupt or SIGTERM cancels it, so that
// it stops what it started, and exit 1 with its error.
package benchmain

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Run calls run with a context that an interrupt or SIGTERM cancels; when
// run fails it prints "name: error" on stderr and exits 1.
func Run(name string, run func(context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
