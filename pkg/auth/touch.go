package auth

import (
	"context"
	"sync"
	"time"

	"github.com/auth-session/auth-session/pkg/sql"
)

// Bounds of the touches waiting to be written.
const (
	// maxPendingTouches bounds the sessions waiting for their touch; a
	// request that finds it full leaves its touch to a later request, which
	// sees the touch due again.
	maxPendingTouches = 8192
	// maxTouchBatch bounds the sessions one statement touches.
	maxTouchBatch = 1024
	// touchTimeout bounds one touch statement.
	touchTimeout = 10 * time.Second
)

// toucher writes last_used_at, with the address and User-Agent of the
// request that found the touch due, off the request path. A request whose
// touch is due adds its session and goes on at once; one goroutine at a
// time, run only while there is something to write, touches every session
// added since its last statement in one statement. A session added again
// before that keeps the latest request's address and User-Agent. Nothing a request answers
// depends on the touch, so a request never waits for it, nor for a lock
// the touch would wait on (see sql.TouchSessions, which skips locked rows
// and gives up on a locked table).
type toucher struct {
	db       sql.DBTX
	interval time.Duration
	// failed is told of each statement that failed.
	failed func(err error, sessions int)

	mu      sync.Mutex
	pending map[int64]sql.Touch
	running bool
	idle    sync.Cond // signalled when running turns false
}

func newToucher(db sql.DBTX, interval time.Duration, failed func(error, int)) *toucher {
	t := &toucher{db: db, interval: interval, failed: failed, pending: map[int64]sql.Touch{}}
	t.idle.L = &t.mu
	return t
}

// add asks for the touch of a session to be written.
func (t *toucher) add(touch sql.Touch) {
	t.mu.Lock()
	if len(t.pending) >= maxPendingTouches {
		t.mu.Unlock()
		return
	}
	t.pending[touch.SessionID] = touch
	start := !t.running
	t.running = true
	t.mu.Unlock()
	if start {
		go t.run()
	}
}

// run writes the pending touches until there are none.
func (t *toucher) run() {
	for {
		t.mu.Lock()
		if len(t.pending) == 0 {
			t.running = false
			t.idle.Broadcast()
			t.mu.Unlock()
			return
		}
		touches := make([]sql.Touch, 0, min(len(t.pending), maxTouchBatch))
		for id, touch := range t.pending {
			if len(touches) == maxTouchBatch {
				break
			}
			touches = append(touches, touch)
			delete(t.pending, id)
		}
		t.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
		err := sql.TouchSessions(ctx, t.db, touches, t.interval)
		cancel()
		if err != nil {
			t.failed(err, len(touches))
		}
	}
}

// wait returns once every touch added before it is written or given up.
func (t *toucher) wait() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.running {
		t.idle.Wait()
	}
}
