package cli

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/urfave/cli/v2"
)

// defaultPager shows long output a screen at a time as psql's does, long
// lines cut rather than wrapped (-S), and leaves short output on the
// screen as it is (-F quits at once when it fits, -X keeps the screen).
const defaultPager = "less -SFRX"

func noPagerFlag() cli.Flag {
	return &cli.BoolFlag{Name: "no-pager", Category: categoryOutput,
		Usage: "on a terminal, print without a pager (default pager: $AUTH_SESSION_PAGER, else $PAGER, else " + defaultPager + "; set either to an empty string for none)"}
}

// pagerCommand is the pager to show output on a terminal through: the
// environment's choice, "" for none.
func pagerCommand() string {
	for _, name := range []string{"AUTH_SESSION_PAGER", "PAGER"} {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
	}
	if _, err := exec.LookPath("less"); err != nil {
		return ""
	}
	return defaultPager
}

// withPager returns env with its standard output through a pager, when it
// is a terminal and a pager is wanted, and the function that ends it: it
// waits until the pager is quit. The pager starts with the first byte
// written, so an error before any output is not paged.
func withPager(env *Env, noPager bool) (*Env, func()) {
	term, ok := env.IO.Out.(*os.File)
	command := pagerCommand()
	if noPager || !ok || !env.IO.OutIsTerminal || command == "" {
		return env, func() {}
	}
	p := &pager{command: command, term: term, errOut: env.IO.Err}
	io := *env.IO
	io.Out = p
	paged := *env
	paged.IO = &io
	return &paged, p.close
}

// pager is a writer into a pager's standard input, started on first write.
type pager struct {
	command string
	term    *os.File
	errOut  io.Writer
	cmd     *exec.Cmd
	in      io.WriteCloser
	// direct: the pager could not start, write to the terminal; gone: it
	// was quit, the rest of the output is dropped.
	direct, gone bool
}

func (p *pager) Write(b []byte) (int, error) {
	if p.cmd == nil && !p.direct {
		p.start()
	}
	switch {
	case p.direct:
		return p.term.Write(b)
	case p.gone:
		return len(b), nil
	}
	n, err := p.in.Write(b)
	if errors.Is(err, syscall.EPIPE) {
		// Quit before the end (q in less): not an error of the command.
		p.gone = true
		return len(b), nil
	}
	return n, err
}

func (p *pager) start() {
	cmd := exec.Command("sh", "-c", p.command)
	cmd.Stdout, cmd.Stderr = p.term, p.errOut
	in, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		p.direct = true
		return
	}
	p.cmd, p.in = cmd, in
}

// close ends the pager's input and waits until it is quit.
func (p *pager) close() {
	if p.cmd == nil {
		return
	}
	p.in.Close()
	_ = p.cmd.Wait() // its exit status is the reader's business
}
