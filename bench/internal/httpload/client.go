package httpload

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
)

// Client sends HTTP/1.1 GET requests over one kept-alive
// connection and reads the answers, with as little work as it can, like wrk:
// on a small machine that runs the database, the server and the load, Go's
// http.Client would spend as much CPU per request as the server under test.
// It understands only what the server sends: a status line, headers with
// Content-Length, and a body.
type Client struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
}

// Get sends request, a complete GET request, and returns the answer's
// status code, having read and discarded its body.
func (c *Client) Get(request []byte) (int, error) {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn, c.r = conn, bufio.NewReaderSize(conn, 4096)
	}
	status, err := c.roundTrip(request)
	if err != nil {
		c.conn.Close()
		c.conn = nil
	}
	return status, err
}

func (c *Client) roundTrip(request []byte) (int, error) {
	if _, err := c.conn.Write(request); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if name, value, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("answer without Content-Length")
	}
	if _, err := c.r.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}

// NewClient returns a client of the server at addr (HOST:PORT); it
// connects on its first request.
func NewClient(addr string) *Client { return &Client{addr: addr} }

// Clients are one Client per load goroutine. Load gives goroutine g the
// indexes i with i%len(clients) == g, so index i picks its client.
type Clients []*Client

// NewClients returns n clients of the server at addr.
func NewClients(addr string, n int) Clients {
	cs := make(Clients, n)
	for g := range cs {
		cs[g] = NewClient(addr)
	}
	return cs
}

// Expect sends request on the client of index i and checks the status.
func (cs Clients) Expect(i int, request []byte, want int) error {
	status, err := cs[i%len(cs)].Get(request)
	if err == nil && status != want {
		err = fmt.Errorf("answer %d, want %d", status, want)
	}
	return err
}

// Close closes the clients' connections.
func (cs Clients) Close() {
	for _, c := range cs {
		if c.conn != nil {
			c.conn.Close()
		}
	}
}

// GetRequest renders a GET request for path with extra header lines.
func GetRequest(host, path string, headers ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: auth-session-bench\r\n", path, host)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
