package cli

import (
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// IOStreams are the standard streams a command uses, injected so that tests
// can pass buffers and choose whether each one is a terminal.
type IOStreams struct {
	In            io.Reader
	Out           io.Writer
	Err           io.Writer
	InIsTerminal  bool
	OutIsTerminal bool
	ErrIsTerminal bool
	// Width is the terminal's width in columns, 0 when no stream is on one.
	Width int
}

// Env is everything a command takes from the world outside its flags.
type Env struct {
	IO *IOStreams
	// Now is the client clock, used only where the code reasons about time
	// on the client; expiry itself is always decided by the database clock.
	Now func() time.Time
	// Hostname names the machine the CLI runs on, for audit records.
	Hostname func() (string, error)
	// RunF, when set, is given each command's parsed options instead of the
	// command running them: the seam between parsing and running, as
	// cli/cli's runF, so that tests of flag parsing need no database.
	RunF func(opts any) error
}

// SystemEnv returns the Env of the running process.
func SystemEnv() *Env {
	width := 0
	for _, f := range []*os.File{os.Stdout, os.Stderr, os.Stdin} {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			width = w
			break
		}
	}
	return &Env{
		IO: &IOStreams{
			In:            os.Stdin,
			Out:           os.Stdout,
			Err:           os.Stderr,
			InIsTerminal:  term.IsTerminal(int(os.Stdin.Fd())),
			OutIsTerminal: term.IsTerminal(int(os.Stdout.Fd())),
			ErrIsTerminal: term.IsTerminal(int(os.Stderr.Fd())),
			Width:         width,
		},
		Now:      time.Now,
		Hostname: os.Hostname,
	}
}
