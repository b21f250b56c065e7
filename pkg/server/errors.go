package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/auth-session/auth-session/internal/httpjson"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// apiError is an error answer of the HTTP interface: its status and the
// message of its {"error": ...} body. writeError writes it; nothing else in
// the server writes an error answer, so that one cause has one wording.
type apiError struct {
	status int
	msg    string
}

// The fixed error answers.
var (
	// errUnauthenticated is the middleware's uniform 401, for every reason
	// a session is refused.
	errUnauthenticated = apiError{http.StatusUnauthorized, auth.ErrUnauthenticated.Error()}
	// errLoginRefused is every refused login, whatever the database's
	// reason: an unknown user and a wrong password read the same.
	errLoginRefused = apiError{http.StatusUnauthorized, "the username and password were refused"}

	errAdminRequired = apiError{http.StatusForbidden, "admin role required"}
	errCSRF          = apiError{http.StatusForbidden, "missing " + csrfHeader + " header (CSRF guard)"}
	errCrossOrigin   = apiError{http.StatusForbidden, "cross-origin request refused: send it from the server's own origin"}

	// errNotFound is the one answer for a session id that is missing,
	// malformed or someone else's.
	errNotFound = apiError{http.StatusNotFound, "session not found"}

	errLoginFormTooLarge = apiError{http.StatusRequestEntityTooLarge, "request body too large"}
	errLoginFormFields   = apiError{http.StatusBadRequest, "form fields username and password are required"}
	errNotJSON           = apiError{http.StatusUnsupportedMediaType, "want a JSON body (Content-Type: application/json)"}
	// errIdleWithoutTimeout answers a selection of the idle state on a
	// server without an idle timeout, where no session is idle.
	errIdleWithoutTimeout = apiError{http.StatusBadRequest, `invalid state "idle": no idle timeout applies (the setting idle-timeout, or serve --idle-timeout), so no session is idle`}

	// errLoginThrottled is the throttle's 429, the same for every user name.
	errLoginThrottled = apiError{http.StatusTooManyRequests, "too many failed logins from this address; try again later"}

	errInternal = apiError{http.StatusInternalServerError, "internal error"}

	// errDatabaseUnavailable is every 503 of a database that cannot be
	// asked, whichever statement found it so.
	errDatabaseUnavailable = apiError{http.StatusServiceUnavailable, "the database is unavailable"}
	// errTooManyLogins is the login's own limit, not the database's: the
	// client left while it waited for a password check to be free.
	errTooManyLogins = apiError{http.StatusServiceUnavailable, "too many logins at once"}
)

// badRequest is a 400 whose message names the bad part of the request.
func badRequest(format string, args ...any) apiError {
	return apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// writeError answers e: {"error": msg} with its status, and the Bearer
// challenge with a 401.
func writeError(w http.ResponseWriter, e apiError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", auth.Challenge)
	}
	httpjson.Error(w, e.status, e.msg)
}

// writeRefusal answers a request the session middleware refuses (its
// WriteError hook): the uniform 401, or the database's 503.
func writeRefusal(w http.ResponseWriter, _ *http.Request, status int, _ error) {
	if status == http.StatusUnauthorized {
		writeError(w, errUnauthenticated)
		return
	}
	writeError(w, errDatabaseUnavailable)
}

// storeUnavailable reports err (see storeError) and answers 503; or, for a
// revocation committed on the primary that the synchronous standbys did not
// confirm in time, 504 saying so.
func (s *Server) storeUnavailable(w http.ResponseWriter, r *http.Request, msg string, err error) {
	var standbyErr *sql.StandbyError
	if errors.As(err, &standbyErr) {
		s.log.WarnContext(r.Context(), msg, "err", err)
		writeError(w, apiError{http.StatusGatewayTimeout, standbyErr.Error()})
		return
	}
	s.storeError(r.Context(), msg, err)
	writeError(w, errDatabaseUnavailable)
}

// storeError logs an error of the store's with msg, unless it is one of an
// outage, which the outage Guard counts in its own log lines instead.
func (s *Server) storeError(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil {
		// The client left or the server is shutting down: nothing failed
		// that anyone waits to hear about.
		return
	}
	if !s.cfg.Outage.Failed(err) {
		s.log.ErrorContext(ctx, msg, "err", err)
	}
}

// readError is told of an error of the read pool, whose lookup was asked of
// the primary instead: an outage of the standby is logged by its Guard, in a
// few lines, anything else here.
func (s *Server) readError(ctx context.Context, err error) {
	if ctx.Err() != nil || s.cfg.ReadOutage.Failed(err) {
		return
	}
	s.log.WarnContext(ctx, "cannot check a session on the read pool; asked the primary", "err", err)
}
