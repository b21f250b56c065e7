// Package pgrelay is a TCP relay in front of a PostgreSQL server that
// counts what its clients ask of it, the connections they open and the
// round trips they make, by reading the frontend's side of the protocol as
// it passes. Tests use it to hold a command to the round trips it needs, a
// count that does not depend on the machine's speed; bench/scale uses it to
// list each command's round trips with their statements.
package pgrelay

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
)

// Counts are what the relay's clients did.
type Counts struct {
	// Connections is the number of TCP connections opened.
	Connections int
	// RoundTrips are the clients' round trips, connecting included, in
	// the order the clients sent them.
	RoundTrips []RoundTrip
	// Encrypted is the number of connections that went on in TLS, whose
	// messages the relay cannot read (nor count).
	Encrypted int
}

// Relay forwards TCP connections to a PostgreSQL server.
type Relay struct {
	ln     net.Listener
	target string
	// conns counts the accept loop and the copies of each connection.
	conns sync.WaitGroup

	mu     sync.Mutex
	counts Counts
}

// Listen starts a relay to target (host:port) on a loopback port.
func Listen(target string) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Relay{ln: ln, target: target}
	r.conns.Add(1)
	go func() {
		defer r.conns.Done()
		r.accept()
	}()
	return r, nil
}

// Start starts a relay to target (host:port) on a loopback port; it stops
// when the test ends.
func Start(t testing.TB, target string) *Relay {
	t.Helper()
	r, err := Listen(target)
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	t.Cleanup(func() { r.Close() }) //nolint:errcheck
	return r
}

// Close stops accepting connections and waits for the open ones to end.
func (r *Relay) Close() error {
	err := r.ln.Close()
	r.conns.Wait()
	return err
}

// Addr is the relay's host:port.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Counts returns what the clients did so far. A round trip is counted
// before it is passed on, so it is among the counts once its client has
// its answer.
func (r *Relay) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counts
	c.RoundTrips = slices.Clone(c.RoundTrips)
	return c
}

// Reset sets every count back to zero.
func (r *Relay) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts = Counts{}
}

func (r *Relay) add(f func(*Counts)) {
	r.mu.Lock()
	f(&r.counts)
	r.mu.Unlock()
}

func (r *Relay) accept() {
	for {
		client, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.add(func(c *Counts) { c.Connections++ })
		server, err := net.Dial("tcp", r.target)
		if err != nil {
			client.Close()
			continue
		}
		r.conns.Add(2)
		go func() {
			defer r.conns.Done()
			io.Copy(client, server)
			client.Close()
		}()
		go func() {
			defer r.conns.Done()
			r.frontend(client, server)
			server.Close()
		}()
	}
}

// forward writes head, then the next n bytes of client, to server.
func forward(server io.Writer, head []byte, client io.Reader, n int64) error {
	if _, err := server.Write(head); err != nil {
		return err
	}
	copied, err := io.CopyN(server, client, n)
	if err == nil && copied != n {
		return errors.New("short message")
	}
	return err
}
