package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// gatedWriter records each Write it is given; while gate is set, the
// first Write tells entered and waits for the gate to open.
type gatedWriter struct {
	entered chan struct{}
	gate    chan struct{}

	mu     sync.Mutex
	writes []string
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	if w.gate != nil {
		close(w.entered)
		<-w.gate
		w.gate = nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *gatedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.writes, "")
}

// TestLogWriterWritesLinesLoggedMeanwhileTogether: the lines logged while
// a write runs go out in one write after it, whole and in order, and Close
// returns once they are written; a line logged after Close is written
// after them.
func TestLogWriterWritesLinesLoggedMeanwhileTogether(t *testing.T) {
	t.Parallel()
	out := &gatedWriter{entered: make(chan struct{}), gate: make(chan struct{})}
	l := newLogWriter(out)
	log := slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{ReplaceAttr: withoutTime}))
	log.Info("first")
	<-out.entered
	var want strings.Builder
	for i := range 100 {
		log.Info("http request", "n", i)
		fmt.Fprintf(&want, "level=INFO msg=\"http request\" n=%d\n", i)
	}
	close(out.gate)
	l.Close()
	log.Info("after close")

	if len(out.writes) != 3 {
		t.Fatalf("%d writes, want 3 (the first line, the 100 logged while it was written, the line after Close): %q", len(out.writes), out.writes)
	}
	if out.writes[0] != "level=INFO msg=first\n" {
		t.Errorf("first write %q, want the first line", out.writes[0])
	}
	if out.writes[1] != want.String() {
		t.Errorf("second write:\n%s\nwant the 100 lines in order:\n%s", out.writes[1], want.String())
	}
	if out.writes[2] != "level=INFO msg=\"after close\"\n" {
		t.Errorf("third write %q, want the line after Close", out.writes[2])
	}
}

// TestLogWriterKeepsEveryLine: lines logged at once from many goroutines
// are all written, whole, each goroutine's in its order, by the time
// Close returns.
func TestLogWriterKeepsEveryLine(t *testing.T) {
	t.Parallel()
	out := &gatedWriter{}
	l := newLogWriter(out)
	log := slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{ReplaceAttr: withoutTime}))
	const goroutines, lines = 8, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				log.Info("http request", "g", g, "n", i)
			}
		})
	}
	wg.Wait()
	l.Close()

	next := make([]int, goroutines)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, line := range got {
		var g, n int
		if _, err := fmt.Sscanf(line, "level=INFO msg=\"http request\" g=%d n=%d", &g, &n); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if n != next[g] {
			t.Fatalf("goroutine %d: line %d after line %d", g, n, next[g]-1)
		}
		next[g]++
	}
	if len(got) != goroutines*lines {
		t.Errorf("%d lines, want %d", len(got), goroutines*lines)
	}
}

func withoutTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// TestServeLogsEveryRequestBeforeItReturns: serve's request lines go out
// in batches, and every one is on stderr, before "stopped", once serve
// has returned.
func TestServeLogsEveryRequestBeforeItReturns(t *testing.T) {
	t.Parallel()
	dbURL := newSessionDB(t)
	env, _, stderr := newEnv(terminals{})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() {
		served <- runServe(serveCtx, serveOptions{env: env, conn: ConnOptions{URL: dbURL}, httpAddr: "127.0.0.1:0", insecure: true,
			sessionLifetime: time.Hour, touchInterval: time.Minute, maxConns: 4, logLevel: slog.LevelInfo,
			ready: func(addr net.Addr) { ready <- addr }})
	}()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-served:
		t.Fatalf("serve: %v", err)
	}
	const requests = 200
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range requests / 8 {
				resp, err := http.Get("http://" + addr.String() + "/api/v2/whoami")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	stop()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}

	log := stderr.String()
	if n := strings.Count(log, `msg="http request" method=GET path=/api/v2/whoami status=401`); n != requests {
		t.Errorf("%d request lines, want %d:\n%s", n, requests, log)
	}
	if !strings.HasSuffix(log, "msg=stopped\n") {
		t.Errorf("stderr should end with msg=stopped:\n%s", log)
	}
}
