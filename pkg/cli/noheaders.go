package cli

import (
	"bytes"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/internal/lazyregexp"
	"github.com/auth-session/auth-session/pkg/format"
)

const flagNoHeaders = "no-headers"

func noHeadersFlag() cli.Flag {
	return &cli.BoolFlag{Name: flagNoHeaders, Category: categoryOutput,
		Usage: "table, tsv and csv: print the rows only, without the header and the row count (psql's -t)"}
}

// headerLines is how many lines each format that has headers starts with.
var headerLines = map[format.Format]int{format.Table: 2, format.TSV: 1, format.CSV: 1}

// rowCount matches the table format's last line: "(3 rows)", "(1 row)".
var rowCount = lazyregexp.New(`^\(\d+ rows?\)\n$`)

// withoutHeaders returns w with the header lines of f dropped, and the
// table's row count. The column names are fixed words without line breaks,
// so the header is whole lines.
func withoutHeaders(w io.Writer, f format.Format) io.Writer {
	return &headerless{w: w, skip: headerLines[f], footer: f == format.Table}
}

// headerless passes whole lines on, but the first skip ones and, with
// footer, a row count.
type headerless struct {
	w      io.Writer
	skip   int
	footer bool
	line   []byte
}

func (h *headerless) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			h.line = append(h.line, p...)
			break
		}
		h.line = append(h.line, p[:i+1]...)
		p = p[i+1:]
		line := h.line
		h.line = h.line[:0]
		switch {
		case h.skip > 0:
			h.skip--
		case h.footer && rowCount().Match(line):
		default:
			if _, err := h.w.Write(line); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}
