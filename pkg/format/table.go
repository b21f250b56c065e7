package format

import (
	"bufio"
	"strings"
	"unicode/utf8"

	"github.com/jedib0t/go-pretty/v6/text"
)

// tableRenderer writes the aligned table cockroach prints on a terminal:
//
//	  username |     session ID     |          created
//	-----------+--------------------+----------------------------
//	  web_user | 784445853689282561 | 2022-08-02 16:47:36.342338
//	  root     | 1                  | NULL
//	(2 rows)
//
// Headers are centred, values left-aligned, and the last column is not
// padded, as in psql. Column widths depend on every value, so unlike the
// other formats it keeps all rows until Close.
type tableRenderer struct {
	bw      *bufio.Writer
	headers []string
	widths  []int
	rows    [][]string
	scratch []byte
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
	t := &tableRenderer{bw: bw, widths: make([]int, len(cols))}
	for i, c := range cols {
		h := cellText(c.Header)
		t.headers = append(t.headers, h)
		t.widths[i] = displayWidth(h)
	}
	return t
}

func (t *tableRenderer) row(_ int, values []any) {
	cells := make([]string, len(values))
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
	t.rows = append(t.rows, cells)
}

func (t *tableRenderer) end(rows int) {
	if len(t.headers) > 0 {
		t.writeLine(t.headers, true)
		// The rule has one more dash up front because every line has one
		// more space up front: cockroach's table has no left border.
		t.bw.WriteByte('-')
		for i, w := range t.widths {
			if i > 0 {
				t.bw.WriteByte('+')
			}
			t.pad('-', w+2)
		}
		t.bw.WriteByte('\n')
		for _, r := range t.rows {
			t.writeLine(r, false)
		}
	}
	t.bw.WriteString("(" + plural(rows, "row") + ")\n")
	t.rows = nil
}

// writeLine writes one header or data line.
func (t *tableRenderer) writeLine(cells []string, centre bool) {
	t.bw.WriteByte(' ')
	last := len(cells) - 1
	for i, c := range cells {
		if i > 0 {
			t.bw.WriteByte('|')
		}
		if i == last && c == "" {
			// Nothing follows, so not even the separating space.
			break
		}
		t.bw.WriteByte(' ')
		gap := t.widths[i] - displayWidth(c)
		left := 0
		if centre {
			// psql puts the odd space on the right.
			left = gap / 2
		}
		t.pad(' ', left)
		t.bw.WriteString(c)
		if i < last {
			t.pad(' ', gap-left+1)
		}
	}
	t.bw.WriteByte('\n')
}

func (t *tableRenderer) pad(c byte, n int) {
	for range n {
		t.bw.WriteByte(c)
	}
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
