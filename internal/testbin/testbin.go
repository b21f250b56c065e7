// Package testbin builds the auth-session binary once for a package of
// end-to-end tests, which then run it as a user would.
package testbin

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/auth-session/auth-session/internal/pgtest"
)

// BuildTags are the Makefile's BUILD_TAGS, which make build, make deb and
// make vet build with.
const BuildTags = "urfave_cli_no_docs"

// Main is a TestMain: it builds cmd/auth-session into a temporary directory,
// stores its path in *bin, runs the tests with a database (pgtest.Run),
// removes the directory and exits with the tests' code. name labels the
// failure messages.
func Main(m *testing.M, name string, bin *string) {
	waitingParallelism()
	dir, err := os.MkdirTemp("", "auth-session-"+name+"-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: FAIL: %v\n", name, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "auth-session")
	// Built as make deb builds the package's binary (static, -trimpath),
	// and as make vet compiles: with an empty build cache the three share
	// one compilation of every package (see the Makefile's vet target).
	build := exec.Command("go", "build", "-buildvcs=auto", "-trimpath", "-tags", BuildTags, "-o", *bin, "github.com/auth-session/auth-session/cmd/auth-session")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		fmt.Fprintf(os.Stderr, "%s: FAIL: build auth-session: %v\n%s", name, err, out)
		os.Exit(1)
	}
	code := pgtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// endToEndParallelism is how many parallel tests of an end-to-end package
// run at once, unless -parallel says otherwise. go test's default is
// GOMAXPROCS (2 here), but these tests spend most of their time waiting on
// the programs they start (servers promoting, processes exiting), so twice
// that keeps the cores busy without crowding them.
const endToEndParallelism = 4

// waitingParallelism raises -parallel to endToEndParallelism when the
// command line did not set it.
func waitingParallelism() {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && runtime.GOMAXPROCS(0) < endToEndParallelism {
		flag.Set("test.parallel", strconv.Itoa(endToEndParallelism)) //nolint:errcheck // the flag exists in every test binary
	}
}
