package server

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/auth-session/auth-session/pkg/sql"
)

// credentialSweepInterval is how often a running server sweeps for
// sessions whose role changed (sql.CredentialsChanged) besides when a
// request presents one: those are refused at once by the session check,
// the sweep records them as revoked for list, the admin page and the audit
// trail. A sweep costs an index probe per (role, version) of the live
// sessions.
const credentialSweepInterval = time.Minute

// credentialSweepTimeout bounds one sweep.
const credentialSweepTimeout = 30 * time.Second

// credentialSweeper runs the credential sweep in the background, one at a
// time in this process (sweeps of several processes take turns in the
// database): kick starts one, or asks for one more after the one running,
// which then sees what changed while it ran.
type credentialSweeper struct {
	s *Server

	mu      sync.Mutex
	running bool
	again   bool
	done    sync.WaitGroup
}

// kick asks for a sweep and returns at once.
func (c *credentialSweeper) kick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		c.again = true
		return
	}
	c.running = true
	c.done.Add(1)
	go c.run()
}

func (c *credentialSweeper) run() {
	defer c.done.Done()
	for {
		c.sweep()
		c.mu.Lock()
		if !c.again {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.again = false
		c.mu.Unlock()
	}
}

// sweep runs one sweep and logs what it revoked.
func (c *credentialSweeper) sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), credentialSweepTimeout)
	defer cancel()
	c.sweepIn(ctx)
}

// sweepIn runs one sweep in ctx, in the caller's goroutine, and logs what
// it revoked: the admin listing runs one before it reads, as list and show
// do (pkg/cli endChangedCredentials), so that it shows revoked, with their
// reason, the sessions the session check refuses for their role's change
// even where no request presented them yet. A failure is logged, not
// returned: the check refuses those sessions all the same. Sweeps of this
// and other processes take turns in the database.
func (c *credentialSweeper) sweepIn(ctx context.Context) {
	host, _ := os.Hostname()
	// The connected user is recorded as the actor, as for the background
	// purge.
	by := sql.Actor{Via: "serve", ClientAddr: host}
	res, err := c.s.store.Revoke(ctx, sql.CredentialsChanged(), sql.RevokeOptions{By: by, StandbyTimeout: c.s.cfg.StandbyTimeout}, nil)
	if err != nil {
		// Not ctx: storeError says nothing of a context that ended, and a
		// sweep that ran out of time is worth a line.
		c.s.storeError(context.Background(), "cannot end the sessions whose role changed; the session check refuses them meanwhile", err)
		return
	}
	if res.Revoked > 0 {
		c.s.log.InfoContext(ctx, "ended the sessions whose role changed since login", "sessions", res.Revoked, "users", res.Users)
	}
}

// wait returns once no sweep runs. Call it once nothing kicks any more.
func (c *credentialSweeper) wait() {
	c.done.Wait()
}

// loop is a background job of Serve: a sweep at the start, for
// what changed while no server ran, then every credentialSweepInterval.
func (c *credentialSweeper) loop(ctx context.Context) {
	c.kick()
	every(ctx, credentialSweepInterval, c.kick)
}
