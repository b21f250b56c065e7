// Package syncbuf has a buffer that one goroutine writes while another
// reads it: the output of a program or a progress writer that a test
// watches as it comes.
package syncbuf

import (
	"strings"
	"sync"
)

// Buffer is an io.Writer safe for concurrent use; String returns what was
// written so far.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write implements io.Writer.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
