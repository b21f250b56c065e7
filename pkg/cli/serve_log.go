package cli

import (
	"io"
	"sync"
)

// maxPendingLog bounds the log bytes waiting for their write: a request
// that would go past it waits until they are written, as every request
// waited for its own line before, so a stderr that blocks (a full pipe)
// slows serve down rather than growing its memory.
const maxPendingLog = 1 << 20

// logWriter is serve's stderr under its log: the lines logged while one
// write(2) runs go out together in the next, from a goroutine of its own,
// so a request does not wait for its line's system call (one write per
// request was a tenth of serve's CPU under load). Each Write is one whole
// line from slog, appended whole, so lines keep their order and never
// interleave. Close writes what is left before serve returns; nothing
// waits longer than the write before it.
type logWriter struct {
	out io.Writer

	mu      sync.Mutex
	pending []byte
	// wake holds a token while pending has bytes the writer has not taken.
	wake chan struct{}
	// drained is signalled each time the writer takes pending.
	drained sync.Cond
	closed  bool
	done    chan struct{} // closed when the writer has written everything and stopped
}

// newLogWriter starts the writer of out; Close stops it.
func newLogWriter(out io.Writer) *logWriter {
	l := &logWriter{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	l.drained.L = &l.mu
	go l.run()
	return l
}

// Write queues p for the writer. After Close it writes p itself, once the
// writer has written the lines before it.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	for len(l.pending) > 0 && len(l.pending)+len(p) > maxPendingLog && !l.closed {
		l.drained.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		<-l.done // after the lines queued before it
		return l.out.Write(p)
	}
	l.pending = append(l.pending, p...)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default: // the writer is woken already
	}
	return len(p), nil
}

// run writes what is pending, each time it is woken, until Close.
func (l *logWriter) run() {
	defer close(l.done)
	var writing []byte
	for {
		<-l.wake
		l.mu.Lock()
		// The buffers swap: the next lines go to the one just written.
		writing, l.pending = l.pending, writing[:0]
		closed := l.closed
		l.drained.Broadcast()
		l.mu.Unlock()
		if len(writing) > 0 {
			// As before, a line that cannot be written is lost: there is
			// nowhere else to say so.
			l.out.Write(writing) //nolint:errcheck
		}
		if closed {
			return
		}
	}
}

// Close writes the lines still pending and returns once they are written;
// later lines are written as they come, by their caller.
func (l *logWriter) Close() {
	l.mu.Lock()
	l.closed = true
	l.drained.Broadcast()
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
}
