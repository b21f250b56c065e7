package format

import (
	"bufio"
	"strings"
	"unicode/utf8"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// tableRenderer writes the aligned table cockroach prints on a terminal,
// with go-pretty's table writer:
//
//	  username |     session ID     |          created
//	-----------+--------------------+----------------------------
//	  web_user | 784445853689282561 | 2022-08-02 16:47:36.342338
//	  root     | 1                  | NULL
//	(2 rows)
//
// Headers are centred (the odd space on the right, as psql), values
// left-aligned, and the last column is not padded. Rows are rendered a page
// at a time (see gopretty.go): the columns are as wide as the header and the
// first page need, and a later page with a wider value widens them from that
// page on.
type tableRenderer struct {
	bw      *bufio.Writer
	t       table.Writer
	headers []string
	// widths are the columns' widths so far, for centring the headers
	// (go-pretty puts a centred text's odd space on the left) and for the
	// pages after the first.
	widths []int
	// page holds the rows not rendered yet.
	page []table.Row
	// started is set once the header and the first page are written.
	started bool
	scratch []byte
}

// cockroachStyle is go-pretty's table style for cockroach's look: no outer
// border, " | " between columns, a "---+---" rule under the header.
var cockroachStyle = table.Style{
	Name: "cockroach",
	Box: table.BoxStyle{
		MiddleHorizontal: "-", MiddleSeparator: "+", MiddleVertical: "|",
		PaddingLeft: " ", PaddingRight: " ",
	},
	Format:  table.FormatOptions{Header: text.FormatDefault, HeaderAlign: text.AlignLeft, Row: text.FormatDefault},
	Options: table.Options{SeparateColumns: true, SeparateHeader: true},
}

// tabWidth is the distance between tab stops when a tab in a value is
// expanded, as a terminal would place them.
const tabWidth = 8

// cellText makes s safe for a table cell: line breaks are shown escaped so a
// row stays on one line, and tabs are expanded to spaces because a terminal
// would otherwise move them to a stop the widths know nothing of.
func cellText(s string) string {
	if !strings.ContainsAny(s, "\n\r\t") {
		return s
	}
	var b strings.Builder
	width := 0
	for _, r := range s {
		switch r {
		case '\n':
			b.WriteString(`\n`)
			width += 2
		case '\r':
			b.WriteString(`\r`)
			width += 2
		case '\t':
			n := tabWidth - width%tabWidth
			b.WriteString(strings.Repeat(" ", n))
			width += n
		default:
			b.WriteRune(r)
			width += text.RuneWidth(r)
		}
	}
	return b.String()
}

func newTableRenderer(bw *bufio.Writer, cols []Column) *tableRenderer {
	t := table.NewWriter()
	t.SetStyle(cockroachStyle)
	t.SuppressTrailingSpaces()
	r := &tableRenderer{bw: bw, t: t, widths: make([]int, len(cols))}
	for i, c := range cols {
		h := cellText(c.Header)
		r.headers = append(r.headers, h)
		r.widths[i] = displayWidth(h)
	}
	return r
}

func (t *tableRenderer) row(_ int, values []any) {
	if len(values) == 0 {
		// No columns: there is nothing to show but the count.
		return
	}
	cells := make(table.Row, len(values))
	for i, v := range values {
		s, ok := v.(string)
		if !ok {
			t.scratch = appendText(t.scratch[:0], v)
			s = string(t.scratch)
		}
		s = cellText(s)
		cells[i] = s
		t.widths[i] = max(t.widths[i], displayWidth(s))
	}
	t.page = append(t.page, cells)
	if len(t.page) == pageRows {
		t.renderPage()
	}
}

// renderPage writes the rows of the page, after the header if it is the
// first, and empties the page.
func (t *tableRenderer) renderPage() {
	t.t.ResetRows()
	t.t.AppendRows(t.page)
	if t.started {
		// The columns stay at least as wide as on the pages above.
		configs := make([]table.ColumnConfig, len(t.widths))
		for i, w := range t.widths {
			configs[i] = table.ColumnConfig{Number: i + 1, WidthMin: w}
		}
		t.t.SetColumnConfigs(configs)
	} else {
		header := make(table.Row, len(t.headers))
		for i, h := range t.headers {
			// Centred as psql centres: the odd space on the right.
			header[i] = strings.Repeat(" ", (t.widths[i]-displayWidth(h))/2) + h
		}
		t.t.AppendHeader(header)
	}
	writeTableLines(t.bw, t.t.Render(), !t.started)
	t.t.ResetHeaders()
	clear(t.page)
	t.page = t.page[:0]
	t.started = true
}

func (t *tableRenderer) flushPage() {
	if len(t.page) > 0 {
		t.renderPage()
	}
}

func (t *tableRenderer) end(rows int) {
	if len(t.headers) > 0 && (!t.started || len(t.page) > 0) {
		t.renderPage()
	}
	t.bw.WriteString("(" + plural(rows, "row") + ")\n")
}

// displayWidth is the number of terminal columns s takes. ASCII, the usual
// content, is counted directly: go-pretty's grapheme-aware count costs a
// microsecond or more per cell.
func displayWidth(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return text.StringWidth(s)
		}
	}
	return len(s)
}
