package clie2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runOnTerminalOut runs the binary with its standard output and error on a
// pseudo-terminal, as at a shell, and returns what the terminal showed.
func runOnTerminalOut(t *testing.T, env []string, args ...string) (screen string, code int) {
	t.Helper()
	return onTerminal(t, env, nil, "", "", args...)
}

// TestPagerOnATerminal: on a terminal, list and events go through the
// pager ($AUTH_SESSION_PAGER, else $PAGER); --no-pager, an empty pager
// setting or output that is not a terminal print directly.
func TestPagerOnATerminal(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	alice, _, _ := seedSelection(t, dbURL)
	dir := t.TempDir()
	// tee shows what it reads and keeps a copy: the copy says what went
	// through the pager.
	pagerEnv := func(file string) []string {
		return []string{"AUTH_SESSION_URL=" + dbURL, "AUTH_SESSION_PAGER=tee " + filepath.Join(dir, file)}
	}
	paged := func(file string) (string, bool) {
		b, err := os.ReadFile(filepath.Join(dir, file))
		return string(b), err == nil
	}

	for command, want := range map[string]string{"list": alice, "events": "event\tactor"} {
		screen, code := runOnTerminalOut(t, pagerEnv(command), command, "--format", "tsv")
		copied, ok := paged(command)
		if code != 0 || !ok || !strings.Contains(copied, want) || !strings.Contains(screen, want) {
			t.Errorf("%s on a terminal: exit %d, paged %v %q, screen %q; want the rows through the pager", command, code, ok, copied, screen)
		}
	}
	screen, code := runOnTerminalOut(t, pagerEnv("no-pager"), "list", "--format", "tsv", "--no-pager")
	if _, ok := paged("no-pager"); code != 0 || ok || !strings.Contains(screen, alice) {
		t.Errorf("list --no-pager: exit %d, pager ran %v, screen %q; want the rows printed directly", code, ok, screen)
	}
	screen, code = runOnTerminalOut(t, []string{"AUTH_SESSION_URL=" + dbURL, "AUTH_SESSION_PAGER=", "PAGER=tee " + filepath.Join(dir, "empty")}, "list", "--format", "tsv")
	if _, ok := paged("empty"); code != 0 || ok || !strings.Contains(screen, alice) {
		t.Errorf("list with AUTH_SESSION_PAGER empty: exit %d, pager ran %v, screen %q; want no pager", code, ok, screen)
	}
	r := runEnv(t, pagerEnv("pipe"), "list", "--format", "tsv")
	if _, ok := paged("pipe"); r.code != 0 || ok || !strings.Contains(r.stdout, alice) {
		t.Errorf("list into a pipe: %s; pager ran %v, want none", r, ok)
	}
	// A pager quit before the end (head reads one line) is no error.
	screen, code = runOnTerminalOut(t, []string{"AUTH_SESSION_URL=" + dbURL, "AUTH_SESSION_PAGER=head -n 1"}, "list", "--format", "tsv")
	if code != 0 || strings.Contains(screen, "ERROR") {
		t.Errorf("list through a pager quit early: exit %d, screen %q; want exit 0", code, screen)
	}
}
