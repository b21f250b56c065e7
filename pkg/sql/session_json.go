package sql

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// A listed session as the HTTP API writes it and pkg/client reads it: the
// JSON of the fields, by their keys. Ids, and any 64-bit integer, are
// decimal strings, which JavaScript reads exactly (its numbers lose digits
// beyond 2^53); times are RFC 3339 in UTC, a time not set null.

// AppendSessionJSON appends the fields of s to dst as the members of a JSON
// object, "key":value separated by commas, without the braces, so that the
// caller may add its own.
func AppendSessionJSON(dst []byte, s *ListedSession, fields []SessionField) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, f.Key...)
		dst = append(dst, '"', ':')
		switch p := f.in(s).(type) {
		case *int64:
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, *p, 10)
			dst = append(dst, '"')
		case *string:
			if f.NullIfEmpty && *p == "" {
				dst = append(dst, "null"...)
				break
			}
			b, _ := json.Marshal(*p) // a string always marshals
			dst = append(dst, b...)
		case *bool:
			dst = strconv.AppendBool(dst, *p)
		case *time.Time:
			dst = appendJSONTime(dst, *p)
		case **time.Time:
			if *p == nil {
				dst = append(dst, "null"...)
			} else {
				dst = appendJSONTime(dst, **p)
			}
		default:
			panic(fmt.Sprintf("sql: session field %s is a %T, which has no JSON form", f.Key, p))
		}
	}
	return dst
}

func appendJSONTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// DecodeSessionJSON sets the fields of s from object, the members of a JSON
// object as AppendSessionJSON writes them. A field missing, or of another
// type, is an error naming it; members that are no field are left alone.
func DecodeSessionJSON(object map[string]json.RawMessage, s *ListedSession, fields []SessionField) error {
	for _, f := range fields {
		raw, ok := object[f.Key]
		if !ok {
			return fmt.Errorf("session field %s: missing", f.Key)
		}
		var err error
		switch p := f.in(s).(type) {
		case *int64:
			var text string
			if err = json.Unmarshal(raw, &text); err == nil {
				*p, err = strconv.ParseInt(text, 10, 64)
			}
		case *time.Time:
			// JSON's null would leave a time unset in silence.
			if string(raw) == "null" {
				err = fmt.Errorf("null: want a time")
			} else {
				err = json.Unmarshal(raw, p)
			}
		default:
			err = json.Unmarshal(raw, p)
		}
		if err != nil {
			return fmt.Errorf("session field %s: %w", f.Key, err)
		}
	}
	return nil
}
