package clie2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoginCookieJarThatCannotBeWritten: a --cookie-jar that cannot be
// written leaves no session behind, whose cookie nobody would have. A
// directory is refused before anything is written; a file that cannot be
// replaced (immutable, as root cannot replace it either) rolls the session
// back.
func TestLoginCookieJarThatCannotBeWritten(t *testing.T) {
	t.Parallel()
	dbURL := newDB(t)
	user := newRole(t, dbURL, "web_user", "LOGIN")
	dir := t.TempDir()
	before := tableSnapshot(t, dbURL)

	r := run(t, dbURL, "login", user, "--cookie-jar", dir)
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, `invalid --cookie-jar "`+dir+`"`) ||
		!strings.Contains(r.stderr, "directory") {
		t.Errorf("login --cookie-jar DIR: %s\nwant exit 2 naming the directory", r)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("files left in %s: %v", dir, entries)
	}

	t.Run("immutable jar", func(t *testing.T) {
		jar := filepath.Join(dir, "jar.txt")
		if err := os.WriteFile(jar, []byte("old\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("chattr", "+i", jar).CombinedOutput(); err != nil {
			t.Skipf("chattr +i (needs root and a file system with attributes): %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", jar).Run() })
		r := run(t, dbURL, "login", user, "--cookie-jar", jar)
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, `write cookie jar "`+jar+`"`) {
			t.Errorf("login --cookie-jar IMMUTABLE: %s\nwant exit 1 naming the jar", r)
		}
		if body, _ := os.ReadFile(jar); string(body) != "old\n" {
			t.Errorf("jar = %q, want it unchanged", body)
		}
		if leftovers, _ := filepath.Glob(filepath.Join(dir, ".cookie-jar-*")); len(leftovers) > 0 {
			t.Errorf("temporary files left behind: %v", leftovers)
		}
	})
	if after := tableSnapshot(t, dbURL); after != before {
		t.Errorf("the tables changed:\n%s\n---\n%s", before, after)
	}
}
