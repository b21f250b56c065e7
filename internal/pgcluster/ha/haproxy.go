package ha

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
)

// Backend is one server behind an haproxy frontend.
type Backend struct {
	// Addr is HOST:PORT the traffic goes to.
	Addr string
	// CheckAddr, when set, is where the health check goes instead, such as
	// Patroni's REST API for its PostgreSQL.
	CheckAddr string
}

// Frontend is one port haproxy listens on, balancing over its backends.
type Frontend struct {
	// HTTP balances requests (mode http) round-robin; otherwise
	// connections (mode tcp) go to the first healthy backend, as a
	// PostgreSQL primary must.
	HTTP bool
	// CheckPath is the path of the backends' HTTP health check: /health
	// for serve, /primary for Patroni (200 only on the leader). Empty
	// checks with a TCP connect.
	CheckPath string
	// ForwardFor adds the client's address to X-Forwarded-For (mode http).
	ForwardFor bool
	Backends   []Backend
}

// HAProxy is a running haproxy (Debian's package).
type HAProxy struct {
	// Addrs are the frontends' addresses, in the order given.
	Addrs []string
	dir   string
	d     *daemon
}

// StartHAProxy starts haproxy with the frontends on free loopback ports,
// health-checking every backend twice a second.
func StartHAProxy(ctx context.Context, frontends ...Frontend) (_ *HAProxy, err error) {
	dir, err := os.MkdirTemp("", "haproxy-")
	if err != nil {
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	h := &HAProxy{dir: dir}
	conf := []string{
		"global", "  maxconn 4000",
		"defaults", "  timeout connect 2s", "  timeout client 1m", "  timeout server 1m", "  timeout check 1s",
	}
	for i, f := range frontends {
		port, err := pgcluster.FreePort()
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		h.Addrs = append(h.Addrs, addr)
		mode := "tcp"
		if f.HTTP {
			mode = "http"
		}
		conf = append(conf, fmt.Sprintf("listen f%d", i), "  mode "+mode, "  bind "+addr)
		if f.CheckPath != "" {
			conf = append(conf, "  option httpchk GET "+f.CheckPath)
		}
		if f.ForwardFor {
			conf = append(conf, "  option forwardfor")
		}
		if f.HTTP {
			conf = append(conf, "  balance roundrobin")
		} else {
			// The first healthy backend takes every connection; the others
			// are backups. A backend that fails its check has its
			// connections cut, so clients reconnect to the new primary.
			conf = append(conf, "  balance first", "  default-server on-marked-down shutdown-sessions")
		}
		for j, b := range f.Backends {
			line := fmt.Sprintf("  server b%d %s check inter 500ms fall 2 rise 1", j, b.Addr)
			if b.CheckAddr != "" {
				_, checkPort, _ := strings.Cut(b.CheckAddr, ":")
				line += " port " + checkPort
			}
			conf = append(conf, line)
		}
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	if h.d, err = startDaemon("haproxy", filepath.Join(dir, "haproxy.log"), nil, false, "haproxy", "-db", "-f", path); err != nil {
		return nil, err
	}
	for _, addr := range h.Addrs {
		if err := h.d.waitTCP(ctx, addr); err != nil {
			h.Stop()
			return nil, err
		}
	}
	return h, nil
}

// Stop stops haproxy and deletes its files.
func (h *HAProxy) Stop() {
	h.d.stop(10 * time.Second)
	os.RemoveAll(h.dir)
}
