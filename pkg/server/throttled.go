package server

import (
	"context"
	"sync"
	"time"

	"github.com/auth-session/auth-session/pkg/sql"
)

// throttledFlushEvery is how often, at most, a server writes the throttled
// attempts of one client address to the audit trail: a flood of them costs
// one UPDATE a second, not a row, or even a write, per attempt.
const throttledFlushEvery = time.Second

// throttledTally counts throttled attempts by client address until they are
// written, together, to the address's login.throttled event.
type throttledTally struct {
	mu      sync.Mutex
	pending map[string]*sql.ThrottledLogins
}

// countThrottled counts a throttled attempt from the request's address; the
// first of a batch schedules the batch's write.
func (s *Server) countThrottled(clientAddr, userAgent string) {
	s.throttled.mu.Lock()
	defer s.throttled.mu.Unlock()
	if batch, ok := s.throttled.pending[clientAddr]; ok {
		batch.Attempts++
		return
	}
	s.throttled.pending[clientAddr] = &sql.ThrottledLogins{ClientAddr: clientAddr, UserAgent: userAgent, Attempts: 1}
	time.AfterFunc(throttledFlushEvery, func() { s.flushThrottled(clientAddr) })
}

// flushThrottled writes the attempts counted from clientAddr, if any. It
// runs after the requests that counted them, on a context of its own.
func (s *Server) flushThrottled(clientAddr string) {
	s.throttled.mu.Lock()
	batch := s.throttled.pending[clientAddr]
	delete(s.throttled.pending, clientAddr)
	s.throttled.mu.Unlock()
	if batch == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := sql.RecordThrottledLogins(ctx, s.db, s.policy().LoginLimits, *batch); err != nil {
		s.storeError(ctx, "cannot record throttled logins", err)
	}
}

// flushAllThrottled writes every batch not written yet, at shutdown.
func (s *Server) flushAllThrottled() {
	s.throttled.mu.Lock()
	addrs := make([]string, 0, len(s.throttled.pending))
	for addr := range s.throttled.pending {
		addrs = append(addrs, addr)
	}
	s.throttled.mu.Unlock()
	for _, addr := range addrs {
		s.flushThrottled(addr)
	}
}
