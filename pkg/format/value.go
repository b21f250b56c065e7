package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Values are rendered by appending to a reused scratch buffer rather than by
// building strings, so the per-row path of the streaming formats does not
// allocate.

const (
	// textTimeLayout is how cockroach's text formats print a TIMESTAMPTZ in
	// UTC: no zone, always six fractional digits.
	textTimeLayout = "2006-01-02 15:04:05.000000"
	// jsonTimeLayout is RFC 3339 in UTC with six fractional digits, so
	// values sort as strings and round-trip through time.Parse.
	jsonTimeLayout = "2006-01-02T15:04:05.000000Z"
	// nullText is how text formats show SQL NULL.
	nullText = "NULL"
)

// appendText appends v as the text formats show it.
func appendText(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, nullText...)
	case string:
		return append(dst, v...)
	case bool:
		return strconv.AppendBool(dst, v)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case time.Time:
		return appendTime(dst, v, false)
	case *time.Time:
		if v == nil {
			return append(dst, nullText...)
		}
		return appendTime(dst, *v, false)
	case float64:
		return strconv.AppendFloat(dst, v, 'g', -1, 64)
	case json.RawMessage:
		return append(dst, v...)
	}
	if d, ok := deref(v); ok {
		return appendText(dst, d)
	}
	return fmt.Append(dst, v)
}

// appendJSON appends v as a JSON value; yaml uses the same scalars.
func appendJSON(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendJSONString(dst, v)
	case bool:
		return strconv.AppendBool(dst, v)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case time.Time:
		return appendJSONTime(dst, v)
	case *time.Time:
		if v == nil {
			return append(dst, "null"...)
		}
		return appendJSONTime(dst, *v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			// JSON has no NaN or infinity; a string keeps the information.
			return appendJSONString(dst, strconv.FormatFloat(v, 'g', -1, 64))
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64)
	case json.RawMessage:
		// A JSON value (a jsonb column) goes in as itself, on one line;
		// should it not be JSON, as a string.
		var b bytes.Buffer
		if json.Compact(&b, v) == nil && b.Len() > 0 {
			return append(dst, b.Bytes()...)
		}
		return appendJSONString(dst, string(v))
	}
	if d, ok := deref(v); ok {
		return appendJSON(dst, d)
	}
	return appendJSONString(dst, fmt.Sprint(v))
}

// isNull reports whether v is SQL NULL: nil, or a nil pointer of the types
// a nullable column is scanned into.
func isNull(v any) bool {
	if t, ok := v.(*time.Time); ok {
		return t == nil
	}
	d, ok := deref(v)
	return v == nil || ok && d == nil
}

// deref resolves the pointer types a nullable column is usually scanned
// into. It reports false for anything else.
func deref(v any) (any, bool) {
	switch p := v.(type) {
	case *string:
		if p == nil {
			return nil, true
		}
		return *p, true
	case *int64:
		if p == nil {
			return nil, true
		}
		return *p, true
	case *bool:
		if p == nil {
			return nil, true
		}
		return *p, true
	}
	return nil, false
}

func appendJSONTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = appendTime(dst, t, true)
	return append(dst, '"')
}

// appendTime appends t in UTC in textTimeLayout, or in jsonTimeLayout when
// rfc3339 is set. It formats the digits by hand because time.AppendFormat
// interprets the layout on every call, which showed in BenchmarkTSV.
func appendTime(dst []byte, t time.Time, rfc3339 bool) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		if rfc3339 {
			return t.AppendFormat(dst, jsonTimeLayout)
		}
		return t.AppendFormat(dst, textTimeLayout)
	}
	hour, minute, sec := t.Clock()
	// Truncate to microseconds, as the database stores them and as
	// time.Format's ".000000" does.
	micro := t.Nanosecond() / 1000
	var b [len(jsonTimeLayout)]byte
	put2(b[0:], year/100)
	put2(b[2:], year%100)
	b[4] = '-'
	put2(b[5:], int(month))
	b[7] = '-'
	put2(b[8:], day)
	b[10] = ' '
	put2(b[11:], hour)
	b[13] = ':'
	put2(b[14:], minute)
	b[16] = ':'
	put2(b[17:], sec)
	b[19] = '.'
	put2(b[20:], micro/10000)
	put2(b[22:], micro/100%100)
	put2(b[24:], micro%100)
	if !rfc3339 {
		return append(dst, b[:len(textTimeLayout)]...)
	}
	b[10] = 'T'
	b[26] = 'Z'
	return append(dst, b[:]...)
}

// digitPairs holds "00" to "99", so two digits cost one lookup.
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// put2 writes the two decimal digits of n, which is below 100, to b.
func put2(b []byte, n int) {
	b[0], b[1] = digitPairs[2*n], digitPairs[2*n+1]
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a double-quoted JSON string. Unlike
// encoding/json's default it leaves <, > and & alone. Besides what JSON
// requires it escapes DEL, the C1 controls, U+2028/U+2029 and U+FFFE/U+FFFF,
// so that the same text is also a valid YAML double-quoted scalar (YAML
// forbids those characters unescaped). Invalid UTF-8 becomes U+FFFD, as in
// encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r <= 0x9f, r == '\u2028', r == '\u2029', r == 0xfffe, r == 0xffff:
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u',
				hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
