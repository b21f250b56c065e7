package server

import (
	"net/http"

	"github.com/auth-session/auth-session/pkg/auth"
)

// routes lists every route of the HTTP interface. Handlers wrapped in
// s.authed answer 401 unless the request presents a valid session, and find
// the caller with auth.IdentityFrom(r.Context()). To add routes, add lines
// here and the handlers in a file of their own. s.handle counts each
// route's requests in the metrics, under its pattern.
func (s *Server) routes(mux *http.ServeMux) {
	s.handle(mux, "GET /health", s.handleHealth())
	// Prometheus' scrapes, without authentication: the metrics name no
	// user, session or address (docs/metrics.md). With a listener of
	// their own, they are served there only.
	if s.metrics != nil && s.cfg.MetricsListener == nil {
		s.handle(mux, "GET "+MetricsPath, s.metrics.handler(s.log))
	}

	// cockroach's paths end in a slash; both spellings are accepted, since
	// a redirect would turn a POST into a GET in most clients.
	s.handle(mux, "POST /api/v2/login/{$}", s.handleLogin())
	s.handle(mux, "POST /api/v2/login", s.handleLogin())
	s.handle(mux, "POST /api/v2/logout/{$}", s.authed(s.handleLogout()))
	s.handle(mux, "POST /api/v2/logout", s.authed(s.handleLogout()))
	s.handle(mux, "GET /api/v2/whoami", s.authed(s.handleWhoami()))
	// Reverse proxies' sub-requests, with any method: some send the
	// original one. It runs the check s.authed runs, answering without a
	// body. Non-GET methods still pass the cross-origin check in New.
	s.handle(mux, ForwardAuthPath, s.handleForwardAuth())

	// The session API. s.api adds the CSRF guard to s.authed: a
	// state-changing request authenticated by the cookie must carry
	// X-Requested-With. The /api/v2 routes above keep cockroach's
	// behaviour; the cookie's SameSite=Lax keeps cross-site POSTs from
	// carrying it.
	s.handle(mux, "GET /api/v1/auth/sessions", s.api(s.handleOwnSessions()))
	s.handle(mux, "DELETE /api/v1/auth/sessions/{id}", s.api(s.handleRevokeOwnSession()))
	s.handle(mux, "POST /api/v1/auth/logout-all", s.api(s.handleLogoutAll()))
	s.handle(mux, "GET /api/v1/admin/sessions", s.api(s.adminOnly(s.handleAdminSessions())))
	s.handle(mux, "DELETE /api/v1/admin/sessions/{id}", s.api(s.adminOnly(s.handleAdminRevoke())))
	s.handle(mux, "POST /api/v1/admin/sessions/revoke", s.api(s.adminOnly(s.handleAdminRevokeMatching())))
	s.handle(mux, "POST /api/v1/admin/users/{name}/logout", s.api(s.adminOnly(s.handleAdminLogoutUser())))
	s.handle(mux, "GET /api/v1/admin/events", s.api(s.adminOnly(s.handleAdminEvents())))

	// The admin page signs in and calls the API from the browser; the page
	// and its assets themselves need no session.
	// The root is the address serve prints: it leads to the page.
	s.handle(mux, "GET /{$}", s.handleAdminRedirect())
	s.handle(mux, "GET /admin", s.handleAdminRedirect())
	s.handle(mux, "GET /admin/{$}", s.handleAdminRedirect())
	s.handle(mux, "GET "+adminPagePath, s.handleAdminPage())
	s.handle(mux, "GET /admin/assets/{name}", s.handleAdminAsset())
}

// authed lets a request through to next only with a valid session, and
// names the caller in the request's log line.
func (s *Server) authed(next http.Handler) http.Handler {
	return s.verifier.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := auth.IdentityFrom(r.Context()); ok {
			noteUser(r.Context(), id.Username)
		}
		next.ServeHTTP(w, r)
	}))
}
