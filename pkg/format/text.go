package format

import (
	"bufio"
	"strconv"
	"strings"
)

// recordsRenderer writes psql's expanded display, one line per column:
//
//	-[ RECORD 1 ]
//	username   | web_user
//	session ID | 784445853689282561
//
// As in psql, a multi-line value ends every line but its last with "+" and
// continues under an empty label, so every line still splits at " | ".
type recordsRenderer struct {
	bw *bufio.Writer
	// labels[i] is column i's header padded to the widest header, plus " | ".
	labels []string
	// blank replaces a label on a value's continuation lines.
	blank   string
	scratch []byte
}

func newRecordsRenderer(bw *bufio.Writer, cols []Column) *recordsRenderer {
	width := 0
	for _, c := range cols {
		width = max(width, displayWidth(c.Header))
	}
	r := &recordsRenderer{bw: bw, blank: strings.Repeat(" ", width) + " | "}
	for _, c := range cols {
		r.labels = append(r.labels, c.Header+strings.Repeat(" ", width-displayWidth(c.Header))+" | ")
	}
	return r
}

func (r *recordsRenderer) row(n int, values []any) {
	r.bw.WriteString("-[ RECORD ")
	r.scratch = strconv.AppendInt(r.scratch[:0], int64(n), 10)
	r.bw.Write(r.scratch)
	r.bw.WriteString(" ]\n")
	for i, v := range values {
		r.scratch = appendText(r.scratch[:0], v)
		label := r.labels[i]
		rest := r.scratch
		for {
			r.bw.WriteString(label)
			line, more := cutLine(rest)
			r.bw.Write(line)
			if more == nil {
				r.bw.WriteByte('\n')
				break
			}
			r.bw.WriteString("+\n")
			label, rest = r.blank, more
		}
	}
}

func (r *recordsRenderer) end(rows int) {
	if rows == 0 {
		r.bw.WriteString("(0 rows)\n")
	}
}

// cutLine splits b at its first newline; rest is nil when there is none.
func cutLine(b []byte) (line, rest []byte) {
	for i, c := range b {
		if c == '\n' {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// rawRenderer writes cockroach's raw format, in which every value is
// preceded by its length in bytes, so any content can be read back exactly:
//
//	# 2 columns
//	# row 1
//	## 8
//	web_user
//	## 4
//	NULL
//	# 1 row
type rawRenderer struct {
	bw      *bufio.Writer
	scratch []byte
	num     []byte
}

func newRawRenderer(bw *bufio.Writer, cols []Column) *rawRenderer {
	bw.WriteString("# " + plural(len(cols), "column") + "\n")
	return &rawRenderer{bw: bw, scratch: make([]byte, 0, 64), num: make([]byte, 0, 20)}
}

func (r *rawRenderer) row(n int, values []any) {
	r.bw.WriteString("# row ")
	r.writeInt(n)
	r.bw.WriteByte('\n')
	for _, v := range values {
		r.scratch = appendText(r.scratch[:0], v)
		r.bw.WriteString("## ")
		r.writeInt(len(r.scratch))
		r.bw.WriteByte('\n')
		r.bw.Write(r.scratch)
		r.bw.WriteByte('\n')
	}
}

func (r *rawRenderer) end(rows int) {
	r.bw.WriteString("# " + plural(rows, "row") + "\n")
}

func (r *rawRenderer) writeInt(n int) {
	r.num = strconv.AppendInt(r.num[:0], int64(n), 10)
	r.bw.Write(r.num)
}
