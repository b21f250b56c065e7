// Package format renders result sets for every auth-session command.
//
// A command describes its columns once, asks New for a Writer in the format
// the user chose with --format, and then hands it one row at a time:
//
//	w := format.New(f, out, []format.Column{
//		{Header: "username", Key: "username"},
//		{Header: "session ID", Key: "session_id"},
//	})
//	for rows.Next() {
//		if err := w.WriteRow(name, id); err != nil {
//			return err
//		}
//	}
//	return w.Close()
//
// The formats follow cockroach's --format flag: table (the default on a
// terminal), tsv (the default otherwise), csv, json, ndjson, yaml, records,
// sql, html and raw. Every format streams: a row reaches the output as it is
// written and only O(1) rows are held in memory, so listing a million
// sessions costs no more memory than listing ten. Table and html, which
// go-pretty lays out, keep a page of rows (1,000) and render it at once; the
// table's columns are sized from the header and the first page.
//
// Row values may be nil (SQL NULL), string, bool, int, int64, float64,
// time.Time or *time.Time, *string, *int64 and *bool (a nil pointer is NULL),
// and json.RawMessage: a JSON value that json, ndjson and yaml carry as
// itself (an object stays an object) and the other formats as its text.
// Text formats print times in UTC as "2006-01-02 15:04:05.000000"; json,
// ndjson and yaml print them as RFC 3339 strings with six fractional digits.
// Any other value is printed with fmt.
package format
