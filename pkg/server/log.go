package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/auth-session/auth-session/pkg/auth"
)

// requestNote collects what handlers learn about a request for its log line
// and its metrics.
type requestNote struct {
	username string
	// route is the metrics of the route that answered, nil until one does.
	route *routeMetrics
}

type requestNoteKey struct{}

// noteUser names the authenticated user in the request's log line.
func noteUser(ctx context.Context, username string) {
	if n, ok := ctx.Value(requestNoteKey{}).(*requestNote); ok {
		n.username = username
	}
}

// noteRoute names the route answering the request in its metrics.
func noteRoute(ctx context.Context, route *routeMetrics) {
	if n, ok := ctx.Value(requestNoteKey{}).(*requestNote); ok {
		n.route = route
	}
}

// logRequests writes one line per request: method, path, status, duration,
// client address, and the user when one was authenticated, and counts it in
// the metrics. Query strings and header values are left out, as they may
// carry credentials. A handler
// that panics is answered with 500 and logged, rather than taking the
// connection down with it.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		note := &requestNote{}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p)
				if rec.status == 0 {
					writeError(rec, errInternal)
				}
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			duration := time.Since(start)
			s.metrics.request(note.route, rec.status, duration)
			if rec.status == http.StatusServiceUnavailable && s.cfg.Outage.Down() {
				// Counted in the outage's summary lines instead.
				return
			}
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", rec.status),
				slog.Duration("duration", duration),
				slog.String("remote", auth.ClientAddr(r)),
			}
			if note.username != "" {
				attrs = append(attrs, slog.String("user", note.username))
			}
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "http request", attrs...)
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestNoteKey{}, note)))
	})
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter {
	return r.ResponseWriter
}
