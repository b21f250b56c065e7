// Package docconfig reads a configuration out of a page of docs/, so that
// a test or a benchmark runs exactly what a reader copies from the page.
package docconfig

import (
	"fmt"
	"os"
	"strings"
)

// Block returns the one code block of the markdown file page fenced as
// ```lang, with each old string of replace (old, new, old, new, ...)
// replaced by its new one. A page without exactly one such block, or a
// block without one of the old strings, is an error: the page and its
// reader have drifted apart.
func Block(page, lang string, replace ...string) (string, error) {
	text, err := os.ReadFile(page)
	if err != nil {
		return "", err
	}
	parts := strings.Split(string(text), "```"+lang+"\n")
	if len(parts) != 2 {
		return "", fmt.Errorf("%s has %d code blocks fenced ```%s; want one", page, len(parts)-1, lang)
	}
	block, _, ok := strings.Cut(parts[1], "```\n")
	if !ok {
		return "", fmt.Errorf("%s: the ```%s block does not end", page, lang)
	}
	if len(replace)%2 != 0 {
		return "", fmt.Errorf("docconfig.Block: %d replacement strings; want pairs", len(replace))
	}
	for i := 0; i < len(replace); i += 2 {
		if !strings.Contains(block, replace[i]) {
			return "", fmt.Errorf("%s: the ```%s block lacks %q", page, lang, replace[i])
		}
		block = strings.ReplaceAll(block, replace[i], replace[i+1])
	}
	return block, nil
}
