package format

import (
	"bufio"
	"encoding/csv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// csvRenderer writes csv with encoding/csv's writer (RFC 4180 quoting), and
// SQL NULL as an empty field, as PostgreSQL's COPY ... CSV does.
type csvRenderer struct {
	w *csv.Writer
	// record and scratch are reused from row to row; a value that is not a
	// string costs one allocation, its text.
	record  []string
	scratch []byte
}

func newCSVRenderer(bw *bufio.Writer, cols []Column) *csvRenderer {
	// encoding/csv wraps what it writes to in a bufio.Writer unless it is
	// one already: given bw, it writes into bw's buffer directly, so the
	// rows stream and write errors surface as in the other formats.
	r := &csvRenderer{w: csv.NewWriter(bw), record: make([]string, len(cols))}
	// Cockroach prints the header even for zero rows, so scripts can rely on
	// the first line being the column names.
	for i, c := range cols {
		r.record[i] = c.Header
	}
	_ = r.w.Write(r.record) // errors surface through bw, as for every format
	return r
}

func (r *csvRenderer) row(_ int, values []any) {
	for i, v := range values {
		switch v := v.(type) {
		case string:
			r.record[i] = v
			continue
		case bool:
			// A constant text, no allocation.
			r.record[i] = constantText(v)
			continue
		}
		if isNull(v) {
			r.record[i] = ""
			continue
		}
		r.scratch = appendText(r.scratch[:0], v)
		r.record[i] = string(r.scratch)
	}
	_ = r.w.Write(r.record)
}

func (r *csvRenderer) end(int) { r.w.Flush() }

// delimitedRenderer writes tsv. It applies encoding/csv's quoting rules
// itself, with one more: a backslash forces quotes too, because PostgreSQL's
// text COPY format, the other common reader of tab-separated data, reads it
// as an escape. encoding/csv has no setting for that.
type delimitedRenderer struct {
	bw    *bufio.Writer
	comma byte
	// special marks the bytes that make a field need quotes.
	special *[256]bool
	// scratch holds the text of the current non-string value.
	scratch []byte
}

func newDelimitedRenderer(bw *bufio.Writer, cols []Column, comma byte) *delimitedRenderer {
	d := &delimitedRenderer{bw: bw, comma: comma, special: &csvSpecial, scratch: make([]byte, 0, 64)}
	if comma == '\t' {
		d.special = &tsvSpecial
	}
	// Cockroach prints the header even for zero rows, so scripts can rely on
	// the first line being the column names.
	for i, c := range cols {
		if i > 0 {
			bw.WriteByte(comma)
		}
		d.writeField(c.Header)
	}
	bw.WriteByte('\n')
	return d
}

func (d *delimitedRenderer) row(_ int, values []any) {
	for i, v := range values {
		if i > 0 {
			d.bw.WriteByte(d.comma)
		}
		switch v := v.(type) {
		case string:
			d.writeField(v)
			continue
		case nil, bool, int, int64, float64, time.Time, *time.Time:
			// Their text never holds a separator, quote, line break or
			// leading space, so skip the scan.
			d.scratch = appendText(d.scratch[:0], v)
			d.bw.Write(d.scratch)
			continue
		}
		d.scratch = appendText(d.scratch[:0], v)
		if needsQuotes(d.scratch, d.special) {
			// Only values printed with fmt get here; not worth a copy-free path.
			d.writeQuoted(string(d.scratch))
		} else {
			d.bw.Write(d.scratch)
		}
	}
	d.bw.WriteByte('\n')
}

func (d *delimitedRenderer) end(int) {}

func (d *delimitedRenderer) writeField(s string) {
	if needsQuotes(s, d.special) {
		d.writeQuoted(s)
	} else {
		d.bw.WriteString(s)
	}
}

// writeQuoted writes s in double quotes, doubling the quotes inside, as
// encoding/csv does (line breaks stay as they are).
func (d *delimitedRenderer) writeQuoted(s string) {
	d.bw.WriteByte('"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		d.bw.WriteString(s[:i+1])
		d.bw.WriteByte('"')
		s = s[i+1:]
	}
	d.bw.WriteString(s)
	d.bw.WriteByte('"')
}

// csvSpecial and tsvSpecial mark the bytes that force quotes anywhere in a
// field: encoding/csv's separator, quote and line breaks, plus, for tsv
// only, backslash, because PostgreSQL's text COPY format, the other common
// reader of tab-separated data, treats it as an escape.
var csvSpecial, tsvSpecial [256]bool

func init() {
	for _, c := range []byte{'\n', '\r', '"'} {
		csvSpecial[c], tsvSpecial[c] = true, true
	}
	csvSpecial[','] = true
	tsvSpecial['\t'] = true
	tsvSpecial['\\'] = true
}

// needsQuotes is encoding/csv's rule (a special byte anywhere, a leading
// space, or the PostgreSQL end-of-data marker `\.`) with the bytes of
// special.
func needsQuotes[T string | []byte](f T, special *[256]bool) bool {
	if len(f) == 0 {
		return false
	}
	if len(f) == 2 && f[0] == '\\' && f[1] == '.' {
		return true
	}
	for i := 0; i < len(f); i++ {
		if special[f[i]] {
			return true
		}
	}
	if f[0] < utf8.RuneSelf {
		return f[0] == ' ' || f[0]-'\t' <= '\r'-'\t'
	}
	r, _ := utf8.DecodeRuneInString(string(f))
	return unicode.IsSpace(r)
}

// constantText is the text of a bool, as appendText writes it.
func constantText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
