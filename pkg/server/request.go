package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// userAgent is the request's User-Agent, as the client sent it: pkg/sql
// makes it storable (valid UTF-8, capped) where it is written.
func userAgent(r *http.Request) string {
	return r.UserAgent()
}

// refuseMalformedInput answers 400 to a request whose query string does not
// parse, or whose path or query parameters are not valid UTF-8 text or hold
// NUL, naming the part; no handler then sees such input. net/url's Query
// drops a pair it cannot decode in silence, which would turn ?user=%zz into
// no filter at all.
func refuseMalformedInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isText(r.URL.Path) {
			writeError(w, badRequest("invalid path %s: a segment such as the user name is not valid UTF-8 text or holds NUL",
				strconv.QuoteToASCII(r.URL.Path)))
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			writeError(w, badRequest("malformed query string: %s", err))
			return
		}
		for name, values := range q {
			for _, v := range values {
				if !isText(name) || !isText(v) {
					writeError(w, badRequest("invalid query parameter %s = %s: want valid UTF-8 text without NUL",
						strconv.QuoteToASCII(name), strconv.QuoteToASCII(v)))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isText reports whether s is valid UTF-8 without NUL, which PostgreSQL
// refuses in text.
func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
