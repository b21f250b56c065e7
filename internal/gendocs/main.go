// Command gendocs writes the command reference, docs/commands, from the
// commands' own help: 'make docs' runs it from the repository's root.
// pkg/cli's TestCommandDocsAreCurrent fails when the committed pages differ.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/auth-session/auth-session/pkg/cli"
)

func main() {
	if err := run(cli.CommandDocsDir); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

// run replaces the pages in dir with freshly generated ones, removing the
// page of a command that no longer exists.
func run(dir string) error {
	pages, err := cli.CommandDocs(context.Background())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return err
	}
	for _, path := range old {
		if _, ok := pages[filepath.Base(path)]; !ok {
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	for name, page := range pages {
		if err := os.WriteFile(filepath.Join(dir, name), page, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d pages to %s\n", len(pages), dir)
	return nil
}
