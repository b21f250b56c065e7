package e2e

import (
	"github.com/auth-session/auth-session/internal/syncbuf"

	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// TestHelpExamples runs every example that a command's help ends with, as
// printed, against a database of its own where web_user exists.
func TestHelpExamples(t *testing.T) {
	t.Parallel()
	dbURL := ownCluster(t)
	if r := run(t, "init", "--url", dbURL); r.code != 0 {
		t.Fatalf("init: %s", r)
	}
	pgtest.MustExec(t, dbURL, "CREATE ROLE web_user LOGIN")

	commands := strings.Fields("init login logout list show lookup revoke lock locks unlock throttle events purge serve demo completion man version")
	for _, name := range commands {
		help := run(t, name, "--help")
		_, examples, ok := strings.Cut(help.stdout, "\nEXAMPLES:\n")
		if help.code != 0 || !ok {
			t.Errorf("%s --help has no EXAMPLES section:\n%s", name, help)
			continue
		}
		ran := 0
		for _, line := range strings.Split(examples, "\n") {
			command, ok := strings.CutPrefix(strings.TrimSpace(line), "$ ")
			if !ok {
				continue
			}
			ran++
			runExample(t, command, dbURL)
		}
		if ran == 0 {
			t.Errorf("%s --help: EXAMPLES has no command", name)
		}
	}
}

// runExample runs one example with sh in a directory and home of its own.
// serve's run until stopped: they must start serving; events --follow's
// too: they must print the events of their --since (the examples before
// made some), and end with exit 0 at SIGTERM.
func runExample(t *testing.T, command, dbURL string) {
	t.Helper()
	dir := t.TempDir()
	script := command
	if strings.Contains(command, " --follow") {
		// The exit status checked is the command's, not that of sh
		// killed by the same signal.
		script = "exec " + command
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(commandEnv(), "AUTH_SESSION_URL="+dbURL, "STANDBY_URL="+dbURL, "HOME="+dir)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that a signal reaches what sh started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ready := "" // what a command that runs until stopped prints once it is up
	switch {
	case strings.Contains(command, " serve "):
		ready = "serving HTTP"
	case strings.Contains(command, " --follow"):
		ready = "\n"
	}
	if ready != "" {
		deadline := time.After(20 * time.Second)
		for !strings.Contains(out.String(), ready) {
			select {
			case err := <-done:
				t.Errorf("example %q exited before it was up (%v):\n%s", command, err, out.String())
				return
			case <-deadline:
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
				t.Errorf("example %q was not up within 20s (no %q):\n%s", command, ready, out.String())
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) //nolint:errcheck
		select {
		case err := <-done:
			if err != nil && strings.Contains(command, " --follow") {
				t.Errorf("example %q ended at SIGTERM with %v, want exit 0:\n%s", command, err, out.String())
			}
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
			t.Errorf("example %q did not stop within 20s of SIGTERM", command)
		}
		return
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("example %q: %v\n%s", command, err, out.String())
		}
	case <-time.After(2 * time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
		t.Errorf("example %q did not finish in 2 minutes:\n%s", command, out.String())
	}
}

// TestCompletion: the scripts complete commands and flags through
// urfave/cli's protocol, in a real bash, and the man page renders.
func TestCompletion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := run(t, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "auth-session") {
			t.Errorf("completion %s: %s", shell, r)
		}
		if err := os.WriteFile(filepath.Join(dir, "auth-session."+shell), []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	complete := func(words ...string) string {
		script := fmt.Sprintf(`. ./auth-session.bash; COMP_WORDS=(%s); COMP_CWORD=%d; _auth_session_complete; echo "${COMPREPLY[*]}"`,
			strings.Join(words, " "), len(words)-1)
		r := runIn(t, dir, exec.Command("bash", "-c", script))
		if r.code != 0 {
			t.Fatalf("bash completion of %v: %s", words, r)
		}
		return strings.TrimSpace(r.stdout)
	}
	if got := complete("auth-session", "log"); got != "login logout" {
		t.Errorf("completing 'auth-session log': %q; want \"login logout\"", got)
	}
	if got := complete("auth-session", "login", "--only"); got != "--only-cookie --only-value" {
		t.Errorf("completing 'auth-session login --only': %q; want \"--only-cookie --only-value\"", got)
	}
	if r := run(t, "completion", "tcsh"); r.code != 2 || !strings.Contains(r.stderr, `"tcsh"`) || !strings.Contains(r.stderr, "bash, zsh, fish") {
		t.Errorf("completion tcsh: want exit 2 naming it and the shells: %s", r)
	}
	r := run(t, "man")
	if r.code != 0 || !strings.HasPrefix(r.stdout, ".TH AUTH-SESSION 1 ") || !strings.Contains(r.stdout, "logout") {
		t.Errorf("man: want a man page of section 1 (.TH AUTH-SESSION 1) naming the commands:\n%.400s", r.stdout)
	}
	if err := os.WriteFile(filepath.Join(dir, "auth-session.1"), []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	// groff's warnings (-ww) are the page's mistakes: a bad request, an
	// escape it does not know.
	if g := runIn(t, dir, exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", "auth-session.1")); g.code != 0 || g.stderr != "" {
		t.Errorf("groff -man -ww: %s", g)
	}
}
