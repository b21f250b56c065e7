package format

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// pagedRows returns n rows shaped like testCols; row wide (counting from 1)
// gets a user name wider than any before it, 0 for none.
func pagedRows(n, wide int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		user := fmt.Sprintf("user_%d", i%37)
		if i+1 == wide {
			user = strings.Repeat("wide_", 20)
		}
		rows[i] = []any{user, fmt.Sprint(784445853689282561 + i), created, nil, i%2 == 0, i, fmt.Sprintf("note %d", i%100)}
	}
	return rows
}

// separators returns the columns at which line has a '|' or '+'.
func separators(line string) string {
	var at []string
	for i, r := range []rune(line) {
		if r == '|' || r == '+' {
			at = append(at, fmt.Sprint(i))
		}
	}
	return strings.Join(at, ",")
}

// TestTablePagesAlign: a table longer than a page is laid out a page at a
// time with the widths of the rows so far, so every line lines up with the
// header until a later row is wider, and from that row's page on with it.
func TestTablePagesAlign(t *testing.T) {
	n := 2*pageRows + pageRows/2
	lines := strings.Split(strings.TrimSuffix(render(t, Table, testCols, pagedRows(n, 0)), "\n"), "\n")
	if len(lines) != n+3 || lines[len(lines)-1] != fmt.Sprintf("(%d rows)", n) {
		t.Fatalf("%d lines ending %q, want %d ending (%d rows)", len(lines), lines[len(lines)-1], n+3, n)
	}
	want := separators(lines[0])
	for i, line := range lines[1 : len(lines)-1] {
		if got := separators(line); got != want {
			t.Fatalf("line %d %q: separators at %s, want %s as the header", i+2, line, got, want)
		}
	}

	wide := pageRows + 10
	lines = strings.Split(render(t, Table, testCols, pagedRows(n, wide)), "\n")
	if a, b := separators(lines[0]), separators(lines[pageRows+1]); a != b {
		t.Errorf("first page: separators at %s, want %s as the header", b, a)
	}
	// The page with the wide row and the pages after it are wider, alike.
	page2, page3 := separators(lines[pageRows+2]), separators(lines[2*pageRows+2])
	if page2 == separators(lines[0]) || page2 != page3 || page2 != separators(lines[n+1]) {
		t.Errorf("pages 2 and 3: separators at %s and %s, want the same, wider than the header's %s", page2, page3, separators(lines[0]))
	}
}

// TestHTMLPages: an html table longer than a page is one table whose rows
// are numbered in order.
func TestHTMLPages(t *testing.T) {
	n := 2*pageRows + 7
	out := render(t, HTML, testCols, pagedRows(n, 0))
	for tag, want := range map[string]int{"<table ": 1, "<thead>": 1, "<tbody>": 1, "</tbody>": 1, "<tfoot>": 1, "<tr>": n + 2, "</table>": 1} {
		if got := strings.Count(out, tag); got != want {
			t.Errorf("%d %s, want %d", got, tag, want)
		}
	}
	for _, i := range []int{1, pageRows, pageRows + 1, n} {
		if !strings.Contains(out, fmt.Sprintf("  <tr>\n    <td>%d</td>\n    <td>user_%d</td>", i, (i-1)%37)) {
			t.Errorf("row %d is missing or out of place", i)
		}
	}
	if !strings.HasSuffix(out, fmt.Sprintf("colspan=8>%d rows</td>\n  </tr>\n  </tfoot>\n</table>\n", n)) {
		t.Errorf("footer: %q", out[len(out)-200:])
	}
}

// TestPagedFormatsKeepMemoryBounded writes many rows in table and html and
// checks that the live heap stays small while the writer is open: they keep
// a page of rows, not every row.
func TestPagedFormatsKeepMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("memory is measured without -short")
	}
	rows := pagedRows(1000, 0)
	for _, f := range []Format{Table, HTML} {
		t.Run(string(f), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var out countingWriter
			w := New(f, &out, testCols)
			for i := range 50_000 {
				if err := w.WriteRow(rows[i%len(rows)]...); err != nil {
					t.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 8<<20 {
				t.Errorf("live heap grew by %d MiB over 50,000 rows (%d bytes out), want under 8 MiB", grown>>20, out.n)
			}
		})
	}
}

// TestFlushWritesTheRowsSoFar: every format writes out what it was given
// at Flush, for a reader that waits on each row (events --follow); table
// and html render their page so far, the header once, and go on from there
// as if the rows had come in one piece.
func TestFlushWritesTheRowsSoFar(t *testing.T) {
	rows := pagedRows(5, 0)
	for _, f := range formats {
		t.Run(string(f), func(t *testing.T) {
			var out strings.Builder
			w := New(f, &out, testCols)
			var seen []int
			for i, r := range rows {
				if err := w.WriteRow(r...); err != nil {
					t.Fatal(err)
				}
				if i == 1 || i == 3 {
					if err := w.Flush(); err != nil {
						t.Fatal(err)
					}
					seen = append(seen, out.Len())
					if id := fmt.Sprint(rows[i][1]); !strings.Contains(out.String(), id) {
						t.Errorf("after Flush, row %d (id %s) is not written out:\n%s", i+1, id, out.String())
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if seen[0] == 0 || seen[1] <= seen[0] {
				t.Errorf("written out at the two flushes: %d and %d bytes, want some, then more", seen[0], seen[1])
			}
			switch f {
			case Table:
				// The header once, and every row on a line of its own.
				if n := strings.Count(out.String(), "session ID"); n != 1 {
					t.Errorf("%d headers, want 1:\n%s", n, out.String())
				}
				if n := strings.Count(out.String(), "\n"); n != len(rows)+3 {
					t.Errorf("%d lines, want %d:\n%s", n, len(rows)+3, out.String())
				}
			case HTML:
				if n := strings.Count(out.String(), "<table "); n != 1 {
					t.Errorf("%d tables, want 1:\n%s", n, out.String())
				}
			default:
				// The rest do not lay rows out: flushed, the output is
				// the same as written at once.
				if whole := render(t, f, testCols, rows); out.String() != whole {
					t.Errorf("flushed output differs from the output written at once:\n%s\nwant:\n%s", out.String(), whole)
				}
			}
		})
	}
}
