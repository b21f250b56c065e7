package ha

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// WebProxy is a running HTTP reverse proxy, nginx (StartNginx) or Caddy
// (StartCaddy), with its files in a directory of its own.
type WebProxy struct {
	// Addr is the HOST:PORT it listens on, as its configuration says.
	Addr string
	dir  string
	d    *daemon
}

// proxySetup is how a proxy runs from its directory dir: the files to write
// there, the environment it adds and its arguments.
type proxySetup func(dir string) (files map[string]string, env, args []string)

// startWebProxy makes a directory for program, writes its files there,
// starts it and waits until it listens on addr.
func startWebProxy(ctx context.Context, program, addr string, setup proxySetup) (_ *WebProxy, err error) {
	dir, err := os.MkdirTemp("", program+"-")
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", program, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	files, env, args := setup(dir)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("start %s: %w", program, err)
		}
	}
	p := &WebProxy{Addr: addr, dir: dir}
	if p.d, err = startDaemon(program, filepath.Join(dir, program+".log"), env, false, program, args...); err != nil {
		return nil, err
	}
	if err := p.d.waitTCP(ctx, addr); err != nil {
		p.d.kill()
		return nil, err
	}
	return p, nil
}

// Log is what the proxy has logged so far, for a failing test.
func (p *WebProxy) Log() string {
	b, _ := os.ReadFile(p.d.logPath)
	return string(b)
}

// Stop stops the proxy and deletes its files.
func (p *WebProxy) Stop() {
	p.d.stop(10 * time.Second)
	os.RemoveAll(p.dir)
}
