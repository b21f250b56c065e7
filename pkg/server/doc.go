// Package server is the HTTP interface that the auth-session cookies
// authenticate to, as run by `auth-session serve`.
//
// Every route is listed in one place, routes.go, and each handler lives in a
// file of its own. Handlers behind the session middleware (Server.authed)
// read the caller with auth.IdentityFrom(r.Context()). API responses are
// JSON, written with writeJSON and writeError; the admin page
// (/admin/sessions) is static HTML, JavaScript and CSS embedded from assets/,
// which calls the same API from the browser. Every 401 carries the same body,
// whatever check failed; the forward-auth route's, for proxies, has none. Each request is logged in one line with log/slog,
// never with a cookie, header value or secret.
//
// Passwords are never checked here: POST /api/v2/login/ opens a connection
// to the database as the role, with the password given, and refuses roles
// that the database would let in without one.
package server
