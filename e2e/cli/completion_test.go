package clie2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// completionFlag is what the completion scripts append to the words before
// the cursor to ask the binary what may come next.
const completionFlag = "--generate-bash-completion"

// completionShapes are the words before the cursor that a user may have
// typed when pressing Tab, for each command: after "--", after a lone "-",
// after a flag that expects a value, after a username, after a file.
func completionShapes(command, victim, usersFile string) [][]string {
	shapes := [][]string{
		{},
		{"--"},
		{"-"},
		{victim},
		{victim, "--"},
		{victim, "-"},
		{"--", victim},
		{victim, "--yes"},
		{victim, "--yes", "--"},
		{"--all", "--yes", "--"},
		{"--all", "--yes", "-"},
		{"--yes", "--user", victim, "--"},
		{"--users-from", usersFile},
		{"--users-from", usersFile, "--"},
		{"--users-from", usersFile, "--yes", "-"},
		{"--users-from"},
		{"--format"},
		{"--format", "tsv", "--"},
		{"--reason"},
		{"--reason", "tab", "--", victim},
		{"--user"},
		{"--older-than", "0s", "--yes", "--"},
		{"--insecure", "--http-addr", "127.0.0.1:0", "--"},
		{"--run-story", "--"},
		{"bash", "--"},
		{completionFlag, "--"},
	}
	var lines [][]string
	for _, s := range shapes {
		lines = append(lines, append(append([]string{command}, s...), completionFlag))
	}
	return lines
}

// TestTabNeverRuns: no command line the completion scripts can produce runs
// a command. Every command, with the words before the cursor in every shape
// that once made urfave/cli take the completion request for a plain
// argument (after "--" it logged the victim out), answers with exit 0 and
// never opens a connection: its URL leads to a listener that counts them
// (a connection refused or closed at once would still be counted), so
// nothing can have been read or written either.
func TestTabNeverRuns(t *testing.T) {
	t.Parallel()
	usersFile := filepath.Join(t.TempDir(), "victims.txt")
	const victim = "tabvictim"
	if err := os.WriteFile(usersFile, []byte(victim+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, command := range strings.Fields("init login logout list serve demo revoke events purge completion man") {
		t.Run(command, func(t *testing.T) {
			t.Parallel()
			trap := connectionTrap(t)
			for _, args := range completionShapes(command, victim, usersFile) {
				r := runBriefly(t, []string{"AUTH_SESSION_URL=" + trap.url}, args...)
				if r.code != 0 || strings.Contains(r.stdout, "session=") || strings.Contains(r.stderr, "ERROR") {
					t.Errorf("auth-session %s: want exit 0 and only completions: %s", strings.Join(args, " "), r)
				}
				if n := trap.connects.Load(); n != 0 {
					t.Fatalf("auth-session %s connected to the database (%d connections)", strings.Join(args, " "), n)
				}
			}
		})
	}
}

// trap is a listener that counts connections, standing in for the
// database: completion must not even connect.
type trap struct {
	url      string
	connects atomic.Int32
}

// connectionTrap starts a trap that stops with the test.
func connectionTrap(t *testing.T) *trap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tr := &trap{url: "postgres://tab@" + ln.Addr().String() + "/tab?sslmode=disable&connect_timeout=2"}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.connects.Add(1)
			c.Close()
		}
	}()
	return tr
}

// runBriefly runs the binary with args; a completion answers at once, so a
// run that lasts (serve, demo) is killed after 20 seconds and reported as
// exit -1.
func runBriefly(t *testing.T, env []string, args ...string) result {
	t.Helper()
	var stdout, stderr strings.Builder
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }) //nolint:errcheck
	defer stop()
	err := cmd.Wait()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		r.code = -1
		r.stderr += "\n(killed after 20 seconds)"
	} else if exitErr, ok := err.(*exec.ExitError); ok {
		r.code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("run auth-session %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// bashComplete runs the bash completion function on words (the last is the
// word under the cursor) in a real bash that sourced
// "auth-session completion bash", with the binary on PATH, and returns the
// candidates it offered, after a line "[compopt ...]" if the script turned
// bash's fallback to file names off.
func bashComplete(t *testing.T, dbURL string, words ...string) string {
	t.Helper()
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	// Outside an interactive completion compopt has nothing to change: say
	// what the script asked of it instead.
	script := fmt.Sprintf(`source <(auth-session completion bash) || exit 3
compopt() { echo "[compopt $*]"; }
COMP_WORDS=(%s); COMP_CWORD=%d
COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
_auth_session_complete auth-session
printf '%%s\n' "${COMPREPLY[@]}"`, strings.Join(quoted, " "), len(words)-1)
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script)
	cmd.Env = append(cleanEnv(), "AUTH_SESSION_URL="+dbURL,
		"PATH="+filepath.Dir(binPath)+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash completion of %q: %v\n%s", words, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestTabInBash: a real bash with the completion script loaded, pressing
// Tab in the positions that once ran the command, changes nothing.
func TestTabInBash(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	victim := newRole(t, dbURL, "tabvictim", "LOGIN")
	mintSessions(t, dbURL, []string{victim}, 2)
	usersFile := filepath.Join(t.TempDir(), "victims.txt")
	if err := os.WriteFile(usersFile, []byte(victim+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := tableChecksum(t, dbURL)
	// The commands run side by side; the tables are compared once all have
	// answered.
	t.Run("commands", func(t *testing.T) {
		for _, command := range strings.Fields("init login logout list revoke events purge") {
			t.Run(command, func(t *testing.T) {
				t.Parallel()
				for _, words := range [][]string{
					{victim, "--"},
					{victim, "-"},
					{victim, "--yes", "--"},
					{"--", victim, ""},
					{"--users-from", usersFile, "--"},
					{"--users-from", usersFile, "--yes", ""},
					{"--all", "--yes", "--"},
					{"--format", ""},
					{"--older-than", "0s", "--yes", "--"},
					{"--", ""},
					{"-"},
					{"--"},
					{""},
				} {
					bashComplete(t, dbURL, append([]string{"auth-session", command}, words...)...)
				}
			})
		}
	})
	if tableChecksum(t, dbURL) != before {
		t.Fatal("pressing Tab after the commands changed the tables")
	}
}

// TestTabCompletesInBash: in a real bash, Tab offers the flags after "--",
// the values of the flags that take one of a fixed set (and never file
// names for those, even when no value matches), and leaves file flags to
// bash's file names.
func TestTabCompletesInBash(t *testing.T) {
	t.Parallel()
	noFiles := "[compopt +o default +o bashdefault]\n"
	for _, tt := range []struct {
		words []string
		want  string
	}{
		{[]string{"logout", "tabvictim", "--use"}, noFiles + "--users-from"}, // --user is refused there: see notSQLUserFlag
		{[]string{"list", "--format", "ts"}, noFiles + "tsv"},
		{[]string{"list", "--format", "x"}, noFiles},
		{[]string{"revoke", "--state", "ex"}, noFiles + "expired"},
		{[]string{"list", "--order", "l"}, noFiles + "last-used"},
		{[]string{"list", "--via", "h"}, noFiles + "http"},
		{[]string{"completion", "z"}, noFiles + "zsh"},
		{[]string{"logout", "--users-from", "vic"}, ""},
	} {
		got := bashComplete(t, "postgres://nowhere.invalid/db", append([]string{"auth-session"}, tt.words...)...)
		if want := strings.TrimSpace(tt.want); got != want {
			t.Errorf("Tab after %q:\n got %q\nwant %q", tt.words, got, want)
		}
	}
	// fish's script is static: it never runs the program (no -a '(command)'
	// candidates), so a Tab in fish cannot run a command either.
	fish := runBriefly(t, nil, "completion", "fish")
	if fish.code != 0 || strings.Contains(fish.stdout, completionFlag) || strings.Contains(fish.stdout, "-a '(") {
		t.Errorf("completion fish: want a script that never runs auth-session: %s", fish)
	}
}
