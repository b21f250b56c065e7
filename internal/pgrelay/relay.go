// Package pgrelay is a test helper: a TCP relay in front of a PostgreSQL
// server that counts what its clients ask of it, the connections they open
// and the round trips they make, by reading the frontend's side of the
// protocol as it passes. Tests use it to hold a command to the round trips
// it needs, a count that does not depend on the machine's speed.
package pgrelay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// Counts are what the relay's clients did.
type Counts struct {
	// Connections is the number of TCP connections opened.
	Connections int
	// TLSRequests is the number of SSLRequest packets sent (a server that
	// refuses TLS answers one with a single byte, on the same connection).
	TLSRequests int
	// RoundTrips is the number of times a client waited for the server to
	// be ready again: each Sync of the extended protocol and each simple
	// Query. The startup and authentication exchange is not counted.
	RoundTrips int
	// Sent is the start of each statement's text, in the order sent:
	// each Parse of the extended protocol and each simple Query.
	Sent []string
	// Encrypted is the number of connections that went on in TLS, whose
	// messages the relay cannot read (nor count).
	Encrypted int
}

// Relay forwards TCP connections to a PostgreSQL server.
type Relay struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	counts Counts
}

// Start starts a relay to target (host:port) on a loopback port; it stops
// when the test ends.
func Start(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	r := &Relay{ln: ln, target: target}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.accept(&wg)
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return r
}

// Addr is the relay's host:port.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// Counts returns what the clients did so far.
func (r *Relay) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
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

func (r *Relay) accept(wg *sync.WaitGroup) {
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
		wg.Add(2)
		go func() {
			defer wg.Done()
			io.Copy(client, server)
			client.Close()
		}()
		go func() {
			defer wg.Done()
			r.frontend(client, server)
			server.Close()
		}()
	}
}

// The codes of the untyped packets a client may send first.
const (
	sslRequest    = 80877103
	gssencRequest = 80877104
	cancelRequest = 80877102
)

// tlsHandshake begins a TLS handshake record; an untyped packet begins with
// its length, whose first byte is 0.
const tlsHandshake = 0x16

// frontend copies what the client sends to the server, counting its
// messages: first untyped packets (an SSLRequest, then the startup
// packet), then typed messages.
func (r *Relay) frontend(client io.Reader, server io.Writer) {
	for started := false; !started; {
		var head [8]byte
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		if head[0] == tlsHandshake {
			// The server accepted an SSLRequest: what follows is TLS.
			r.add(func(c *Counts) { c.Encrypted++ })
			if _, err := server.Write(head[:]); err == nil {
				io.Copy(server, client)
			}
			return
		}
		length, code := binary.BigEndian.Uint32(head[:4]), binary.BigEndian.Uint32(head[4:])
		if length < 8 {
			return
		}
		switch code {
		case sslRequest, gssencRequest:
			r.add(func(c *Counts) { c.TLSRequests++ })
		case cancelRequest:
		default:
			started = true
		}
		if err := forward(server, head[:], client, int64(length)-8); err != nil {
			return
		}
	}
	for {
		var head [5]byte
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		length := binary.BigEndian.Uint32(head[1:])
		if length < 4 || length > maxMessage {
			return
		}
		body := make([]byte, length-4)
		if _, err := io.ReadFull(client, body); err != nil {
			return
		}
		switch head[0] {
		case 'S':
			r.add(func(c *Counts) { c.RoundTrips++ })
		case 'Q':
			r.add(func(c *Counts) { c.RoundTrips++; c.Sent = append(c.Sent, statementStart(body)) })
		case 'P':
			// The statement's name, then its text, each ending in a 0.
			_, text, _ := bytes.Cut(body, []byte{0})
			r.add(func(c *Counts) { c.Sent = append(c.Sent, statementStart(text)) })
		}
		if _, err := server.Write(append(head[:], body...)); err != nil {
			return
		}
	}
}

// maxMessage bounds a message the relay reads whole.
const maxMessage = 64 << 20

// statementStart is the start of a statement's text, on one line.
func statementStart(text []byte) string {
	text, _, _ = bytes.Cut(text, []byte{0})
	s := strings.Join(strings.Fields(string(text)), " ")
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
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
