package cli

import (
	"bufio"
	"context"
	"fmt"
	"strings"
)

// confirm asks question on stderr and reads a yes or no from stdin. It
// returns nil for yes, and cancelled for command otherwise: for no, any
// other answer or end of input, and at once for Ctrl-C (ctx cancelled by
// SIGINT), which the read would otherwise outlive, taking the next line
// typed as the answer.
func confirm(ctx context.Context, io *IOStreams, command, question string) error {
	fmt.Fprint(io.Err, question)
	answer := make(chan string, 1)
	go func() {
		// Left blocked on a terminal after Ctrl-C; the process is ending.
		line, _ := bufio.NewReader(io.In).ReadString('\n')
		answer <- line
	}()
	select {
	case <-ctx.Done():
		// The message goes on its own line, after the terminal's ^C.
		fmt.Fprintln(io.Err)
		return cancelled{command: command, interrupted: true}
	case line := <-answer:
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			// A yes typed after Ctrl-C may be read before the signal
			// cancels ctx; the revocation then stops before its commit
			// (sql.ErrInterrupted).
			if ctx.Err() != nil {
				fmt.Fprintln(io.Err)
				return cancelled{command: command, interrupted: true}
			}
			return nil
		}
		if line == "" {
			// End of input: the answer is no, on a line of its own.
			fmt.Fprintln(io.Err)
		}
		return cancelled{command: command}
	}
}
