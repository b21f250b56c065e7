package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testCols covers every kind of value a command writes.
var testCols = []Column{
	{Header: "username", Key: "username"},
	{Header: "session ID", Key: "session_id"},
	{Header: "created", Key: "created"},
	{Header: "revoked", Key: "revoked_at"},
	{Header: "valid", Key: "valid"},
	{Header: "uses", Key: "uses"},
	{Header: "note", Key: "note"},
}

var (
	// berlin proves that times are converted to UTC: 18:47 here is 16:47 UTC.
	berlin     = time.FixedZone("CEST", 2*60*60)
	created    = time.Date(2022, 8, 2, 18, 47, 36, 342338999, berlin)
	revoked    = time.Date(2022, 8, 3, 1, 2, 3, 4000, time.FixedZone("PDT", -7*60*60))
	rootCreate = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
)

// testInputs are the result sets every format is rendered with.
var testInputs = []struct {
	name string
	rows [][]any
}{
	{name: "empty"},
	{name: "two", rows: [][]any{
		{"web_user", "784445853689282561", created, nil, true, int64(3), "a,b \"c\"\t<x>"},
		{"zoë", "1", created, &revoked, false, 42, "line 1\nline 2 & 'more'"},
	}},
	{name: "one", rows: [][]any{
		{"root", "784445853689282562", rootCreate, (*time.Time)(nil), false, 0, ""},
	}},
}

func render(t testing.TB, f Format, cols []Column, rows [][]any) string {
	t.Helper()
	var out bytes.Buffer
	w := New(f, &out, cols)
	for _, r := range rows {
		if err := w.WriteRow(r...); err != nil {
			t.Fatalf("WriteRow(%v): %v", r, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return out.String()
}

func TestGolden(t *testing.T) {
	for _, f := range formats {
		for _, in := range testInputs {
			t.Run(string(f)+"/"+in.name, func(t *testing.T) {
				got := render(t, f, testCols, in.rows)
				path := filepath.Join("testdata", string(f)+"-"+in.name+".golden")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("read golden file (run go test ./pkg/format -update): %v", err)
				}
				if got != string(want) {
					t.Errorf("output differs from %s:\n--- got ---\n%s--- want ---\n%s", path, got, want)
				}
			})
		}
	}
}

// TestTableLayout pins the layout to cockroach's own example.
func TestTableLayout(t *testing.T) {
	cols := []Column{{Header: "username", Key: "username"}, {Header: "session ID", Key: "session_id"}, {Header: "created", Key: "created"}}
	got := render(t, Table, cols, [][]any{
		{"web_user", "784445853689282561", time.Date(2022, 8, 2, 16, 47, 36, 342338000, time.UTC)},
		{"root", "1", nil},
	})
	want := "" +
		"  username |     session ID     |          created\n" +
		"-----------+--------------------+----------------------------\n" +
		"  web_user | 784445853689282561 | 2022-08-02 16:47:36.342338\n" +
		"  root     | 1                  | NULL\n" +
		"(2 rows)\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Format
		wantErr string
	}{
		{name: "table", in: "table", want: Table},
		{name: "raw", in: "raw", want: Raw},
		{name: "spaces trimmed", in: "  ndjson\n", want: NDJSON},
		{name: "unknown", in: "xml", wantErr: `invalid format "xml": accepted formats are table, tsv, csv, json, ndjson, yaml, records, sql, html, raw`},
		{name: "case sensitive", in: "JSON", wantErr: `invalid format "JSON": accepted formats are table, tsv, csv, json, ndjson, yaml, records, sql, html, raw`},
		{name: "empty", in: "", wantErr: `invalid format "": accepted formats are table, tsv, csv, json, ndjson, yaml, records, sql, html, raw`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Parse(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, name := range Names() {
		if f, err := Parse(name); err != nil || string(f) != name {
			t.Errorf("Parse(%q) = %q, %v: every name from Names must parse", name, f, err)
		}
	}
}

func TestNamesAndDefault(t *testing.T) {
	want := "table tsv csv json ndjson yaml records sql html raw"
	if got := strings.Join(Names(), " "); got != want {
		t.Errorf("Names() = %s, want %s", got, want)
	}
	if Default(true) != Table || Default(false) != TSV {
		t.Errorf("Default(true), Default(false) = %s, %s; want table, tsv", Default(true), Default(false))
	}
}

func TestWriterMisuse(t *testing.T) {
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			w := New(f, &bytes.Buffer{}, testCols[:2])
			err := w.WriteRow("only one")
			if want := "write " + string(f) + " row 1: got 1 value for 2 columns"; err == nil || err.Error() != want {
				t.Errorf("WriteRow with 1 of 2 values: error = %v, want %q", err, want)
			}
			if err := w.WriteRow("a", "b"); err != nil {
				t.Fatalf("WriteRow: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := w.WriteRow("a", "b"); err == nil {
				t.Error("WriteRow after Close: got no error")
			}
			if err := w.Close(); err == nil {
				t.Error("second Close: got no error")
			}
		})
	}
	w := New("xml", &bytes.Buffer{}, testCols)
	if err := w.Close(); err == nil || !strings.HasPrefix(err.Error(), `invalid format "xml"`) {
		t.Errorf("Close on unknown format: error = %v", err)
	}
}

var errBrokenPipe = errors.New("broken pipe")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errBrokenPipe }

func TestWriteErrors(t *testing.T) {
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			w := New(f, failingWriter{}, testCols)
			var err error
			// Enough rows to overflow the buffer, so a streaming format must
			// report the failure from WriteRow.
			for i := 0; i < 10000 && err == nil; i++ {
				err = w.WriteRow(testInputs[1].rows[0]...)
			}
			if !errors.Is(err, errBrokenPipe) {
				t.Errorf("WriteRow error = %v, want one wrapping %v", err, errBrokenPipe)
			}
			if err := w.Close(); !errors.Is(err, errBrokenPipe) {
				t.Errorf("Close error = %v, want one wrapping %v", err, errBrokenPipe)
			}
		})
	}
}

// countingWriter counts the bytes that reach it.
type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += len(p)
	return len(p), nil
}

// TestStreaming proves every format writes rows as they come instead of
// holding them until Close: table and html a page of rows at a time.
func TestStreaming(t *testing.T) {
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			var out countingWriter
			w := New(f, &out, testCols)
			for i := 0; i < 10000; i++ {
				if err := w.WriteRow(testInputs[1].rows[i%2]...); err != nil {
					t.Fatal(err)
				}
			}
			before := out.n
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if f.pages() {
				// 10,000 rows are ten pages: all but the last must be out.
				if before < out.n*8/10 {
					t.Errorf("%d of %d bytes reached the writer before Close; want all but the last page", before, out.n)
				}
				return
			}
			// All but the last buffer's worth must be out already.
			if before < out.n-bufferSize {
				t.Errorf("%d of %d bytes reached the writer before Close; want all but one buffer", before, out.n)
			}
		})
	}
}

// TestRowsDoNotAllocate guards the per-row cost of the streaming formats,
// which is what lets a million-row listing run in constant memory.
func TestRowsDoNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked without -short")
	}
	row := testInputs[1].rows[0]
	for _, f := range formats {
		if f.pages() {
			continue
		}
		t.Run(string(f), func(t *testing.T) {
			w := New(f, bufio.NewWriter(&countingWriter{}), testCols)
			// A few rows first, so the scratch buffers have grown.
			for range 3 {
				_ = w.WriteRow(row...)
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if err := w.WriteRow(row...); err != nil {
					t.Fatal(err)
				}
			})
			// encoding/csv takes strings: the text of each time or number
			// is one allocation.
			want := 0.0
			if f == CSV {
				for _, v := range row {
					switch v.(type) {
					case string, nil, bool:
					default:
						want++
					}
				}
			}
			if allocs > want {
				t.Errorf("WriteRow allocates %v times per row, want at most %v", allocs, want)
			}
		})
	}
}

// TestCSVNull: csv writes SQL NULL as an empty field, as PostgreSQL's
// COPY ... CSV does, whatever Go value holds it.
func TestCSVNull(t *testing.T) {
	cols := []Column{{Header: "a", Key: "a"}, {Header: "b", Key: "b"}, {Header: "c", Key: "c"}, {Header: "d", Key: "d"}}
	got := render(t, CSV, cols, [][]any{{"x", nil, (*time.Time)(nil), (*string)(nil)}})
	if want := "a,b,c,d\nx,,,\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestJSONValue: a json.RawMessage is an object in json, ndjson and yaml,
// not a string holding one, and its text elsewhere.
func TestJSONValue(t *testing.T) {
	cols := []Column{{Header: "event", Key: "event"}, {Header: "detail", Key: "detail", Type: TypeJSONB}}
	row := [][]any{{"x", json.RawMessage(`{"reason": "a\tb", "n": 1}`)}}
	for f, want := range map[Format]string{
		JSON:   "[\n{\"event\":\"x\",\"detail\":{\"reason\":\"a\\tb\",\"n\":1}}\n]\n",
		NDJSON: "{\"event\":\"x\",\"detail\":{\"reason\":\"a\\tb\",\"n\":1}}\n",
		YAML:   "- event: \"x\"\n  detail: {\"reason\":\"a\\tb\",\"n\":1}\n",
		CSV:    "event,detail\nx,\"{\"\"reason\"\": \"\"a\\tb\"\", \"\"n\"\": 1}\"\n",
	} {
		if got := render(t, f, cols, row); got != want {
			t.Errorf("%s:\n got %q\nwant %q", f, got, want)
		}
	}
	if got := render(t, SQL, cols, row); !strings.Contains(got, `detail JSONB`) || !strings.Contains(got, `E'{"reason": "a\\tb", "n": 1}'`) {
		t.Errorf("sql: want a JSONB column and the text as a literal:\n%s", got)
	}
}
