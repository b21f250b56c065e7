package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/auth-session/auth-session/bench/internal/cmdbench"
)

// The round trips of the everyday commands: each command connects through
// a proxy that passes every byte on and reads the frontend side of the
// PostgreSQL protocol. A round trip begins when the client sends after the
// server has answered (or first); what the client sends until the server
// answers again is one round trip, however many messages it holds.

// commandTrips is what one command sent, round trip by round trip.
type commandTrips struct {
	command string
	// own is how the command's own statement begins, such as "INSERT
	// INTO system.web_sessions": the round trips before the first that
	// sends it are what the command does first.
	own   string
	trips []roundTrip
}

// roundTrip is one round trip: a line that says what it did, and the SQL
// of the statements it sent, each on one line.
type roundTrip struct {
	line       string
	statements []string
}

// countRoundTrips runs each everyday command once through the proxy, on a
// user or session that the rounds do not take, and psql's login INSERT
// beside them.
func (s *sizeRun) countRoundTrips(ctx context.Context) ([]commandTrips, error) {
	u, err := url.Parse(s.workURL)
	if err != nil {
		return nil, fmt.Errorf("the round trips need a postgres:// URL: %w", err)
	}
	p, err := startProxy(u.Host)
	if err != nil {
		return nil, err
	}
	defer p.close()
	u.Host = p.addr()
	via := u.String()
	id := strconv.FormatInt(s.revokeIDs[len(s.revokeIDs)-2], 10)
	user := userName(firstLogoutUser + logoutUsers - 2)
	commands := []struct {
		args []string
		own  string
	}{
		{[]string{"login", userName(loginUser), "--only-cookie"}, "INSERT INTO system.web_sessions"},
		{[]string{"logout", user, "--format", "tsv"}, "WITH r AS ( UPDATE system.web_sessions"},
		{[]string{"list", "--user", listUser(0), "--format", "tsv"}, `SELECT s.username AS "username"`},
		{[]string{"revoke", id, "--yes", "--format", "tsv"}, "WITH s AS ( UPDATE system.web_sessions"},
		{[]string{"list", "--expired-within", "1h", "--format", "tsv"}, `SELECT s.username AS "username"`},
	}
	var all []commandTrips
	for _, c := range commands {
		trips, err := p.countRun(func() error {
			_, err := cmdbench.Exec(ctx, nil, s.o.bin, append(c.args, "--url", via)...)
			return err
		})
		if err != nil {
			return nil, err
		}
		all = append(all, commandTrips{command: "auth-session " + strings.Join(c.args, " "), own: c.own, trips: trips})
	}
	trips, err := p.countRun(func() error {
		_, err := cmdbench.Exec(ctx, nil, s.o.psql, cmdbench.PsqlArgs(via, "-At", "-c", cmdbench.LoginSQL(userName(loginUser)))...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return append(all, commandTrips{command: "psql -c 'INSERT …' (login's raw counterpart)", own: "INSERT INTO system.web_sessions", trips: trips}), nil
}

func printRoundTrips(out io.Writer, all []commandTrips) {
	fmt.Fprintln(out, "Round trips to PostgreSQL, counted by a proxy that reads the protocol (a round trip: what the client sends before it waits for an answer):")
	fmt.Fprintln(out)
	for _, c := range all {
		own := slices.IndexFunc(c.trips, func(t roundTrip) bool {
			return slices.ContainsFunc(t.statements, func(s string) bool { return strings.HasPrefix(s, c.own) })
		})
		fmt.Fprintf(out, "- `%s`: %d round trips", c.command, len(c.trips))
		if own >= 0 {
			fmt.Fprintf(out, "; %d before the first that sends its own statement (%s …)", own, c.own)
		}
		fmt.Fprintln(out)
		for i, t := range c.trips {
			fmt.Fprintf(out, "  %d. %s\n", i+1, t.line)
		}
	}
}

// proxy passes connections on to a PostgreSQL server and records the round
// trips of each.
type proxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	wg       sync.WaitGroup
	trips    []roundTrip // of the connections since the last countRun
	err      error
}

func startProxy(upstream string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, upstream: upstream}
	go p.accept()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) close() { p.ln.Close() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			trips, err := relay(c, p.upstream)
			p.mu.Lock()
			p.trips = append(p.trips, trips...)
			p.err = errors.Join(p.err, err)
			p.mu.Unlock()
		}()
	}
}

// countRun runs run and returns the round trips of the connections it made,
// once they are closed.
func (p *proxy) countRun(run func() error) ([]roundTrip, error) {
	err := run()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	trips, perr := p.trips, p.err
	p.trips, p.err = nil, nil
	return trips, errors.Join(err, perr)
}

// relay passes bytes between client and a new connection to upstream
// until either side closes, and returns the client's round trips.
func relay(client net.Conn, upstream string) ([]roundTrip, error) {
	defer client.Close()
	server, err := net.Dial("tcp", upstream)
	if err != nil {
		return nil, err
	}
	defer server.Close()
	var answered atomic.Bool
	answered.Store(true)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				// Set before the client can see the answer, so that what
				// it sends next starts a new round trip.
				answered.Store(true)
				if _, err := client.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				client.Close()
				return
			}
		}
	}()
	var (
		r     frontendReader
		trips [][]string
		buf   = make([]byte, 64<<10)
	)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if answered.Swap(false) {
				trips = append(trips, nil)
			}
			msgs, perr := r.feed(buf[:n])
			if perr != nil {
				return nil, perr
			}
			trips[len(trips)-1] = append(trips[len(trips)-1], msgs...)
			if _, err := server.Write(buf[:n]); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	var out []roundTrip
	for _, t := range trips {
		if rt := r.describe(t); rt.line != "" {
			out = append(out, rt)
		}
	}
	return out, nil
}

// frontendReader splits what a client sends into messages.
type frontendReader struct {
	pending []byte
	started bool // past the startup message: messages are typed
	// named prepared statements, by name.
	prepared map[string]string
}

// Protocol codes of the untyped messages before startup.
const (
	sslRequestCode    = 80877103
	gssencRequestCode = 80877104
	protocol3         = 196608
)

// A message as recorded: its kind and, for Parse and Query, its SQL.
const (
	msgSSL     = "SSLRequest"
	msgGSS     = "GSSENCRequest"
	msgStartup = "startup"
	msgAuth    = "authentication"
)

func (r *frontendReader) feed(b []byte) ([]string, error) {
	r.pending = append(r.pending, b...)
	var msgs []string
	for {
		if !r.started {
			if len(r.pending) < 8 {
				return msgs, nil
			}
			n := int(binary.BigEndian.Uint32(r.pending))
			if n < 8 || n > 10_000 {
				return nil, fmt.Errorf("round trips: unreadable startup message (%d bytes): the server took TLS? pass a URL with sslmode=disable", n)
			}
			if len(r.pending) < n {
				return msgs, nil
			}
			switch binary.BigEndian.Uint32(r.pending[4:]) {
			case sslRequestCode:
				msgs = append(msgs, msgSSL)
			case gssencRequestCode:
				msgs = append(msgs, msgGSS)
			case protocol3:
				msgs = append(msgs, msgStartup)
				r.started = true
			default:
				return nil, errors.New("round trips: unknown startup message")
			}
			r.pending = r.pending[n:]
			continue
		}
		if len(r.pending) < 5 {
			return msgs, nil
		}
		n := int(binary.BigEndian.Uint32(r.pending[1:])) + 1
		if len(r.pending) < n {
			return msgs, nil
		}
		msgs = append(msgs, r.message(r.pending[0], r.pending[5:n]))
		r.pending = r.pending[n:]
	}
}

// message names one typed message: "P name\x00sql", "Q sql", "B name", or
// its type letter.
func (r *frontendReader) message(kind byte, body []byte) string {
	cstrings := bytes.Split(body, []byte{0})
	field := func(i int) string {
		if i < len(cstrings) {
			return string(cstrings[i])
		}
		return ""
	}
	switch kind {
	case 'p':
		return msgAuth
	case 'Q':
		return "Q" + field(0)
	case 'P':
		if field(0) != "" {
			if r.prepared == nil {
				r.prepared = map[string]string{}
			}
			r.prepared[field(0)] = field(1)
		}
		return "P" + field(1)
	case 'B':
		return "B" + r.prepared[field(1)]
	}
	return string(kind)
}

// describe says what a round trip's messages did; its line is empty for
// the closing Terminate, which waits for nothing.
func (r *frontendReader) describe(msgs []string) roundTrip {
	var rt roundTrip
	var parts []string
	var parsed string
	executes := 0
	statement := func(verb, sql string) {
		sql = oneLine(sql)
		rt.statements = append(rt.statements, sql)
		parts = append(parts, verb+": "+short(sql))
	}
	for _, m := range msgs {
		switch {
		case m == msgSSL, m == msgGSS, m == msgStartup, m == msgAuth:
			parts = append(parts, m)
		case strings.HasPrefix(m, "Q"):
			statement("simple query", m[1:])
		case strings.HasPrefix(m, "P"):
			parsed = m[1:]
		case strings.HasPrefix(m, "B"):
			if m[1:] != "" {
				parsed = m[1:]
			}
		case m == "E":
			executes++
			statement("execute", parsed)
		}
	}
	if executes == 0 && parsed != "" {
		statement("describe", parsed)
	}
	rt.line = strings.Join(parts, "; ")
	return rt
}

var spaces = regexp.MustCompile(`\s+`)

func oneLine(sql string) string { return spaces.ReplaceAllString(strings.TrimSpace(sql), " ") }

// short is a statement cut at 110 bytes, in backquotes.
func short(sql string) string {
	if len(sql) > 110 {
		sql = strings.ToValidUTF8(sql[:110], "") + " …"
	}
	return "`" + sql + "`"
}
