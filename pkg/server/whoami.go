package server

import (
	"net/http"

	"github.com/auth-session/auth-session/internal/httpjson"
	"github.com/auth-session/auth-session/pkg/auth"
)

type whoamiResponse struct {
	Username  string `json:"username"`
	SessionID string `json:"session_id"`
	ExpiresAt string `json:"expires_at"`
}

// handleWhoami answers GET /api/v2/whoami with the caller's session.
func (s *Server) handleWhoami() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.IdentityFrom(r.Context())
		httpjson.Write(w, http.StatusOK, whoamiResponse{
			Username:  id.Username,
			SessionID: jsonID(id.SessionID),
			ExpiresAt: jsonTime(id.ExpiresAt),
		})
	})
}
