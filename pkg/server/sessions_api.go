package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/auth-session/auth-session/internal/httpjson"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// The self-service API: a caller sees and revokes its own sessions, and
// nobody else's. "Own" means minted for the caller's role, by name and OID.

// ownSession is one of the caller's sessions as the self-service API shows
// it: the fields of sql.OwnSessionFields, and whether it is the one making
// the request.
type ownSession struct {
	session sql.ListedSession
	current bool
}

func (o ownSession) MarshalJSON() ([]byte, error) {
	b := sql.AppendSessionJSON([]byte{'{'}, &o.session, sql.OwnSessionFields)
	return fmt.Appendf(b, `,"current":%t}`, o.current), nil
}

type ownSessionsResponse struct {
	Sessions []ownSession `json:"sessions"`
}

type revokedCurrentResponse struct {
	IsCurrent bool `json:"is_current"`
}

type logoutAllResponse struct {
	Revoked int64 `json:"revoked"`
}

// handleOwnSessions answers GET /api/v1/auth/sessions with the caller's
// active sessions (those the session check accepts, so none idle under
// the idle timeout), newest first; current marks the one making the request.
func (s *Server) handleOwnSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, _ := auth.IdentityFrom(ctx)
		sessions, err := sql.ListOwnSessions(ctx, s.db, owner(id), s.policy().IdleTimeout)
		if err != nil {
			s.storeUnavailable(w, r, "cannot list sessions", err)
			return
		}
		out := ownSessionsResponse{Sessions: make([]ownSession, 0, len(sessions))}
		for _, session := range sessions {
			out.Sessions = append(out.Sessions, ownSession{session: session, current: session.ID == id.SessionID})
		}
		httpjson.Write(w, http.StatusOK, out)
	})
}

// handleRevokeOwnSession answers DELETE /api/v1/auth/sessions/{id}: 204
// when the caller's session is revoked (or was already), 200 with
// {"is_current": true} when it was the calling session, whose cookie is then
// cleared, and the same 404 for an id that is missing, malformed or someone
// else's. The revocation and its session.revoked event share a transaction.
func (s *Server) handleRevokeOwnSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, _ := auth.IdentityFrom(ctx)
		// A malformed id is looked up as 0, which no session has, so that
		// it takes the very path of a missing one.
		sessionID, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			sessionID = 0
		}
		caller := owner(id)
		_, err = s.revokeOne(r, revokedOwnSession, sessionID, &caller)
		switch {
		case errors.Is(err, sql.ErrSessionNotFound):
			writeError(w, errNotFound)
		case err != nil:
			s.storeUnavailable(w, r, "cannot revoke session", err)
		case sessionID == id.SessionID:
			http.SetCookie(w, s.cookie("", -1))
			httpjson.Write(w, http.StatusOK, revokedCurrentResponse{IsCurrent: true})
		default:
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// handleLogoutAll answers POST /api/v1/auth/logout-all with {"revoked": N}:
// it revokes all of the caller's sessions in one statement, except the
// calling one with ?keep_current=true. When anything was revoked, a
// user.logged_out event is written in the same transaction.
func (s *Server) handleLogoutAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, _ := auth.IdentityFrom(ctx)
		keepCurrent, ok := boolParam(w, r, "keep_current")
		if !ok {
			return
		}
		var keep int64
		if keepCurrent {
			keep = id.SessionID
		}
		revoked, err := s.logOutUser(r, revokedLogoutAll, id.Username, keep)
		if err != nil {
			s.storeUnavailable(w, r, "cannot revoke the caller's sessions", err)
			return
		}
		if !keepCurrent {
			http.SetCookie(w, s.cookie("", -1))
		}
		httpjson.Write(w, http.StatusOK, logoutAllResponse{Revoked: revoked})
	})
}

// logOutUser revokes every session of username except keep (0 for none),
// with its event by the caller, and returns how many it revoked, counted
// in the metrics under path.
func (s *Server) logOutUser(r *http.Request, path revocationPath, username string, keep int64) (int64, error) {
	res, err := s.store.Revoke(r.Context(), sql.OfUsers(username), s.revokeOptions(r, keep), nil)
	s.metrics.revocation(path, res.Revoked, err)
	return res.Revoked, err
}

// revokeOne revokes session id, only if owner owns it when owner is not
// nil, with its event by the caller, and returns its row; counted in the
// metrics under path.
func (s *Server) revokeOne(r *http.Request, path revocationPath, id int64, owner *sql.Owner) (sql.ListedSession, error) {
	target := sql.ByIDs(id)
	if owner != nil {
		target = sql.OwnSession(*owner, id)
	}
	var revoked sql.ListedSession
	res, err := s.store.Revoke(r.Context(), target, s.revokeOptions(r, 0), func(rs sql.RevokedSession) error {
		revoked = rs.ListedSession
		return nil
	})
	s.metrics.revocation(path, res.Revoked, err)
	return revoked, err
}

// revokeOptions are those of a revocation by the caller of r, keeping
// session keep (0 for none), waiting for the standbys up to the bound.
func (s *Server) revokeOptions(r *http.Request, keep int64) sql.RevokeOptions {
	return sql.RevokeOptions{By: caller(r), KeepSession: keep, StandbyTimeout: s.cfg.StandbyTimeout}
}

// caller is who makes a change through the API, for its audit event.
func caller(r *http.Request) sql.Actor {
	id, _ := auth.IdentityFrom(r.Context())
	return sql.Actor{Name: id.Username, Via: "http", ClientAddr: auth.ClientAddr(r), UserAgent: userAgent(r)}
}

// boolParam reads the query parameter name as a boolean, false when absent.
// A value that is not a boolean is answered with 400, and ok is false.
func boolParam(w http.ResponseWriter, r *http.Request, name string) (value, ok bool) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return false, true
	}
	value, err := strconv.ParseBool(raw)
	if err != nil {
		writeError(w, badRequest("invalid %s %s: want true or false", name, strconv.Quote(raw)))
		return false, false
	}
	return value, true
}

// owner is the role whose sessions the caller may see and revoke.
func owner(id auth.Identity) sql.Owner {
	return sql.Owner{Username: id.Username, UserID: id.UserID}
}
