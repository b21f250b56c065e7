package format

import "bufio"

// objectRenderer writes json, ndjson and yaml, which differ only in what
// goes around each key and each row. Keys are written in column order, which
// a map and encoding/json would not preserve.
type objectRenderer struct {
	bw *bufio.Writer
	// keys[i] is everything written before value i: the separator, the
	// quoted key and the colon, rendered once in New.
	keys [][]byte
	// rowStart and rowEnd go around a row's key-value pairs; emptyRow
	// replaces all three for a result without columns.
	rowStart, rowEnd, emptyRow string
	// first goes before the first row and sep before every later one; last
	// follows the last row, and none is the whole output for zero rows.
	first, sep, last, none string
	scratch                []byte
}

func newJSONRenderer(bw *bufio.Writer, cols []Column) *objectRenderer {
	r := newNDJSONRenderer(bw, cols)
	r.rowEnd, r.emptyRow = "}", "{}"
	r.first, r.sep, r.last, r.none = "[\n", ",\n", "\n]\n", "[]\n"
	return r
}

func newNDJSONRenderer(bw *bufio.Writer, cols []Column) *objectRenderer {
	r := &objectRenderer{bw: bw, rowStart: "{", rowEnd: "}\n", emptyRow: "{}\n", scratch: make([]byte, 0, 256)}
	for i, c := range cols {
		var k []byte
		if i > 0 {
			k = append(k, ',')
		}
		k = appendJSONString(k, c.Key)
		r.keys = append(r.keys, append(k, ':'))
	}
	return r
}

func newYAMLRenderer(bw *bufio.Writer, cols []Column) *objectRenderer {
	r := &objectRenderer{bw: bw, rowEnd: "\n", emptyRow: "- {}\n", scratch: make([]byte, 0, 256)}
	// An empty YAML document would read as null, not as an empty list.
	r.none = "[]\n"
	for i, c := range cols {
		k := []byte("\n  ")
		if i == 0 {
			k = []byte("- ")
		}
		k = appendYAMLKey(k, c.Key)
		r.keys = append(r.keys, append(k, ':', ' '))
	}
	return r
}

func (r *objectRenderer) row(n int, values []any) {
	buf := r.scratch[:0]
	if n == 1 {
		buf = append(buf, r.first...)
	} else {
		buf = append(buf, r.sep...)
	}
	if len(values) == 0 {
		buf = append(buf, r.emptyRow...)
	} else {
		buf = append(buf, r.rowStart...)
		for i, v := range values {
			buf = append(buf, r.keys[i]...)
			buf = appendJSON(buf, v)
		}
		buf = append(buf, r.rowEnd...)
	}
	r.bw.Write(buf)
	r.scratch = buf
}

func (r *objectRenderer) end(rows int) {
	if rows == 0 {
		r.bw.WriteString(r.none)
	} else {
		r.bw.WriteString(r.last)
	}
}

// appendYAMLKey appends key bare when it is a plain lower-case identifier
// that no YAML version reads as anything but a string, and JSON-quoted
// otherwise.
func appendYAMLKey(dst []byte, key string) []byte {
	switch key {
	case "", "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return appendJSONString(dst, key)
	}
	if !isPlainIdent(key) {
		return appendJSONString(dst, key)
	}
	return append(dst, key...)
}

// isPlainIdent reports whether s is made of lower-case ASCII letters,
// digits and underscores and does not start with a digit.
func isPlainIdent(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
