package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/cmdbench"
	"github.com/auth-session/auth-session/bench/internal/httpload"
	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// startServe runs `auth-session serve` on the work database, on a free
// loopback port, as an operator would start it (its request log to a file
// instead of a terminal), without the background purge, which would
// otherwise run during the measurements; stop ends it with SIGTERM.
func (s *sizeRun) startServe(ctx context.Context) (stop func() error, err error) {
	port, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	s.serveAddr = "127.0.0.1:" + strconv.Itoa(port)
	log, err := os.CreateTemp("", "bench-scale-serve-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(s.o.bin, "serve", "--url", s.workURL, "--insecure", "--http-addr", s.serveAddr, "--purge-interval", "0")
	cmd.Env, cmd.Stdout, cmd.Stderr = cmdbench.Env(), log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		os.Remove(log.Name())
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() error {
		defer os.Remove(log.Name())
		defer log.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			return nil
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("serve did not stop within 30 s of SIGTERM")
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.serveAddr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, nil
			}
		}
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(log.Name())
			return nil, errors.Join(fmt.Errorf("serve exited: %v\n%s", err, b), stop())
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), stop())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(errors.New("serve not healthy within 30 s"), stop())
		}
	}
}

// lookups measures, in one round, the session check statement, the raw
// lookup, whoami through serve and serve's HTTP floor, each for
// o.duration at o.concurrency, in reverse order every other round.
func (s *sizeRun) lookups(ctx context.Context, round int) error {
	clients := httpload.NewClients(s.serveAddr, s.o.concurrency)
	defer clients.Close()
	whoami := make([][]byte, len(s.keys))
	for i, id := range s.keys {
		whoami[i] = httpload.GetRequest(s.serveAddr, "/api/v2/whoami", "Cookie: "+auth.CookieName+"="+cookieValue(id))
	}
	noCookie := httpload.GetRequest(s.serveAddr, "/api/v2/whoami")
	policy := sql.CheckPolicy{TouchInterval: auth.DefaultTouchInterval}
	workloads := []httpload.Workload{
		{Name: "session check", Op: func(ctx context.Context, i int) error {
			c, err := sql.CheckSession(ctx, s.pool, s.keys[i%len(s.keys)], policy)
			if err == nil && (c.Revoked || c.Expired || !c.RoleValid) {
				err = fmt.Errorf("session %d refused by the check", c.ID)
			}
			return err
		}},
		{Name: "raw lookup", Op: func(ctx context.Context, i int) error {
			var c sql.SessionCheck
			var revokedAt, lastUsedAt *time.Time
			return s.pool.QueryRow(ctx, benchdb.RawLookup, s.keys[i%len(s.keys)]).
				Scan(&c.ID, &c.Username, &c.UserID, &c.HashedSecret, &c.ExpiresAt, &revokedAt, &lastUsedAt)
		}},
		{Name: "whoami", Op: func(_ context.Context, i int) error {
			return clients.Expect(i, whoami[i%len(whoami)], http.StatusOK)
		}},
		{Name: "HTTP floor", Op: func(_ context.Context, i int) error {
			return clients.Expect(i, noCookie, http.StatusUnauthorized)
		}},
	}
	load := loadAverage()
	if err := httpload.Warm(ctx, workloads, s.o.concurrency, s.o.warmup); err != nil {
		return err
	}
	if err := httpload.Round(ctx, workloads, s.o.concurrency, s.o.duration, round%2 == 1); err != nil {
		return err
	}
	check, raw := workloads[0].Stats(s.o.duration), workloads[1].Stats(s.o.duration)
	whoamiStats, floor := workloads[2].Stats(s.o.duration), workloads[3].Stats(s.o.duration)
	clientsText := fmt.Sprintf("%d clients, req/s", s.o.concurrency)
	s.report.measure("the session check statement (`sql.CheckSession`) vs a raw primary-key SELECT of the same rows, "+clientsText,
		perSecond, 0.9, true).add(check.Rate, raw.Rate, check.Rate/raw.Rate, load)
	s.report.measure("whoami through `serve` vs the raw primary-key SELECT, "+clientsText,
		perSecond, 0.8, true).add(whoamiStats.Rate, raw.Rate, whoamiStats.Rate/raw.Rate, load)
	s.report.measure("whoami vs serve's HTTP floor (401 without a cookie, no database), "+clientsText,
		perSecond, 0.8, true).add(whoamiStats.Rate, floor.Rate, whoamiStats.Rate/floor.Rate, load)
	s.report.measure("whoami p99 vs the raw SELECT's p99",
		milliseconds, 2, false).add(ms(whoamiStats.P99), ms(raw.P99), float64(whoamiStats.P99)/float64(raw.P99), load)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
