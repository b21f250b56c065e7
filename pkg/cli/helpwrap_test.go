package cli

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestHelpWrapsToTheTerminal: on a terminal, help lines fit its width,
// flag descriptions continuing under their column; not on a terminal, help
// is left as it is.
func TestHelpWrapsToTheTerminal(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"logout", "--help"}, {"list", "--help"}, {"serve", "--help"}} {
		env, stdout, _ := newEnv(terminals{out: true, err: true})
		env.IO.Width = 80
		if code := Main(t.Context(), append([]string{"auth-session"}, args...), env); code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, line := range strings.Split(stdout.String(), "\n") {
			if n := utf8.RuneCountInString(line); n > 80 {
				t.Errorf("%v on an 80-column terminal: a line of %d columns: %q", args, n, line)
			}
		}
		if args[0] == "logout" {
			lines := strings.Split(stdout.String(), "\n")
			for i, line := range lines {
				if col := strings.Index(line, "log out every user"); col > 0 && i+1 < len(lines) {
					next := lines[i+1]
					if len(next)-len(strings.TrimLeft(next, " ")) != col {
						t.Errorf("logout --help: --all's description does not continue under its column %d:\n%s\n%s", col, line, next)
					}
				}
			}
		}
	}
	r := runCLI(t, "logout", "--help")
	if !strings.Contains(r.stdout, "log out every user, also of logins in flight; asks first on a terminal") {
		t.Errorf("logout --help without a terminal was wrapped:\n%s", r.stdout)
	}
}
