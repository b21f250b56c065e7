package cli

import (
	"context"
	"os"
	"path/filepath"
	"slices"
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
		if string(got) != string(want) {
			t.Errorf("%s/%s differs from the command's help: run make docs\n--- committed\n%s\n--- generated\n%s", CommandDocsDir, name, got, want)
		}
	}
	for _, name := range names {
		if _, ok := pages[name]; !ok {
			t.Errorf("%s/%s documents no command: run make docs", CommandDocsDir, name)
		}
	}
}
