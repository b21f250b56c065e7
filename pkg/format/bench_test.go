package format

import (
	"io"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// benchRows is how many rows one benchmark iteration writes.
const benchRows = 100_000

// benchData returns distinct rows shaped like `auth-session list`: user,
// session ID, two timestamps, a NULL revocation and a note.
func benchData() [][]any {
	rows := make([][]any, 1000)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		created := start.Add(time.Duration(i) * time.Minute)
		rows[i] = []any{
			"user_" + strconv.Itoa(i%37), strconv.Itoa(784445853689282561 + i),
			created, created.Add(time.Hour), nil, "curl/8.5.0",
		}
	}
	return rows
}

var benchCols = []Column{
	{Header: "username", Key: "username"}, {Header: "session ID", Key: "session_id"},
	{Header: "created", Key: "created"}, {Header: "expires", Key: "expires"},
	{Header: "revoked", Key: "revoked_at"}, {Header: "user agent", Key: "user_agent"},
}

// benchFormat writes benchRows rows per iteration to io.Discard and reports
// the cost per row, the figure to compare with psql -At.
func benchFormat(b *testing.B, f Format, write func(w Writer, i int) error) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		w := New(f, io.Discard, benchCols)
		for i := range benchRows {
			if err := write(w, i); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	rows := float64(b.N) * benchRows
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/rows, "allocs/row")
}

// BenchmarkTSV measures the default format for pipes. "rows" passes
// ready-made []any rows, so it measures the renderer alone; "values" passes
// typed values as a command does after Scan, which adds the boxing of each
// value into an interface and the variadic slice.
func BenchmarkTSV(b *testing.B) {
	data := benchData()
	b.Run("rows", func(b *testing.B) {
		benchFormat(b, TSV, func(w Writer, i int) error {
			return w.WriteRow(data[i%len(data)]...)
		})
	})
	b.Run("values", func(b *testing.B) {
		users, ids, times := make([]string, len(data)), make([]string, len(data)), make([]time.Time, len(data))
		for i, r := range data {
			users[i], ids[i], times[i] = r[0].(string), r[1].(string), r[2].(time.Time)
		}
		benchFormat(b, TSV, func(w Writer, i int) error {
			j := i % len(data)
			return w.WriteRow(users[j], ids[j], times[j], times[j].Add(time.Hour), nil, "curl/8.5.0")
		})
	})
}

// BenchmarkFormats compares the renderer cost of every format.
func BenchmarkFormats(b *testing.B) {
	data := benchData()
	for _, f := range formats {
		b.Run(string(f), func(b *testing.B) {
			benchFormat(b, f, func(w Writer, i int) error {
				return w.WriteRow(data[i%len(data)]...)
			})
		})
	}
}
