package httpjson_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/auth-session/auth-session/internal/httpjson"
)

func TestError(t *testing.T) {
	rec := httptest.NewRecorder()
	httpjson.Error(rec, http.StatusNotFound, `session "1" not found`)
	if rec.Code != http.StatusNotFound || rec.Body.String() != `{"error":"session \"1\" not found"}`+"\n" {
		t.Errorf("got %d %q; want 404 and the message as {\"error\": ...}", rec.Code, rec.Body)
	}
	for name, want := range map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s %q; want %q", name, got, want)
		}
	}
}

// TestWriteUnencodable: a value JSON cannot encode is a programming error,
// answered 500 rather than a half-written body.
func TestWriteUnencodable(t *testing.T) {
	rec := httptest.NewRecorder()
	httpjson.Write(rec, http.StatusOK, map[string]any{"f": func() {}})
	if rec.Code != http.StatusInternalServerError || rec.Body.String() != `{"error":"internal error"}`+"\n" {
		t.Errorf("got %d %q; want 500 internal error", rec.Code, rec.Body)
	}
}
