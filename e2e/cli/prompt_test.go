package clie2e

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runOnTerminal runs the binary with its standard input and error on a
// pseudo-terminal, as an operator at a shell would, and its output on a
// pipe. When the terminal shows question, it types answer. It returns what
// the terminal showed and the standard output.
func runOnTerminal(t *testing.T, dbURL, question, answer string, args ...string) (screen, stdout string, code int) {
	t.Helper()
	return typeOnTerminal(t, dbURL, question, answer+"\n", args...)
}

// typeOnTerminal is runOnTerminal with keys typed as they are: "\x03" is
// Ctrl-C, which the terminal turns into SIGINT, "\x04" Ctrl-D, end of input.
// The binary runs in its own session with the terminal as its controlling
// one, as under a shell.
func typeOnTerminal(t *testing.T, dbURL, question, keys string, args ...string) (screen, stdout string, code int) {
	t.Helper()
	var out bytes.Buffer
	screen, code = onTerminal(t, []string{"AUTH_SESSION_URL=" + dbURL}, &out, question, keys, args...)
	return screen, out.String(), code
}

// onTerminal runs the binary with env added to a clean environment, its
// standard input and error on a pseudo-terminal, and its output on stdout,
// or on the terminal too when stdout is nil. When the terminal shows
// question (if not empty), it types keys. It returns what the terminal
// showed and the exit code.
func onTerminal(t *testing.T, env []string, stdout io.Writer, question, keys string, args ...string) (screen string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin, cmd.Stderr, cmd.Stdout = tty, tty, stdout
	if stdout == nil {
		cmd.Stdout = tty
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var shown strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		answered := question == ""
		for {
			n, err := ptmx.Read(buf)
			shown.Write(buf[:n])
			if !answered && strings.Contains(shown.String(), question) {
				answered = true
				io.WriteString(ptmx, keys) //nolint:errcheck // the wait below fails instead
			}
			if err != nil {
				return
			}
		}
	}()
	err = cmd.Wait()
	// What the program wrote last may still be in the terminal: read it
	// to the end (the read fails once the terminal is drained and closed
	// on the program's side), and close only then.
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	ptmx.Close()
	<-done
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("run on a terminal: %v", err)
	}
	return shown.String(), code
}

// TestPromptsOnATerminal: revoke by selection and logout --all show the
// count and ask on a terminal; no (or anything but yes) changes nothing,
// yes revokes. Without a terminal both need --yes (TestSelectionBadValues).
func TestPromptsOnATerminal(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	seedSelection(t, dbURL)
	before := tableChecksum(t, dbURL)

	question := "Revoke 1 session of 1 user matching --ip 203.0.113.0/24? [y/N] "
	screen, stdout, code := runOnTerminal(t, dbURL, question, "n", "revoke", "--ip", "203.0.113.0/24", "--format", "tsv")
	if code != 1 || !strings.Contains(screen, "revoke cancelled: nothing revoked") || stdout != "" {
		t.Errorf("answering no: exit %d, terminal %q, stdout %q; want exit 1 and nothing changed", code, screen, stdout)
	}
	if tableChecksum(t, dbURL) != before {
		t.Error("answering no changed the tables")
	}

	screen, stdout, code = runOnTerminal(t, dbURL, question, "y", "revoke", "--ip", "203.0.113.0/24", "--format", "tsv")
	if code != 0 || !strings.Contains(screen, "revoked 1 session of 1 user (1 was already revoked)") ||
		strings.Count(stdout, "\n") != 3 {
		t.Errorf("answering yes: exit %d, terminal %q, stdout %q; want the two sessions printed", code, screen, stdout)
	}

	question = "Log out every user, revoking the 5 sessions not revoked yet? [y/N] "
	screen, _, code = runOnTerminal(t, dbURL, question, "", "logout", "--all", "--format", "tsv")
	if code != 1 || !strings.Contains(screen, "logout cancelled: nothing revoked") {
		t.Errorf("logout --all answered with Enter: exit %d, terminal %q; want it cancelled", code, screen)
	}
	screen, _, code = runOnTerminal(t, dbURL, question, "yes", "logout", "--all", "--format", "tsv")
	if code != 0 || !strings.Contains(screen, "revoked 5 sessions of 3 users") {
		t.Errorf("logout --all answered yes: exit %d, terminal %q", code, screen)
	}
}

// TestPromptCancels: at a [y/N] prompt on a terminal, Ctrl-C cancels at
// once (exit 130, one line, nothing changed), end of input means no, and no
// is a plain "nothing revoked" with exit 1, not an ERROR.
func TestPromptCancels(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	seedSelection(t, dbURL)
	before := tableChecksum(t, dbURL)

	question := "Revoke 1 session of 1 user matching --ip 203.0.113.0/24? [y/N] "
	for _, tt := range []struct {
		name, keys string
		wantCode   int
		wantLine   string
	}{
		{"Ctrl-C", "\x03", 130, "revoke interrupted: nothing revoked"},
		{"Ctrl-C then yes", "\x03y\n", 130, "revoke interrupted: nothing revoked"},
		{"end of input", "\x04", 1, "revoke cancelled: nothing revoked"},
		{"no", "n\n", 1, "revoke cancelled: nothing revoked"},
	} {
		screen, stdout, code := typeOnTerminal(t, dbURL, question, tt.keys, "revoke", "--ip", "203.0.113.0/24", "--format", "tsv")
		// The terminal echoes what was typed (^C, n); the message is the
		// last line.
		lines := strings.Split(strings.TrimSpace(screen), "\n")
		last := strings.TrimSpace(lines[len(lines)-1])
		if code != tt.wantCode || stdout != "" || last != tt.wantLine || strings.Contains(screen, "ERROR") {
			t.Errorf("%s: exit %d, terminal %q, stdout %q; want exit %d and the line %q, no ERROR",
				tt.name, code, screen, stdout, tt.wantCode, tt.wantLine)
		}
		if tableChecksum(t, dbURL) != before {
			t.Fatalf("%s at the prompt changed the tables", tt.name)
		}
	}
}
