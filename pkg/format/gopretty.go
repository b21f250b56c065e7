package format

import (
	"bufio"
	"strings"
)

// go-pretty lays out a whole table at once, from every row it was given.
// The table and html formats therefore give it one page of rows at a time,
// so that their memory does not grow with the result: the first page with
// the header, each later page on its own, and the footer last. This file
// holds what that takes.

// pageRows is how many rows the table and html formats keep before they
// render them. The table's columns are as wide as the header and the first
// page's values; a later page with a wider value widens them from there on.
const pageRows = 1000

// writeTableLines writes a table go-pretty rendered, each line with one more
// space up front, and the rule under the header (line 1, when there is a
// header) with one more dash: cockroach's table has no left border, but
// go-pretty's first column starts at its padding.
func writeTableLines(bw *bufio.Writer, rendered string, header bool) {
	for i, line := range strings.Split(rendered, "\n") {
		if header && i == 1 {
			bw.WriteByte('-')
		} else {
			bw.WriteByte(' ')
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
}

// The lines around a table body that go-pretty's RenderHTML writes. Values
// and headers are escaped before go-pretty sees them (appendHTML), so these
// cannot occur inside a cell.
const (
	htmlBodyOpen  = "  <tbody>\n"
	htmlBodyClose = "  </tbody>\n"
	htmlFootOpen  = "  <tfoot>\n"
)

// htmlUpToBodyEnd is a table go-pretty rendered as HTML, with rows, up to
// the end of its last row: the table is left open for the next page.
func htmlUpToBodyEnd(rendered string) string {
	head, _, _ := strings.Cut(rendered, htmlBodyClose)
	return head
}

// htmlBodyRows is the rows of a table go-pretty rendered as HTML.
func htmlBodyRows(rendered string) string {
	_, rows, _ := strings.Cut(rendered, htmlBodyOpen)
	rows, _, _ = strings.Cut(rows, htmlBodyClose)
	return rows
}

// htmlFromFooter is a table go-pretty rendered as HTML without rows, from
// its footer on: what closes a table whose rows were written page by page.
func htmlFromFooter(rendered string) string {
	i := strings.Index(rendered, htmlFootOpen)
	if i < 0 {
		return ""
	}
	return rendered[i:]
}
