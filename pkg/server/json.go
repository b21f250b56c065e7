package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// jsonID renders a session id for JSON. Ids exceed 2^53, beyond which
// JavaScript numbers lose digits, so they travel as decimal strings.
func jsonID(id int64) string {
	return strconv.FormatInt(id, 10)
}

// jsonTime renders a timestamp for JSON: RFC 3339 in UTC.
func jsonTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// decodeJSONBody reads the body of r, a JSON object of at most limit bytes,
// into dst, a pointer to a struct whose json tags name the fields accepted:
// the one reader of the JSON bodies the server accepts. Each key must be a
// field's name exactly, and given once: encoding/json alone matches keys
// ignoring case, the last one winning, so that {"dry_run":true,
// "Dry_Run":false} would read as a revocation. It answers 415 or 400 and
// returns false when the body is not such an object; the answer names the
// key or the byte at fault, and never echoes the body.
func decodeJSONBody(w http.ResponseWriter, r *http.Request, limit int64, dst any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, errNotJSON)
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err == nil {
		err = checkKeys(body, jsonFields(dst))
	}
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(dst)
	}
	if err != nil {
		writeError(w, badRequest("invalid JSON body: %s", jsonError(err)))
		return false
	}
	return true
}

// keyError is a key of a JSON body that is no field, or given twice.
type keyError struct {
	key    string
	twice  bool
	fields []string
}

func (e keyError) Error() string {
	// A key can be as long as the body: quote the start of it.
	key := e.key
	if len(key) > 64 {
		key = strings.ToValidUTF8(key[:64], "") + "…"
	}
	if e.twice {
		return fmt.Sprintf("field %s given twice: give each field once", strconv.QuoteToASCII(key))
	}
	return fmt.Sprintf("unknown field %s: want %s (names match exactly)", strconv.QuoteToASCII(key), strings.Join(e.fields, ", "))
}

// checkKeys walks the top level of body, which must be one JSON object,
// and checks that each key is one of fields, exactly, and given once.
func checkKeys(body []byte, fields []string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return errNotObject
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // an object's keys are strings, or Token fails
		switch {
		case !slices.Contains(fields, key):
			return keyError{key: key, fields: fields}
		case seen[key]:
			return keyError{key: key, twice: true}
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailing
	}
	return nil
}

var (
	errNotObject = errors.New("not a JSON object")
	errTrailing  = errors.New("more than one JSON value")
)

// jsonFields are the names the json tags of the struct dst points to give
// its fields, in their order, or those its jsonFieldNames method lists.
func jsonFields(dst any) []string {
	if named, ok := dst.(interface{ jsonFieldNames() []string }); ok {
		return named.jsonFieldNames()
	}
	t := reflect.TypeOf(dst).Elem()
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// jsonError says what is wrong with a body without echoing its content.
func jsonError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	var key keyError
	switch {
	case errors.As(err, &key):
		return key.Error()
	case errors.As(err, &syntax):
		return fmt.Sprintf("syntax error at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s: want %s", typ.Field, typ.Type)
	case errors.As(err, &tooLarge):
		return fmt.Sprintf("larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, io.EOF):
		return "empty body"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "cut short"
	case errors.Is(err, errTrailing):
		return err.Error()
	}
	return "not a JSON object"
}
