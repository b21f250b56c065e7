package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/auth-session/auth-session/internal/httpjson"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// The admin API: every session of every user, for superusers and members of
// the admin role.

// adminSession is a session as the admin API shows it: every field of a
// listed session (sql.SessionFields), whether it is active, and whether it
// is the caller's own.
type adminSession struct {
	session sql.ListedSession
	current bool
}

func (a adminSession) MarshalJSON() ([]byte, error) {
	b := sql.AppendSessionJSON([]byte{'{'}, &a.session, sql.SessionFields)
	return fmt.Appendf(b, `,"active":%t,"current":%t}`, a.session.Active, a.current), nil
}

type adminSessionsResponse struct {
	Sessions []adminSession `json:"sessions"`
	// Next is the before cursor of the next page, null on the last one.
	Next *string `json:"next"`
}

type adminRevokeResponse struct {
	Session adminSession `json:"session"`
}

// adminOnly passes a request to next only when its caller is, now, a
// superuser or a member of the admin role; others get 403. Membership is
// asked of the database on every request, so a REVOKE takes effect at once.
// It must run behind the session middleware.
func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.IdentityFrom(r.Context())
		ok, err := sql.IsAdmin(r.Context(), s.db, id.Username)
		switch {
		case err != nil:
			s.storeUnavailable(w, r, "cannot check admin role", err)
		case !ok:
			writeError(w, errAdminRequired)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// handleAdminSessions answers GET /api/v1/admin/sessions with one page of
// every user's sessions, newest first. Query parameters: the selection's
// fields (see pageFilter), limit (1 to 5000, default 500) and before (the
// next cursor of the previous page).
func (s *Server) handleAdminSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, _ := auth.IdentityFrom(ctx)
		f, ok := pageFilter(w, r)
		if !ok {
			return
		}
		f.IdleTimeout = s.policy().IdleTimeout
		if f.State == sql.StatusIdle && f.IdleTimeout == 0 {
			writeError(w, errIdleWithoutTimeout)
			return
		}
		s.sweeper.sweepIn(ctx)
		page, next, err := sql.ListSessionsPage(ctx, s.db, f)
		if err != nil {
			s.storeUnavailable(w, r, "cannot list sessions", err)
			return
		}
		out := adminSessionsResponse{Sessions: make([]adminSession, 0, len(page))}
		for _, session := range page {
			out.Sessions = append(out.Sessions, adminSession{session: session, current: session.ID == id.SessionID})
		}
		if next != 0 {
			cursor := jsonID(next)
			out.Next = &cursor
		}
		httpjson.Write(w, http.StatusOK, out)
	})
}

// pageFilter reads the query parameters of the admin listing, answering 400
// and returning false for one that is not valid.
func pageFilter(w http.ResponseWriter, r *http.Request) (sql.PageFilter, bool) {
	q := r.URL.Query()
	var f sql.PageFilter
	// The selection's fields by their names (sql.ParseSelection, the rules
	// of the CLI's flags and of the bulk revoke's body), a list field
	// repeated; user is another name for users, active=true for
	// state=active.
	given := map[string][]string{}
	for _, field := range sql.SelectionFields {
		if vs, ok := q[field.Name]; ok {
			given[field.Name] = vs
		}
	}
	if vs, ok := q["user"]; ok {
		given["users"] = append(given["users"], vs...)
	}
	active, ok := boolParam(w, r, "active")
	if !ok {
		return f, false
	}
	if active {
		if _, ok := given["state"]; ok {
			writeError(w, badRequest("active=true and state exclude each other: active=true is state=active"))
			return f, false
		}
		given["state"] = []string{sql.StatusActive}
	}
	sel, _, err := sql.ParseSelection(func(field *sql.SelectionField) []string { return given[field.Name] }, time.Now())
	if err != nil {
		writeError(w, badRequest("%s", err))
		return f, false
	}
	f.Selection = sel
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > sql.MaxPageLimit {
			writeError(w, badRequest("invalid limit %s: want a whole number from 1 to %d", strconv.Quote(raw), sql.MaxPageLimit))
			return f, false
		}
		f.Limit = n
	}
	if raw := q.Get("before"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 1 {
			writeError(w, badRequest("invalid before %s: want a session id, as in the next field of the previous page", strconv.Quote(raw)))
			return f, false
		}
		f.Before = n
	}
	return f, true
}

// handleAdminRevoke answers DELETE /api/v1/admin/sessions/{id} with the
// session's row once it is revoked; a session revoked before keeps its
// first revoked_at, and its first event. 404 for an unknown or malformed id.
func (s *Server) handleAdminRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, _ := auth.IdentityFrom(ctx)
		sessionID, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			writeError(w, errNotFound)
			return
		}
		revoked, err := s.revokeOne(r, revokedByAdminID, sessionID, nil)
		switch {
		case errors.Is(err, sql.ErrSessionNotFound):
			writeError(w, errNotFound)
			return
		case err != nil:
			s.storeUnavailable(w, r, "cannot revoke session", err)
			return
		}
		if revoked.ID == id.SessionID {
			http.SetCookie(w, s.cookie("", -1))
		}
		httpjson.Write(w, http.StatusOK, adminRevokeResponse{
			Session: adminSession{session: revoked, current: revoked.ID == id.SessionID},
		})
	})
}

// handleAdminLogoutUser answers POST /api/v1/admin/users/{name}/logout
// with {"revoked": N}: every session of the user is revoked in one
// statement, whether or not the role still exists.
func (s *Server) handleAdminLogoutUser() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.IdentityFrom(r.Context())
		revoked, err := s.logOutUser(r, revokedByAdminUser, r.PathValue("name"), 0)
		if err != nil {
			s.storeUnavailable(w, r, "cannot revoke the user's sessions", err)
			return
		}
		if revoked > 0 && r.PathValue("name") == id.Username {
			http.SetCookie(w, s.cookie("", -1))
		}
		httpjson.Write(w, http.StatusOK, logoutAllResponse{Revoked: revoked})
	})
}
