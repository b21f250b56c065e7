package server

import (
	"context"
	"net/http"
	"time"

	"github.com/auth-session/auth-session/internal/httpjson"
)

// healthTimeout bounds the database check, so that a hung database makes
// the health check fail rather than hang.
const healthTimeout = 2 * time.Second

type healthResponse struct {
	Status string `json:"status"`
}

// handleHealth answers GET /health, without authentication: 200 when the
// database answers a query, 503 when it does not.
func (s *Server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		if _, err := s.cfg.Pool.Exec(ctx, "SELECT 1"); err != nil {
			if !s.cfg.Outage.Failed(err) {
				s.log.WarnContext(r.Context(), "health check: database does not answer", "err", err)
			}
			httpjson.Write(w, http.StatusServiceUnavailable, healthResponse{Status: "database unavailable"})
			return
		}
		httpjson.Write(w, http.StatusOK, healthResponse{Status: "ok"})
	})
}
