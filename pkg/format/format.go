package format

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Format names an output format, as accepted by the --format flag.
type Format string

// The output formats, in the order Names lists them.
const (
	// Table is the aligned, human-readable format cockroach and psql print on
	// a terminal. It and HTML keep a page of rows; the others stream.
	Table Format = "table"
	// TSV is tab-separated values with a header line, the format for pipes.
	TSV Format = "tsv"
	// CSV is comma-separated values (RFC 4180) with a header line.
	CSV Format = "csv"
	// JSON is one JSON array of objects keyed by Column.Key.
	JSON Format = "json"
	// NDJSON is one compact JSON object per line.
	NDJSON Format = "ndjson"
	// YAML is a YAML sequence of mappings keyed by Column.Key.
	YAML Format = "yaml"
	// Records is psql's expanded display: one "header | value" line per column.
	Records Format = "records"
	// SQL is a CREATE TABLE statement followed by one INSERT per row.
	SQL Format = "sql"
	// HTML is an HTML table with numbered rows; it keeps a page of rows.
	HTML Format = "html"
	// Raw is cockroach's length-prefixed format, safe for any byte content.
	Raw Format = "raw"
)

// formats lists every format in the order Names and the Parse error show them.
var formats = []Format{Table, TSV, CSV, JSON, NDJSON, YAML, Records, SQL, HTML, Raw}

// bufferSize is large enough to amortise write calls on a pipe, small enough
// that a slow consumer sees rows soon after they are written.
const bufferSize = 32 << 10

// pages reports whether f keeps a page of rows (pageRows) before it writes
// them: the formats that go-pretty lays out, which needs the values first.
func (f Format) pages() bool { return f == Table || f == HTML }

// Names returns the names of all formats, in the order the --format help
// text should list them.
func Names() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = string(f)
	}
	return names
}

// Parse returns the format named s. Surrounding white space is ignored, case
// is not: cockroach accepts only lower-case names and so do we.
func Parse(s string) (Format, error) {
	name := strings.TrimSpace(s)
	for _, f := range formats {
		if string(f) == name {
			return f, nil
		}
	}
	return "", fmt.Errorf("invalid format %q: accepted formats are %s", name, strings.Join(Names(), ", "))
}

// Default returns the format used when --format is not given: a table for a
// person at a terminal, TSV for a program reading a pipe, as cockroach does.
func Default(isTerminal bool) Format {
	if isTerminal {
		return Table
	}
	return TSV
}

// Column describes one result column.
type Column struct {
	// Header is the name shown in human formats (table, tsv, csv, records),
	// for example "session ID".
	Header string
	// Key is the machine name: the object key in json, ndjson and yaml and
	// the column name in sql and html, for example "session_id".
	Key string
	// Type is the column's type in the sql format's CREATE TABLE, one of
	// the Type constants; empty means TypeText.
	Type string
}

// Column types of the sql format: PostgreSQL's names, which CockroachDB
// accepts too.
const (
	TypeText      = "TEXT"
	TypeBigInt    = "BIGINT"
	TypeBoolean   = "BOOLEAN"
	TypeTimestamp = "TIMESTAMPTZ"
	TypeJSONB     = "JSONB"
)

// Writer renders a result set row by row.
type Writer interface {
	// WriteRow writes one row. It must be given exactly one value per
	// column. Write errors from the underlying io.Writer may surface on a
	// later call, since output is buffered.
	WriteRow(values ...any) error
	// Flush writes out the rows written so far, for output whose reader
	// waits for each row (events --follow). Table and html render the rows
	// of the page they keep, in the columns' widths so far.
	Flush() error
	// Close writes the footer (row count, closing bracket, ...) and flushes
	// the output. It must be called exactly once, also when no row was
	// written, because most formats need a footer even then.
	Close() error
}

// New returns a Writer that renders cols and the rows written to it in
// format f on w. Output is buffered; nothing is guaranteed to reach w before
// Close. An unknown format yields a Writer whose every call fails, so that
// the error surfaces where the caller already checks for one.
func New(f Format, w io.Writer, cols []Column) Writer {
	bw := bufio.NewWriterSize(w, bufferSize)
	var r renderer
	switch f {
	case Table:
		r = newTableRenderer(bw, cols)
	case TSV:
		r = newDelimitedRenderer(bw, cols, '\t')
	case CSV:
		r = newCSVRenderer(bw, cols)
	case JSON:
		r = newJSONRenderer(bw, cols)
	case NDJSON:
		r = newNDJSONRenderer(bw, cols)
	case YAML:
		r = newYAMLRenderer(bw, cols)
	case Records:
		r = newRecordsRenderer(bw, cols)
	case SQL:
		r = newSQLRenderer(bw, cols)
	case HTML:
		r = newHTMLRenderer(bw, cols)
	case Raw:
		r = newRawRenderer(bw, cols)
	default:
		_, err := Parse(string(f))
		return errWriter{err: err}
	}
	return &stream{format: f, bw: bw, r: r, ncols: len(cols)}
}

// renderer is what each format implements. Renderers write to a
// bufio.Writer and ignore its errors: they are sticky, and stream collects
// them once per row instead of after every write.
type renderer interface {
	// row renders the n-th row (counting from 1); len(values) is checked.
	row(n int, values []any)
	// end renders whatever follows the last row, given how many there were.
	end(rows int)
}

// stream implements Writer for every format: it checks arity and the
// Close-once contract and turns buffered write errors into returned errors.
type stream struct {
	format Format
	bw     *bufio.Writer
	r      renderer
	ncols  int
	rows   int
	closed bool
}

// WriteRow implements Writer.
func (s *stream) WriteRow(values ...any) error {
	if s.closed {
		return fmt.Errorf("write %s row: writer is already closed", s.format)
	}
	if len(values) != s.ncols {
		return fmt.Errorf("write %s row %d: got %s for %s", s.format, s.rows+1,
			plural(len(values), "value"), plural(s.ncols, "column"))
	}
	s.rows++
	s.r.row(s.rows, values)
	// An empty Write returns the buffered writer's sticky error, if any
	// write of this row (or an earlier flush) failed.
	if _, err := s.bw.Write(nil); err != nil {
		return fmt.Errorf("write %s row %d: %w", s.format, s.rows, err)
	}
	return nil
}

// pageFlusher is a renderer that keeps a page of rows: flushPage renders
// the rows it holds.
type pageFlusher interface{ flushPage() }

// Flush implements Writer.
func (s *stream) Flush() error {
	if s.closed {
		return fmt.Errorf("flush %s output: writer is already closed", s.format)
	}
	if p, ok := s.r.(pageFlusher); ok {
		p.flushPage()
	}
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("write %s output: %w", s.format, err)
	}
	return nil
}

// Close implements Writer.
func (s *stream) Close() error {
	if s.closed {
		return fmt.Errorf("close %s output: already closed", s.format)
	}
	s.closed = true
	s.r.end(s.rows)
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("write %s output: %w", s.format, err)
	}
	return nil
}

// errWriter is the Writer for an unknown format.
type errWriter struct{ err error }

// WriteRow implements Writer.
func (e errWriter) WriteRow(...any) error { return e.err }

// Flush implements Writer.
func (e errWriter) Flush() error { return e.err }

// Close implements Writer.
func (e errWriter) Close() error { return e.err }

// plural returns "1 row" or "N rows" style counts.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
