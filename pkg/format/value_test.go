package format

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"html"
	"reflect"
	"strings"
	"testing"
	"time"
)

// trickyStrings exercise every escaping rule of every format.
var trickyStrings = []string{
	"", "plain", "zoë", "生命", " leading space", "\u00a0nbsp", "\ttab", "trailing ",
	`a,b "c"` + "\t<x>", "line\nbreak", "cr\rlf\r\n", `back\slash`, `\.`, `"`, `""`,
	"<script>&amp;</script>", "it's", "\x00\x01\x1f\x7f", "\u0085\u009f", "\u2028\u2029",
	"\ufeff\ufffe\uffff", "emoji 🎉", "\\u0041",
}

func TestJSONStrings(t *testing.T) {
	for _, s := range append(trickyStrings, "bad \xff utf8") {
		enc := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Errorf("appendJSONString(%q) = %s: not valid JSON: %v", s, enc, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if got != want {
			t.Errorf("appendJSONString(%q) = %s, reads back as %q", s, enc, got)
		}
		if bytes.Contains(enc, []byte(`\u003c`)) {
			t.Errorf("appendJSONString(%q) = %s: must not HTML-escape", s, enc)
		}
	}
}

func TestJSONOutputParses(t *testing.T) {
	rows := testInputs[1].rows
	var fromJSON []map[string]any
	if err := json.Unmarshal([]byte(render(t, JSON, testCols, rows)), &fromJSON); err != nil {
		t.Fatalf("json output does not parse: %v", err)
	}
	var fromNDJSON []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(render(t, NDJSON, testCols, rows), "\n"), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("ndjson line %q does not parse: %v", line, err)
		}
		fromNDJSON = append(fromNDJSON, obj)
	}
	want := []map[string]any{
		{"username": "web_user", "session_id": "784445853689282561", "created": "2022-08-02T16:47:36.342338Z",
			"revoked_at": nil, "valid": true, "uses": 3.0, "note": "a,b \"c\"\t<x>"},
		{"username": "zoë", "session_id": "1", "created": "2022-08-02T16:47:36.342338Z",
			"revoked_at": "2022-08-03T08:02:03.000004Z", "valid": false, "uses": 42.0, "note": "line 1\nline 2 & 'more'"},
	}
	if !reflect.DeepEqual(fromJSON, want) {
		t.Errorf("json rows = %v, want %v", fromJSON, want)
	}
	if !reflect.DeepEqual(fromNDJSON, want) {
		t.Errorf("ndjson rows = %v, want %v", fromNDJSON, want)
	}
	if _, err := time.Parse(time.RFC3339Nano, fromJSON[0]["created"].(string)); err != nil {
		t.Errorf("json time is not RFC 3339: %v", err)
	}
	for _, empty := range []Format{JSON, YAML} {
		if got := render(t, empty, testCols, nil); got != "[]\n" {
			t.Errorf("%s with zero rows = %q, want %q", empty, got, "[]\n")
		}
	}
}

// TestYAMLMatchesJSON reads the yaml output line by line: every line must be
// "- key: value" or "  key: value" with keys in column order, and every value
// must be the JSON scalar of the same row, so strings are double-quoted.
func TestYAMLMatchesJSON(t *testing.T) {
	rows := testInputs[1].rows
	var want []map[string]any
	if err := json.Unmarshal([]byte(render(t, JSON, testCols, rows)), &want); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(render(t, YAML, testCols, rows), "\n"), "\n")
	if len(lines) != len(rows)*len(testCols) {
		t.Fatalf("yaml has %d lines, want %d", len(lines), len(rows)*len(testCols))
	}
	for i, line := range lines {
		r, c := i/len(testCols), i%len(testCols)
		prefix := "  "
		if c == 0 {
			prefix = "- "
		}
		prefix += testCols[c].Key + ": "
		value, ok := strings.CutPrefix(line, prefix)
		if !ok {
			t.Errorf("yaml line %d = %q, want prefix %q", i+1, line, prefix)
			continue
		}
		var got any
		if err := json.Unmarshal([]byte(value), &got); err != nil {
			t.Errorf("yaml line %d value %s is not a JSON scalar: %v", i+1, value, err)
			continue
		}
		if _, isString := got.(string); isString != strings.HasPrefix(value, `"`) {
			t.Errorf("yaml line %d: string values must be double-quoted, got %s", i+1, value)
		}
		if !reflect.DeepEqual(got, want[r][testCols[c].Key]) {
			t.Errorf("yaml line %d value = %v, json has %v", i+1, got, want[r][testCols[c].Key])
		}
	}
}

// TestDelimitedQuoting checks tsv and csv against encoding/csv: csv output is
// byte for byte what csv.Writer writes, and both read back exactly.
func TestDelimitedQuoting(t *testing.T) {
	for _, comma := range []rune{',', '\t'} {
		var rows [][]any
		var records [][]string
		for _, s := range trickyStrings {
			rows = append(rows, []any{s, "x"})
			records = append(records, []string{s, "x"})
		}
		cols := []Column{{Header: "a b", Key: "a"}, {Header: "say \"hi\"", Key: "b"}}
		f := CSV
		if comma == '\t' {
			f = TSV
		}
		got := render(t, f, cols, rows)

		r := csv.NewReader(strings.NewReader(got))
		r.Comma = comma
		read, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%s output does not parse: %v\n%s", f, err, got)
		}
		want := append([][]string{{"a b", "say \"hi\""}}, records...)
		// encoding/csv's reader turns \r\n inside quotes into \n.
		want[1+indexOf(trickyStrings, "cr\rlf\r\n")] = []string{"cr\rlf\n", "x"}
		if !reflect.DeepEqual(read, want) {
			t.Errorf("%s reads back as %q, want %q", f, read, want)
		}

		if f == CSV {
			var buf bytes.Buffer
			cw := csv.NewWriter(&buf)
			_ = cw.WriteAll(append([][]string{{"a b", "say \"hi\""}}, records...))
			if got != buf.String() {
				t.Errorf("csv output differs from encoding/csv:\n%s\nwant:\n%s", got, buf.String())
			}
		}
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	panic("missing " + s)
}

func TestHTMLEscaping(t *testing.T) {
	for _, s := range trickyStrings {
		got := render(t, HTML, []Column{{Header: "v", Key: "v"}}, [][]any{{s}})
		want := "<td>" + strings.NewReplacer("\n", "<br/>", "\t", "&#9;", "\r", "&#13;").Replace(html.EscapeString(s)) + "</td>"
		if s == "" {
			want = "<td></td>"
		}
		if !strings.Contains(got, want) {
			t.Errorf("html of %q = %q, want a cell %q", s, got, want)
		}
	}
}

func TestValues(t *testing.T) {
	ts := time.Date(2022, 8, 2, 16, 47, 36, 342338000, time.UTC)
	name := "it's"
	tests := []struct {
		name               string
		in                 any
		wantText, wantJSON string
		wantSQL            string
	}{
		{name: "nil", in: nil, wantText: "NULL", wantJSON: "null", wantSQL: "NULL"},
		{name: "string", in: "it's", wantText: "it's", wantJSON: `"it's"`, wantSQL: "'it''s'"},
		{name: "bool", in: true, wantText: "true", wantJSON: "true", wantSQL: "TRUE"},
		{name: "int64", in: int64(-7), wantText: "-7", wantJSON: "-7", wantSQL: "-7"},
		{name: "int", in: 7, wantText: "7", wantJSON: "7", wantSQL: "7"},
		{name: "float64", in: 1.5, wantText: "1.5", wantJSON: "1.5", wantSQL: "1.5"},
		{name: "time", in: ts, wantText: "2022-08-02 16:47:36.342338", wantJSON: `"2022-08-02T16:47:36.342338Z"`, wantSQL: "'2022-08-02 16:47:36.342338+00'"},
		{name: "time zone", in: ts.In(time.FixedZone("X", -90*60)), wantText: "2022-08-02 16:47:36.342338", wantJSON: `"2022-08-02T16:47:36.342338Z"`, wantSQL: "'2022-08-02 16:47:36.342338+00'"},
		{name: "time pointer", in: &ts, wantText: "2022-08-02 16:47:36.342338", wantJSON: `"2022-08-02T16:47:36.342338Z"`, wantSQL: "'2022-08-02 16:47:36.342338+00'"},
		{name: "nil time pointer", in: (*time.Time)(nil), wantText: "NULL", wantJSON: "null", wantSQL: "NULL"},
		{name: "year 10000", in: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), wantText: "10000-01-01 00:00:00.000000", wantJSON: `"10000-01-01T00:00:00.000000Z"`, wantSQL: "'10000-01-01 00:00:00.000000+00'"},
		{name: "string pointer", in: &name, wantText: "it's", wantJSON: `"it's"`, wantSQL: "'it''s'"},
		{name: "nil string pointer", in: (*string)(nil), wantText: "NULL", wantJSON: "null", wantSQL: "NULL"},
		{name: "other", in: time.Second, wantText: "1s", wantJSON: `"1s"`, wantSQL: "'1s'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendText(nil, tt.in)); got != tt.wantText {
				t.Errorf("text = %q, want %q", got, tt.wantText)
			}
			if got := string(appendJSON(nil, tt.in)); got != tt.wantJSON {
				t.Errorf("json = %s, want %s", got, tt.wantJSON)
			}
			if got := string(appendSQLValue(nil, tt.in)); got != tt.wantSQL {
				t.Errorf("sql = %s, want %s", got, tt.wantSQL)
			}
		})
	}
}
