package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/auth-session/auth-session/pkg/auth"
)

// ForwardAuthPath is the route reverse proxies ask, once per request they
// forward, whether the request presents a valid session: nginx's
// auth_request, Caddy's forward_auth, Traefik's ForwardAuth, haproxy.
const ForwardAuthPath = "/api/v1/auth/forward"

// Defaults of ForwardAuth's header names.
const (
	DefaultForwardUserHeader    = "X-Auth-Session-User"
	DefaultForwardSessionHeader = "X-Auth-Session-Id"
)

// ReturnToParam is the query parameter of the login URL that carries the
// path the browser asked for, so that the login page can send it back.
const ReturnToParam = "return_to"

// ForwardAuth configures the forward-authentication route.
type ForwardAuth struct {
	// UserHeader and SessionHeader name the response headers that carry
	// the session's user and id on a 200, for the proxy to copy onto the
	// request it forwards; empty means the defaults.
	UserHeader    string
	SessionHeader string
	// LoginURL, when set, is where a browser without a valid session is
	// sent: a path on the proxied site (/login) or an absolute http(s) URL.
	// A refused GET or HEAD then carries Location: LoginURL with
	// return_to=<the path asked for>; the status stays 401 unless the
	// proxy asks for ?redirect=true (see handleForwardAuth).
	LoginURL string
}

// withDefaults returns f with the default header names filled in, or an
// error naming the setting that cannot work.
func (f ForwardAuth) withDefaults() (ForwardAuth, error) {
	if f.UserHeader == "" {
		f.UserHeader = DefaultForwardUserHeader
	}
	if f.SessionHeader == "" {
		f.SessionHeader = DefaultForwardSessionHeader
	}
	return f, f.Validate()
}

// Validate reports a header name or login URL that the route cannot use,
// naming it and what is accepted. Empty header names are the defaults.
func (f ForwardAuth) Validate() error {
	for _, h := range []struct{ what, name string }{{"user header", f.UserHeader}, {"session header", f.SessionHeader}} {
		if h.name == "" {
			continue
		}
		if !isToken(h.name) {
			return fmt.Errorf("invalid forward-auth %s %q: want a header name of letters, digits and -, such as %s",
				h.what, h.name, DefaultForwardUserHeader)
		}
		switch http.CanonicalHeaderKey(h.name) {
		case http.CanonicalHeaderKey(auth.HeaderName), "Authorization", "Cookie", "Set-Cookie", "Location",
			"Content-Length", "Content-Type", "Host", "Connection", "Transfer-Encoding":
			return fmt.Errorf("invalid forward-auth %s %q: that header has a meaning of its own; choose another, such as %s",
				h.what, h.name, DefaultForwardUserHeader)
		}
	}
	if f.UserHeader != "" && strings.EqualFold(f.UserHeader, f.SessionHeader) {
		return fmt.Errorf("forward-auth user header and session header are both %q: choose two names", f.UserHeader)
	}
	if f.LoginURL != "" {
		if err := checkLoginURL(f.LoginURL); err != nil {
			return fmt.Errorf("invalid forward-auth login URL %q: %w", f.LoginURL, err)
		}
	}
	return nil
}

// checkLoginURL accepts a path of the proxied site or an absolute http(s)
// URL, without a fragment, so that appending the return address keeps it a
// URL of the operator's choosing.
func checkLoginURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return errors.New("it does not parse as a URL")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("want no #fragment")
	case u.Scheme == "" && u.Host == "":
		if !isLocalPath(s) {
			return errors.New("want a path starting with a single / (such as /login) or an absolute http(s) URL")
		}
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil:
		return errors.New("want an absolute http or https URL with a host and no user info, or a path such as /login")
	}
	return nil
}

// handleForwardAuth answers a proxy's sub-request: 200 with the session's
// user and id in the configured headers when the request presents a valid
// session, 401 when not, 503 when the store cannot be asked; never a body.
// The check is auth.Verifier.Authenticate, the one every authenticated
// route runs, with its touch of last_used_at; the session is presented as
// to any route: X-Auth-Session, Authorization: Bearer or the cookie.
//
// With a LoginURL, a refusal of an original GET or HEAD (X-Forwarded-Method
// or X-Original-Method, else the sub-request's own) carries a Location to
// the login page. Proxies that take only 2xx and 401 from the sub-request
// (nginx, haproxy) then redirect with it themselves; ?redirect=true, for
// proxies that pass the answer on to the browser (Caddy, Traefik), makes
// the refusal that 302 itself.
func (s *Server) handleForwardAuth() http.Handler {
	cfg := s.cfg.ForwardAuth
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirect := false
		if v := r.URL.Query().Get("redirect"); v != "" {
			var err error
			if redirect, err = strconv.ParseBool(v); err != nil {
				writeError(w, badRequest("invalid query parameter redirect=%s: want true or false", strconv.Quote(v)))
				return
			}
		}
		id, err := s.verifier.Authenticate(r)
		switch {
		case errors.Is(err, auth.ErrUnauthenticated):
			status := http.StatusUnauthorized
			if location := loginLocation(cfg.LoginURL, r); location != "" {
				w.Header().Set("Location", location)
				if redirect {
					status = http.StatusFound
				}
			}
			w.WriteHeader(status)
			return
		case err != nil:
			s.storeError(r.Context(), "cannot verify session", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		noteUser(r.Context(), id.Username)
		w.Header().Set(cfg.UserHeader, headerSafe(id.Username))
		w.Header().Set(cfg.SessionHeader, strconv.FormatInt(id.SessionID, 10))
		w.WriteHeader(http.StatusOK)
	})
}

// loginLocation is where a refused browser request goes: loginURL with the
// path it asked for as return_to, or "" when there is no login URL or the
// original request was not a GET or HEAD (a redirect would drop its body).
// The return address is only ever a path of the proxied site: the proxy's
// X-Forwarded-Uri or X-Original-URI, which the client may influence, is
// left out unless it is one, so no redirect leads off to an origin the
// request named.
func loginLocation(loginURL string, r *http.Request) string {
	if loginURL == "" {
		return ""
	}
	method := firstHeader(r, "X-Forwarded-Method", "X-Original-Method")
	if method == "" {
		method = r.Method
	}
	if method != http.MethodGet && method != http.MethodHead {
		return ""
	}
	returnTo := firstHeader(r, "X-Forwarded-Uri", "X-Original-Uri")
	if !isLocalPath(returnTo) || len(returnTo) > maxReturnTo {
		return loginURL
	}
	sep := "?"
	if strings.Contains(loginURL, "?") {
		sep = "&"
	}
	return loginURL + sep + ReturnToParam + "=" + url.QueryEscape(returnTo)
}

// maxReturnTo bounds the return address; a longer one is left out.
const maxReturnTo = 2048

// firstHeader is the value of the first of names that r carries.
func firstHeader(r *http.Request, names ...string) string {
	for _, name := range names {
		if v := r.Header.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// isLocalPath reports whether s is a path of the site it is served on: it
// starts with one / and not // or /\, which browsers read as another host,
// and holds no control characters.
func isLocalPath(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, `/\`) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// headerSafe renders a role name for a header value: printable ASCII other
// than % as is, every other byte (space, control, non-ASCII) and % itself
// percent-encoded. PostgreSQL allows any character but NUL in a role name,
// and a proxy may trim, fold or drop the rest; the usual names arrive
// unchanged, and every name can be decoded back.
func headerSafe(name string) string {
	if !strings.ContainsFunc(name, func(c rune) bool { return c <= 0x20 || c >= 0x7f || c == '%' }) {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c > 0x20 && c < 0x7f && c != '%' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// isToken reports whether s is an HTTP token, as a header name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
