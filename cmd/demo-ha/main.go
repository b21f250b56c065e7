// Command demo-ha is `make demo-ha`: see package demoha.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/auth-session/auth-session/internal/demoha"
)

func main() {
	bin := flag.String("bin", "bin/auth-session", "the auth-session binary the story runs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demoha.Run(ctx, os.Stdout, *bin); err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: demo-ha: %v\n", err)
		stop()
		os.Exit(1)
	}
}
