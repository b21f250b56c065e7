package server

import (
	"strconv"
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
