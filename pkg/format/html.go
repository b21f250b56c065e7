package format

import (
	"bufio"
	"strconv"
)

// htmlRenderer writes cockroach's html format: a table whose first column
// numbers the rows and whose footer counts them.
type htmlRenderer struct {
	bw      *bufio.Writer
	ncols   int
	text    []byte
	scratch []byte
}

func newHTMLRenderer(bw *bufio.Writer, cols []Column) *htmlRenderer {
	r := &htmlRenderer{bw: bw, ncols: len(cols), text: make([]byte, 0, 64), scratch: make([]byte, 0, 256)}
	buf := append(r.scratch[:0], "<table>\n<thead><tr><th>row</th>"...)
	for _, c := range cols {
		buf = append(buf, "<th>"...)
		buf = appendHTML(buf, []byte(c.Key))
		buf = append(buf, "</th>"...)
	}
	buf = append(buf, "</tr></thead>\n<tbody>\n"...)
	bw.Write(buf)
	return r
}

func (r *htmlRenderer) row(n int, values []any) {
	buf := append(r.scratch[:0], "<tr><td>"...)
	buf = strconv.AppendInt(buf, int64(n), 10)
	buf = append(buf, "</td>"...)
	for _, v := range values {
		r.text = appendText(r.text[:0], v)
		buf = append(buf, "<td>"...)
		buf = appendHTML(buf, r.text)
		buf = append(buf, "</td>"...)
	}
	buf = append(buf, "</tr>\n"...)
	r.bw.Write(buf)
	r.scratch = buf
}

func (r *htmlRenderer) end(rows int) {
	r.bw.WriteString("</tbody>\n<tfoot><tr><td colspan=" + strconv.Itoa(r.ncols+1) + ">" +
		plural(rows, "row") + "</td></tr></tfoot></table>\n")
}

// appendHTML appends s escaped as html.EscapeString does, with line breaks
// turned into <br/> as cockroach does so multi-line values stay readable.
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
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
