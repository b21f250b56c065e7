package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// writeJSON answers status with v encoded as JSON. API responses hold
// credentials or personal data, so no cache may keep them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (an unencodable type) gets here.
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n')) //nolint:errcheck // the client went away; nothing to do
}

// errorBody is the body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// writeError answers status with {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// jsonID renders a session id for JSON. Ids exceed 2^53, beyond which
// JavaScript numbers lose digits, so they travel as decimal strings.
func jsonID(id int64) string {
	return strconv.FormatInt(id, 10)
}

// jsonTime renders a timestamp for JSON: RFC 3339 in UTC.
func jsonTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}
