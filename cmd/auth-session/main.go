// Command auth-session manages web sessions stored in a SQL database.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/auth-session/auth-session/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args, cli.SystemEnv())
	stop()
	os.Exit(code)
}
