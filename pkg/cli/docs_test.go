package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCommandDocsAreCurrent regenerates the command reference in memory and
// fails when docs/commands differs, so the pages cannot drift from the help.
func TestCommandDocsAreCurrent(t *testing.T) {
	t.Parallel()
	pages, err := CommandDocs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", CommandDocsDir)
	committed, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, path := range committed {
		names = append(names, filepath.Base(path))
	}
	for name, want := range pages {
		if !slices.Contains(names, name) {
			t.Errorf("%s/%s is missing: run make docs", CommandDocsDir, name)
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if line, committed, generated, differ := firstDifference(string(got), string(want)); differ {
			t.Errorf("%s/%s:%d differs from the command's help: run make docs\ncommitted: %s\ngenerated: %s", CommandDocsDir, name, line, committed, generated)
		}
	}
	for _, name := range names {
		if _, ok := pages[name]; !ok {
			t.Errorf("%s/%s documents no command: run make docs", CommandDocsDir, name)
		}
	}
}

// firstDifference returns the first line, counted from 1, where a and b
// differ, and that line of each.
func firstDifference(a, b string) (line int, lineA, lineB string, differ bool) {
	if a == b {
		return 0, "", "", false
	}
	as, bs := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; ; i++ {
		switch {
		case i >= len(as):
			return i + 1, "(end of file)", bs[i], true
		case i >= len(bs):
			return i + 1, as[i], "(end of file)", true
		case as[i] != bs[i]:
			return i + 1, as[i], bs[i], true
		}
	}
}
