package pgrelay

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
)

// RoundTrip is what a client sent before it waited for the server's
// answer.
type RoundTrip struct {
	// Kind is what the round trip did: one of the kinds below.
	Kind string
	// Statements are the starts of the statements it ran (or, for a
	// Describe, prepared), each on one line, in the order sent.
	Statements []string
}

// The kinds of round trip. The first four connect: they are the untyped
// packets a client sends first, and each message of the authentication
// exchange.
const (
	SSLRequest     = "SSLRequest"
	GSSENCRequest  = "GSSENCRequest"
	Startup        = "startup"
	Authentication = "authentication"
	// SimpleQuery is a Query message, the simple protocol.
	SimpleQuery = "simple query"
	// Execute is a Sync after one Execute of the extended protocol or more.
	Execute = "execute"
	// Describe is a Sync after a Parse, without an Execute: the client
	// prepared statements.
	Describe = "describe"
	// Sync is a Sync after neither.
	Sync = "sync"
)

// Connecting says whether the round trip is part of opening the
// connection, before the client could send a statement.
func (rt RoundTrip) Connecting() bool {
	switch rt.Kind {
	case SSLRequest, GSSENCRequest, Startup, Authentication:
		return true
	}
	return false
}

// String says what the round trip did, such as "execute: `SELECT 1`"; a
// round trip that ran several statements names each, separated by "; ".
func (rt RoundTrip) String() string {
	if len(rt.Statements) == 0 {
		return rt.Kind
	}
	parts := make([]string, len(rt.Statements))
	for i, s := range rt.Statements {
		parts[i] = rt.Kind + ": `" + s + "`"
	}
	return strings.Join(parts, "; ")
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

// frontend copies what the client sends to the server, counting its round
// trips: first untyped packets (an SSLRequest, then the startup packet),
// then typed messages. Each round trip is counted before the message that
// ends it is passed on.
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
		case sslRequest:
			r.roundTrip(RoundTrip{Kind: SSLRequest})
		case gssencRequest:
			r.roundTrip(RoundTrip{Kind: GSSENCRequest})
		case cancelRequest:
			// Sent on a connection of its own, which the server closes
			// without an answer.
		default:
			r.roundTrip(RoundTrip{Kind: Startup})
			started = true
		}
		if err := forward(server, head[:], client, int64(length)-8); err != nil {
			return
		}
	}
	var x extended
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
		case 'p':
			r.roundTrip(RoundTrip{Kind: Authentication})
		case 'Q':
			r.roundTrip(RoundTrip{Kind: SimpleQuery, Statements: []string{statementStart(body)}})
		case 'S':
			r.roundTrip(x.sync())
		default:
			x.message(head[0], body)
		}
		if _, err := server.Write(append(head[:], body...)); err != nil {
			return
		}
	}
}

func (r *Relay) roundTrip(rt RoundTrip) {
	r.add(func(c *Counts) { c.RoundTrips = append(c.RoundTrips, rt) })
}

// maxMessage bounds a message the relay reads whole.
const maxMessage = 64 << 20

// extended follows a connection's extended protocol: which statement each
// Execute runs, and what was parsed and executed since the last Sync.
type extended struct {
	// named are the named prepared statements' starts, by name; unnamed
	// is the unnamed statement's.
	named   map[string]string
	unnamed string
	// bound is the statement of the portal bound last.
	bound string

	parsed, executed []string
}

// message takes one typed message other than a Sync.
func (x *extended) message(kind byte, body []byte) {
	switch kind {
	case 'P':
		// The statement's name, then its text, each ending in a 0.
		name, text, _ := bytes.Cut(body, []byte{0})
		s := statementStart(text)
		if len(name) == 0 {
			x.unnamed = s
		} else {
			if x.named == nil {
				x.named = map[string]string{}
			}
			x.named[string(name)] = s
		}
		x.parsed = append(x.parsed, s)
	case 'B':
		// The portal's name, then the statement's.
		_, rest, _ := bytes.Cut(body, []byte{0})
		name, _, _ := bytes.Cut(rest, []byte{0})
		if len(name) == 0 {
			x.bound = x.unnamed
		} else {
			x.bound = x.named[string(name)]
		}
	case 'E':
		x.executed = append(x.executed, x.bound)
	}
}

// sync ends the round trip that a Sync sends.
func (x *extended) sync() RoundTrip {
	rt := RoundTrip{Kind: Sync}
	switch {
	case len(x.executed) > 0:
		rt = RoundTrip{Kind: Execute, Statements: x.executed}
	case len(x.parsed) > 0:
		rt = RoundTrip{Kind: Describe, Statements: x.parsed}
	}
	x.parsed, x.executed = nil, nil
	return rt
}

// statementStart is the start of a statement's text, on one line: its
// first 110 bytes, then " …" when there is more.
func statementStart(text []byte) string {
	text, _, _ = bytes.Cut(text, []byte{0})
	s := strings.Join(strings.Fields(string(text)), " ")
	if len(s) > 110 {
		s = strings.ToValidUTF8(s[:110], "") + " …"
	}
	return s
}
