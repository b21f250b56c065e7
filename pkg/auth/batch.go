package auth

import (
	"context"
	"sync"
	"time"

	"github.com/auth-session/auth-session/pkg/sql"
)

// DefaultMaxConcurrentLookups is how many session lookup statements a
// Verifier runs against the store at once when its MaxConcurrentLookups is
// zero. One statement reading many ids costs the database little more than
// one reading a single id, so under load fewer, larger statements serve more
// requests: on 2 CPUs shared by clients, server and database, 1 gave about
// 1.5 times the rate of 4 (bench/whoami).
const DefaultMaxConcurrentLookups = 1

// maxBatch bounds the ids one lookup statement reads.
const maxBatch = 256

// batchTimeout bounds a lookup statement. It runs for several requests, so
// it cannot use the context of any one of them.
const batchTimeout = 10 * time.Second

// lookupBatcher merges the session lookups of concurrent requests into
// one statement each. A lookup that finds fewer than max statements running
// starts one at once, so a request on an idle server never waits for
// company; otherwise it waits for the next statement, which takes every
// lookup waiting by then. Every lookup is answered by a statement that
// started after it arrived, so a revocation committed before a request
// arrives is always seen.
type lookupBatcher struct {
	db sql.DBTX
	// policy is what each statement measures the sessions against, as it
	// is when the statement starts.
	policy func() sql.CheckPolicy
	max    int

	mu      sync.Mutex
	running int
	waiting []*pendingLookup
}

type pendingLookup struct {
	id   int64
	done chan lookupResult // buffered: the statement never blocks on a request that left
}

type lookupResult struct {
	check sql.SessionCheck
	err   error
}

// lookup returns the session check of id, or sql.ErrSessionNotFound.
func (b *lookupBatcher) lookup(ctx context.Context, id int64) (sql.SessionCheck, error) {
	p := &pendingLookup{id: id, done: make(chan lookupResult, 1)}
	b.mu.Lock()
	b.waiting = append(b.waiting, p)
	var batch []*pendingLookup
	if b.running < b.max {
		b.running++
		batch = b.takeLocked()
	}
	b.mu.Unlock()
	if batch != nil {
		b.run(batch)
	}
	select {
	case r := <-p.done:
		return r.check, r.err
	case <-ctx.Done():
		return sql.SessionCheck{}, ctx.Err()
	}
}

// takeLocked removes up to maxBatch waiting lookups, oldest first.
func (b *lookupBatcher) takeLocked() []*pendingLookup {
	n := min(len(b.waiting), maxBatch)
	batch := b.waiting[:n:n]
	b.waiting = b.waiting[n:]
	if len(b.waiting) == 0 {
		b.waiting = nil
	}
	return batch
}

// run answers batch with one statement. If lookups arrived meanwhile, the
// next statement for them runs in a new goroutine, keeping the slot, so the
// request that ran this one can go on.
func (b *lookupBatcher) run(batch []*pendingLookup) {
	ids := make([]int64, len(batch))
	for i, p := range batch {
		ids[i] = p.id
	}
	found := make(map[int64]sql.SessionCheck, len(batch))
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	err := sql.CheckSessions(ctx, b.db, ids, b.policy(), func(c sql.SessionCheck) { found[c.ID] = c })
	cancel()
	for _, p := range batch {
		r := lookupResult{err: err}
		if err == nil {
			c, ok := found[p.id]
			r.check = c
			if !ok {
				r.err = sql.ErrSessionNotFound
			}
		}
		p.done <- r
	}

	b.mu.Lock()
	if len(b.waiting) == 0 {
		b.running--
		b.mu.Unlock()
		return
	}
	next := b.takeLocked()
	b.mu.Unlock()
	go b.run(next)
}
