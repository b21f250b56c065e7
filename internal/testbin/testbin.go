// Package testbin builds the auth-session binary once for a package of
// end-to-end tests, which then run it as a user would.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// Main is a TestMain: it builds cmd/auth-session into a temporary directory,
// stores its path in *bin, runs the tests with a database (pgtest.Run),
// removes the directory and exits with the tests' code. name labels the
// failure messages.
func Main(m *testing.M, name string, bin *string) {
	dir, err := os.MkdirTemp("", "auth-session-"+name+"-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: FAIL: %v\n", name, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "auth-session")
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", *bin, "github.com/auth-session/auth-session/cmd/auth-session")
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintf(os.Stderr, "%s: FAIL: build auth-session: %v\n%s", name, err, out)
		os.Exit(1)
	}
	code := pgtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}
