package format

import (
	"bufio"
	"strconv"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// htmlRenderer writes cockroach's html format, a table whose first column
// numbers the rows and whose footer counts them, with go-pretty's HTML
// writer. The values are escaped here (appendHTML), not by go-pretty, which
// would turn a tab into four spaces. Like the table format it renders a
// page of rows at a time (see gopretty.go), into one table.
type htmlRenderer struct {
	bw    *bufio.Writer
	t     table.Writer
	ncols int
	// page holds the rows not rendered yet.
	page []table.Row
	// started is set once the table is open and its first page written.
	started bool
	scratch []byte
}

// htmlStyle names the table's class and leaves out go-pretty's ANSI colour
// conversion and escaping, and its &nbsp; for an empty value.
var htmlStyle = table.HTMLOptions{CSSClass: "auth-session"}

func newHTMLRenderer(bw *bufio.Writer, cols []Column) *htmlRenderer {
	t := table.NewWriter()
	t.Style().HTML = htmlStyle
	header := table.Row{"row"}
	for _, c := range cols {
		header = append(header, string(appendHTML(nil, []byte(c.Key))))
	}
	t.AppendHeader(header)
	// Headers to the left, as the cells: go-pretty right-aligns the
	// headers of a table without rows, taking its columns for numbers.
	configs := make([]table.ColumnConfig, len(header))
	for i := range configs {
		configs[i] = table.ColumnConfig{Number: i + 1, AlignHeader: text.AlignLeft}
	}
	t.SetColumnConfigs(configs)
	return &htmlRenderer{bw: bw, t: t, ncols: len(cols)}
}

func (r *htmlRenderer) row(n int, values []any) {
	row := make(table.Row, 0, len(values)+1)
	// As text: go-pretty right-aligns numbers, with an align attribute.
	row = append(row, strconv.Itoa(n))
	for _, v := range values {
		r.scratch = appendText(r.scratch[:0], v)
		row = append(row, string(appendHTML(nil, r.scratch)))
	}
	r.page = append(r.page, row)
	if len(r.page) == pageRows {
		r.renderPage()
	}
}

// renderPage writes the rows of the page, after the table's head if it is
// the first, and empties the page.
func (r *htmlRenderer) renderPage() {
	r.t.ResetRows()
	r.t.AppendRows(r.page)
	if r.started {
		r.bw.WriteString(htmlBodyRows(r.t.RenderHTML()))
	} else {
		r.bw.WriteString(htmlUpToBodyEnd(r.t.RenderHTML()))
	}
	r.t.ResetRows()
	clear(r.page)
	r.page = r.page[:0]
	r.started = true
}

func (r *htmlRenderer) flushPage() {
	if len(r.page) > 0 {
		r.renderPage()
	}
}

func (r *htmlRenderer) end(rows int) {
	if r.started && len(r.page) > 0 {
		r.renderPage()
	}
	r.t.ResetRows()
	r.t.AppendRows(r.page)
	// One footer cell across every column: go-pretty merges equal cells.
	footer := make(table.Row, r.ncols+1)
	for i := range footer {
		footer[i] = plural(rows, "row")
	}
	r.t.AppendFooter(footer, table.RowConfig{AutoMerge: true})
	rendered := r.t.RenderHTML()
	if r.started {
		// The rows are out: close their body, then the footer.
		r.bw.WriteString(htmlBodyClose)
		rendered = htmlFromFooter(rendered)
	}
	r.bw.WriteString(rendered)
	r.bw.WriteByte('\n')
}

// appendHTML appends s escaped as html.EscapeString does, with line breaks
// turned into <br/> as cockroach does so multi-line values stay readable,
// and tabs and carriage returns written as &#9; and &#13;, which go-pretty
// leaves alone.
func appendHTML(dst, s []byte) []byte {
	for _, c := range s {
		switch c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '\'':
			dst = append(dst, "&#39;"...)
		case '"':
			dst = append(dst, "&#34;"...)
		case '\n':
			dst = append(dst, "<br/>"...)
		case '\t':
			dst = append(dst, "&#9;"...)
		case '\r':
			// go-pretty would return to the start of the cell, as a
			// terminal does, and overwrite what came before.
			dst = append(dst, "&#13;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
