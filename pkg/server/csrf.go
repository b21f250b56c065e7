package server

import (
	"net/http"

	"github.com/auth-session/auth-session/pkg/auth"
)

// csrfHeader is the header a state-changing request authenticated by the
// cookie must carry. A cross-site HTML form cannot send a custom header,
// and a cross-site script that adds one needs a CORS preflight, which this
// server never grants.
const csrfHeader = "X-Requested-With"

// api wraps a handler of the /api/v1 interface: it must present a valid
// session (s.authed) and pass the CSRF guard.
func (s *Server) api(next http.Handler) http.Handler {
	return s.authed(csrfGuard(next))
}

// csrfGuard answers 403 to a request that changes state, is authenticated by
// the session cookie, which a browser attaches to cross-site requests on its
// own, and lacks a non-empty X-Requested-With header. Requests authenticated
// by the X-Auth-Session or Authorization header cannot be forged that way,
// and need no guard. It must run behind the session middleware.
func csrfGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.IdentityFrom(r.Context())
		if id.Source == auth.SourceCookie && changesState(r.Method) && r.Header.Get(csrfHeader) == "" {
			writeError(w, errCSRF)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// changesState reports whether a request with method may change state.
func changesState(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
