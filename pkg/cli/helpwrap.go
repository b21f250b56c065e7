package cli

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
)

// termWriter is the app's output when it is a terminal of known width:
// help printed to it is wrapped to fit.
type termWriter struct {
	io.Writer
	width int
}

var wrapHelpOnce sync.Once

// wrapHelp makes urfave/cli's help printer wrap help written to a
// termWriter; help written anywhere else is left as it is, for scripts and
// the generated docs.
func wrapHelp() {
	wrapHelpOnce.Do(func() {
		print := cli.HelpPrinter
		cli.HelpPrinter = func(w io.Writer, templ string, data any) {
			tw, ok := w.(termWriter)
			if !ok {
				print(w, templ, data)
				return
			}
			var buf bytes.Buffer
			print(&buf, templ, data)
			io.WriteString(tw.Writer, wrapText(buf.String(), tw.width)) //nolint:errcheck // as urfave/cli's own printer
		}
	})
}

// wrapText wraps each line of text longer than width at spaces. A line's
// continuation starts under its text: under the description of a flag or
// command (after the first gap of two spaces), or under its first word.
func wrapText(text string, width int) string {
	var b strings.Builder
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(wrapLine(line, width))
	}
	return b.String()
}

func wrapLine(line string, width int) string {
	if utf8.RuneCountInString(line) <= width {
		return line
	}
	body := strings.TrimLeft(line, " ")
	head, words := line[:len(line)-len(body)], body
	hang := len(head)
	// A flag's or command's description starts after the first gap of two
	// spaces or more; what comes before it stays as it is, aligned.
	if gap := strings.Index(body, "  "); gap > 0 {
		desc := strings.TrimLeft(body[gap:], " ")
		if col := utf8.RuneCountInString(line[:len(line)-len(desc)]); col <= width/2 {
			head, words, hang = line[:len(line)-len(desc)], desc, col
		}
	}
	var b strings.Builder
	b.WriteString(head)
	col, empty := utf8.RuneCountInString(head), true
	newLine := func() {
		b.WriteString("\n" + strings.Repeat(" ", hang))
		col, empty = hang, true
	}
	for _, word := range strings.Fields(words) {
		r := []rune(word)
		switch {
		case !empty && col+1+len(r) > width:
			newLine()
		case !empty:
			b.WriteByte(' ')
			col++
		}
		// A word longer than a whole line is cut.
		for col+len(r) > width && width > col {
			b.WriteString(string(r[:width-col]))
			r = r[width-col:]
			newLine()
		}
		b.WriteString(string(r))
		col += len(r)
		empty = false
	}
	return b.String()
}
