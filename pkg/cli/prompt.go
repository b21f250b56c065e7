package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// settleAfterInterrupt waits a moment after a Ctrl-C at a terminal before
// anything is written: Linux's terminal driver sends SIGINT first and only
// then discards the output not yet read (unless NOFLSH, which the yes/no
// prompt leaves off, so that what was typed after ^C is discarded too), so a
// message written at once could be discarded with it (e2e TestPromptCancels
// lost its last line about 1 run in 100).
func settleAfterInterrupt(io *IOStreams) {
	if io.ErrIsTerminal {
		time.Sleep(50 * time.Millisecond)
	}
}

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
		settleAfterInterrupt(io)
		fmt.Fprintln(io.Err)
		return cancelled{command: command, interrupted: true}
	case line := <-answer:
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			// A yes typed after Ctrl-C may be read before the signal
			// cancels ctx; the revocation then stops before its commit
			// (sql.ErrInterrupted).
			if ctx.Err() != nil {
				settleAfterInterrupt(io)
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

// readPassword shows prompt on the terminal's stderr and reads a line from
// its stdin with the echo off, as psql does: what is typed is never shown.
// Ctrl-C cancels at once, as at confirm's prompt, and end of input is an
// empty password.
func readPassword(ctx context.Context, streams *IOStreams, prompt string) (_ string, err error) {
	if f, ok := streams.In.(*os.File); ok {
		// Before the prompt shows, so that nothing typed after it is
		// echoed.
		restore, err := hideInput(f)
		if err != nil {
			return "", fmt.Errorf("turn off the terminal's echo to read the password: %w", err)
		}
		defer func() { restore(err != nil) }()
	}
	fmt.Fprint(streams.Err, prompt)
	type answer struct {
		line string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		// Left blocked on a terminal after Ctrl-C; the process is ending.
		line, err := readLine(streams.In)
		answered <- answer{line, err}
	}()
	select {
	case <-ctx.Done():
		// Nothing was echoed, ^C included: end the prompt's line.
		fmt.Fprintln(streams.Err)
		return "", cancelled{interrupted: true, atPassword: true}
	case a := <-answered:
		// The Enter was not echoed either.
		fmt.Fprintln(streams.Err)
		if ctx.Err() != nil {
			return "", cancelled{interrupted: true, atPassword: true}
		}
		if a.err != nil && !errors.Is(a.err, io.EOF) {
			return "", fmt.Errorf("read the password: %w", a.err)
		}
		return a.line, nil
	}
}

// readLine reads r up to the end of a line, a byte at a time so that
// nothing after it is taken from the terminal; a carriage return is
// dropped.
func readLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := r.Read(b)
		if n == 1 {
			switch b[0] {
			case '\n':
				return string(line), nil
			case '\r':
			default:
				line = append(line, b[0])
			}
			continue
		}
		if err != nil {
			return string(line), err
		}
	}
}
