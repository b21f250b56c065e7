package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// spoolMemoryLimit is how much output a spool keeps in memory before it
// moves to a temporary file, so revoking a million sessions stays small.
const spoolMemoryLimit = 4 << 20

// spool holds a command's output until its transaction commits, so that a
// retried transaction does not print twice and a failed one prints nothing.
type spool struct {
	dst  io.Writer
	mem  bytes.Buffer
	file *os.File
}

func newSpool(dst io.Writer) *spool { return &spool{dst: dst} }

// Write implements io.Writer.
func (s *spool) Write(p []byte) (int, error) {
	if s.file == nil && s.mem.Len()+len(p) > spoolMemoryLimit {
		f, err := os.CreateTemp("", "auth-session-spool-*")
		if err != nil {
			return 0, fmt.Errorf("spool output: %w", err)
		}
		// Unlinked at once: the file lives only as long as the process.
		os.Remove(f.Name())
		if _, err := s.mem.WriteTo(f); err != nil {
			f.Close()
			return 0, fmt.Errorf("spool output: %w", err)
		}
		s.file = f
	}
	if s.file != nil {
		return s.file.Write(p)
	}
	return s.mem.Write(p)
}

// reset drops everything written so far, for a retried transaction.
func (s *spool) reset() {
	s.mem.Reset()
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// flush copies the spooled output to the destination.
func (s *spool) flush() error {
	if s.file != nil {
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("spool output: %w", err)
		}
		_, err := io.Copy(s.dst, s.file)
		return err
	}
	_, err := s.mem.WriteTo(s.dst)
	return err
}

// discard releases the spool; safe after flush.
func (s *spool) discard() { s.reset() }
