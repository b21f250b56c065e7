package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/auth-session/auth-session/internal/httpjson"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

type logoutResponse struct {
	SessionID string `json:"session_id"`
	RevokedAt string `json:"revoked_at"`
}

// handleLogout answers POST /api/v2/logout/: it revokes the session the
// request presents, so that its cookie stops working at once, records a
// session.revoked event in the same transaction, and tells the browser to
// forget the cookie.
func (s *Server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, _ := auth.IdentityFrom(ctx)
		// Revoked by someone else meanwhile, it keeps their event.
		revoked, err := s.revokeOne(r, revokedByLogout, id.SessionID, nil)
		if errors.Is(err, sql.ErrSessionNotFound) {
			// Purged between the check and now.
			writeError(w, errUnauthenticated)
			return
		}
		if err != nil {
			s.storeUnavailable(w, r, fmt.Sprintf("cannot revoke session %d", id.SessionID), err)
			return
		}
		http.SetCookie(w, s.cookie("", -1))
		httpjson.Write(w, http.StatusOK, logoutResponse{
			SessionID: jsonID(revoked.ID),
			RevokedAt: jsonTime(*revoked.RevokedAt),
		})
	})
}
