package format

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// sqlRenderer writes a script that recreates the result set, like
// cockroach's sql format:
//
//	SET client_encoding = 'UTF8';
//
//	CREATE TABLE results (
//	  username TEXT,
//	  session_id BIGINT
//	);
//
//	INSERT INTO results VALUES ('web_user', '784445853689282561', NULL);
//	-- 1 row
//
// so that `auth-session list --format sql | psql` creates and fills a
// table. Each column has its Column.Type (TEXT when none), where cockroach
// writes STRING, which PostgreSQL does not know; values keep their literal
// form (NULL, TRUE, 42, quoted text and times) so that they convert on
// insert.
//
// Values may come from anyone (a User-Agent sent to serve), so the script
// must mean the same whatever the session it is run in: a text literal
// with a backslash is an E'...' string with the backslash doubled, read the
// same with standard_conforming_strings on or off (a '...' string would end
// early at \' with it off), and the script first sets the client encoding
// to the UTF-8 it is written in, as pg_dump does: in a client encoding such
// as Shift JIS, a UTF-8 letter's last byte takes the backslash after it as
// its second byte.
type sqlRenderer struct {
	bw      *bufio.Writer
	noCols  bool
	scratch []byte
}

func newSQLRenderer(bw *bufio.Writer, cols []Column) *sqlRenderer {
	bw.WriteString("SET client_encoding = 'UTF8';\n\nCREATE TABLE results (\n")
	var name []byte
	for i, c := range cols {
		bw.WriteString("  ")
		name = appendSQLIdent(name[:0], c.Key)
		bw.Write(name)
		bw.WriteByte(' ')
		if c.Type == "" {
			bw.WriteString(TypeText)
		} else {
			bw.WriteString(c.Type)
		}
		if i < len(cols)-1 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	bw.WriteString(");\n\n")
	return &sqlRenderer{bw: bw, noCols: len(cols) == 0, scratch: make([]byte, 0, 256)}
}

func (r *sqlRenderer) row(_ int, values []any) {
	if r.noCols {
		// "VALUES ()" is not valid SQL; this is what cockroach writes.
		r.bw.WriteString("INSERT INTO results(rowid) VALUES (DEFAULT);\n")
		return
	}
	buf := append(r.scratch[:0], "INSERT INTO results VALUES ("...)
	for i, v := range values {
		if i > 0 {
			buf = append(buf, ", "...)
		}
		buf = appendSQLValue(buf, v)
	}
	buf = append(buf, ");\n"...)
	r.bw.Write(buf)
	r.scratch = buf
}

func (r *sqlRenderer) end(rows int) {
	r.bw.WriteString("-- " + plural(rows, "row") + "\n")
}

// appendSQLValue appends v as a SQL literal.
func appendSQLValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "NULL"...)
	case string:
		return appendSQLString(dst, v)
	case bool:
		if v {
			return append(dst, "TRUE"...)
		}
		return append(dst, "FALSE"...)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case time.Time:
		return appendSQLTime(dst, v)
	case *time.Time:
		if v == nil {
			return append(dst, "NULL"...)
		}
		return appendSQLTime(dst, *v)
	case float64:
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			return strconv.AppendFloat(dst, v, 'g', -1, 64)
		}
	case json.RawMessage:
		return appendSQLString(dst, string(v))
	}
	if d, ok := deref(v); ok {
		return appendSQLValue(dst, d)
	}
	// Anything else goes in as its text, which a STRING column accepts.
	return appendSQLString(dst, fmt.Sprint(v))
}

// appendSQLTime appends t as a TIMESTAMPTZ literal in UTC.
func appendSQLTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '\'')
	dst = appendTime(dst, t, false)
	return append(dst, "+00'"...)
}

// appendSQLString appends s single-quoted with its quotes doubled, as an
// E'...' string with its backslashes doubled too when it has any.
func appendSQLString(dst []byte, s string) []byte {
	if strings.IndexByte(s, '\\') >= 0 {
		dst = append(dst, 'E')
	}
	dst = append(dst, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			dst = append(dst, s[i])
		}
		dst = append(dst, s[i])
	}
	return append(dst, '\'')
}

// appendSQLIdent appends name bare when it is a plain lower-case identifier
// and not a reserved keyword, and double-quoted otherwise.
func appendSQLIdent(dst []byte, name string) []byte {
	if isPlainIdent(name) && !sqlReserved[name] {
		return append(dst, name...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(name); i++ {
		if name[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, name[i])
	}
	return append(dst, '"')
}

// sqlReserved holds PostgreSQL's and CockroachDB's reserved keywords, which
// cannot be column names unless quoted. Quoting a word needlessly is
// harmless, so the list errs on the side of more.
var sqlReserved = map[string]bool{
	"all": true, "analyse": true, "analyze": true, "and": true, "any": true,
	"array": true, "as": true, "asc": true, "asymmetric": true, "both": true,
	"case": true, "cast": true, "check": true, "collate": true, "column": true,
	"concurrently": true, "constraint": true, "create": true,
	"current_catalog": true, "current_date": true, "current_role": true,
	"current_schema": true, "current_time": true, "current_timestamp": true,
	"current_user": true, "default": true, "deferrable": true, "desc": true,
	"distinct": true, "do": true, "else": true, "end": true, "except": true,
	"false": true, "family": true, "fetch": true, "for": true, "foreign": true,
	"from": true, "grant": true, "group": true, "having": true, "in": true,
	"index": true, "initially": true, "intersect": true, "into": true,
	"lateral": true, "leading": true, "limit": true, "localtime": true,
	"localtimestamp": true, "not": true, "nothing": true, "null": true,
	"offset": true, "on": true, "only": true, "or": true, "order": true,
	"placing": true, "primary": true, "references": true, "returning": true,
	"select": true, "session_user": true, "some": true, "symmetric": true,
	"table": true, "then": true, "to": true, "trailing": true, "true": true,
	"union": true, "unique": true, "user": true, "using": true,
	"variadic": true, "when": true, "where": true, "window": true, "with": true,
}
