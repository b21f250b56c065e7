package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/auth-session/auth-session/pkg/sql"
)

// FuzzAdminQuery sends any query string to the checks in front of the
// admin listing: either it is refused with a 400 before any handler runs,
// or every parameter the handler reads is valid text and its page filter
// is in range, or refused with a 400 of its own.
func FuzzAdminQuery(f *testing.F) {
	for _, q := range []string{"user=web_user", "user=%00", "user=%ff", "user=%zz", "active=true&limit=5000",
		"limit=0", "limit=abc", "before=-1", "before=915681813374959618", "active=maybe", "a=1;b=2", "user=%C3%28"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		reached := false
		var filter sql.PageFilter
		var ok bool
		h := refuseMalformedInput(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached = true
			filter, ok = pageFilter(w, r)
		}))
		r := httptest.NewRequest("GET", "/api/v1/admin/sessions", nil)
		r.URL.RawQuery = rawQuery
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		q, parseErr := url.ParseQuery(rawQuery)
		valid := parseErr == nil
		for k, vs := range q {
			for _, v := range vs {
				valid = valid && isText(k) && isText(v)
			}
		}
		switch {
		case !valid && (reached || w.Code != http.StatusBadRequest):
			t.Fatalf("%q: malformed, but reached the handler %v, status %d", rawQuery, reached, w.Code)
		case valid && !reached:
			t.Fatalf("%q: well-formed, but refused with %d %s", rawQuery, w.Code, w.Body)
		case reached && !ok && w.Code != http.StatusBadRequest:
			t.Fatalf("%q: page filter refused with %d, want 400", rawQuery, w.Code)
		case reached && ok:
			if (len(filter.Users) > 0 && !utf8.ValidString(filter.Users[0])) || filter.Limit < 0 || filter.Limit > sql.MaxPageLimit || filter.Before < 0 {
				t.Fatalf("%q: accepted as %+v", rawQuery, filter)
			}
		}
	})
}

// FuzzPath sends any path to the same checks: a path that is not text is
// refused with a 400.
func FuzzPath(f *testing.F) {
	for _, p := range []string{"/api/v1/admin/users/web_user/logout", "/api/v1/admin/users/%ff/logout", "/a%00b", "/%C3%28"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, rawPath string) {
		u, err := url.Parse("http://localhost" + rawPath)
		if err != nil || u.Path == "" {
			t.Skip()
		}
		reached := false
		h := refuseMalformedInput(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
		r := httptest.NewRequest("GET", "/", nil)
		r.URL = u
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if q, qerr := url.ParseQuery(u.RawQuery); qerr == nil && len(q) == 0 && reached != isText(u.Path) {
			t.Fatalf("path %q: reached the handler %v, status %d", u.Path, reached, w.Code)
		}
	})
}
