package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Host authentication methods accepted in Options.HostAuth.
const (
	AuthSCRAM = "scram-sha-256"
	AuthTrust = "trust"
)

// DefaultSuperUser is the superuser name used when Options.SuperUser is empty.
const DefaultSuperUser = "postgres"

// Options configure a cluster.
type Options struct {
	// Dir is the data directory. It is created with initdb unless it already
	// holds a cluster. Empty means a new temporary directory, deleted by
	// Cluster.Remove.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// SuperUser is the bootstrap superuser's name; default "postgres". For an
	// existing cluster the name stored in Dir wins.
	SuperUser string
	// SuperPassword is the superuser's password, set at initdb; default a
	// random one. For an existing cluster the password stored in Dir wins.
	SuperPassword string
	// HostAuth is the pg_hba.conf method for TCP connections: AuthSCRAM
	// (default) or AuthTrust. It applies only when Start runs initdb.
	HostAuth string
	// Log receives the output of initdb and pg_ctl; nil discards it. Errors
	// carry the end of that output and of the server log either way.
	Log io.Writer
	// Settings are postgresql.conf lines applied after pgcluster's own, at
	// every start (such as "synchronous_commit = on" for a primary whose
	// commits must wait for a synchronous standby).
	Settings []string
	// HBA are pg_hba.conf lines put before initdb's own, which they
	// therefore override, such as "hostssl all all 127.0.0.1/32 cert" for
	// client certificates over TLS. Like HostAuth, they apply only when
	// Start runs initdb.
	HBA []string
	// TLS, when set, turns ssl on with its certificate, at every start.
	TLS *TLS
	// StopWithProcess makes a watchdog process stop the server (and delete a
	// temporary Dir) once the calling process exits, however it exits: a
	// test binary that panics or times out never runs its cleanup. It has no
	// effect when Start reuses a server it did not start.
	StopWithProcess bool
}

// TLS is the server's certificate for Options.TLS, in PEM.
type TLS struct {
	// Cert is the server's certificate (chain) and Key its private key.
	Cert, Key []byte
	// ClientCA, when set, is the CA whose client certificates the server
	// accepts (ssl_ca_file), as pg_hba's cert method needs.
	ClientCA []byte
}

// Cluster is a local PostgreSQL server started or found by Start. Its methods
// are not safe for concurrent use, except URL and SuperURL.
type Cluster struct {
	// Dir is the absolute data directory.
	Dir string
	// Port is the TCP port the server listens on at 127.0.0.1.
	Port int
	// SocketDir is the directory of the server's Unix socket.
	SocketDir string
	// SuperUser is the bootstrap superuser's name.
	SuperUser string
	// SuperPassword is the superuser's password.
	SuperPassword string
	// Reused reports that Start found the server already running in Dir and
	// left it as it was.
	Reused bool

	run        Runner
	log        io.Writer
	settings   []string // Options.Settings
	tls        *TLS     // Options.TLS
	tempDir    bool     // Dir was made by Start, so Remove deletes it
	tempSocket bool     // SocketDir was made by Start outside Dir
	watchdog   *os.File // write end of the watchdog's stdin; closing it ends the watchdog
}

// Start starts a cluster as described by opts and waits until it accepts
// connections, or returns the server already running in opts.Dir. On failure
// it stops what it started and deletes a temporary Dir.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.HostAuth == "" {
		opts.HostAuth = AuthSCRAM
	}
	if opts.HostAuth != AuthSCRAM && opts.HostAuth != AuthTrust {
		return nil, fmt.Errorf("start PostgreSQL: host auth %q is not %q or %q", opts.HostAuth, AuthSCRAM, AuthTrust)
	}
	if opts.SuperUser == "" {
		opts.SuperUser = DefaultSuperUser
	}
	binDir, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{SuperUser: opts.SuperUser, SuperPassword: opts.SuperPassword, log: opts.Log, settings: opts.Settings, tls: opts.TLS}
	if opts.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "pgcluster-"); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		c.tempDir = true
	} else if c.Dir, err = filepath.Abs(opts.Dir); err != nil {
		return nil, fmt.Errorf("resolve data directory %q: %w", opts.Dir, err)
	}
	started := false
	defer func() {
		if err == nil {
			return
		}
		if started {
			err = errors.Join(err, c.Stop())
		}
		if c.tempDir {
			_ = os.RemoveAll(c.Dir) // best effort: the start error matters more
		}
		c.StopWatchdog()
	}()
	if c.run, err = NewRunner(binDir, c.Dir); err != nil {
		return nil, err
	}

	if hasCluster(c.Dir) {
		running, err := c.running(ctx)
		if err != nil {
			return nil, err
		}
		c.loadCredentials()
		if running {
			if err := c.reuse(ctx); err != nil {
				return nil, err
			}
			return c, nil
		}
	} else if err := c.initdb(ctx, opts.HostAuth, opts.HBA); err != nil {
		return nil, err
	}
	if opts.StopWithProcess {
		// Before the server starts, so that even a crash while waiting for
		// it leaves nothing running.
		if err := c.StartWatchdog(); err != nil {
			return nil, err
		}
	}
	started = true
	if err := c.startServer(ctx, opts.Port); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// reuse adopts the server already running in Dir without restarting it.
func (c *Cluster) reuse(ctx context.Context) error {
	port, socketDir, err := readPostmasterPID(c.Dir)
	if err != nil {
		return err
	}
	c.Port, c.SocketDir, c.Reused = port, socketDir, true
	return c.waitReady(ctx)
}

// URL returns a connection URL for user on database over TCP. An empty
// password is left out.
func (c *Cluster) URL(user, password, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		Host:     c.Addr(),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	switch {
	case password != "":
		u.User = url.UserPassword(user, password)
	case user != "":
		u.User = url.User(user)
	}
	return u.String()
}

// Addr returns the server's address, HOST:PORT.
func (c *Cluster) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)) }

// SuperURL returns the superuser's connection URL for database.
func (c *Cluster) SuperURL(database string) string {
	return c.URL(c.SuperUser, c.SuperPassword, database)
}

// LogPath returns the server log file, which pg_ctl appends to at each start.
func (c *Cluster) LogPath() string {
	return filepath.Join(c.Dir, "server.log")
}

// Stop stops the server (pg_ctl -m fast stop -w) if it is running; stopping a
// stopped cluster is not an error.
func (c *Cluster) Stop() error {
	ctx := context.Background()
	running, err := c.running(ctx)
	if err != nil {
		return err
	}
	if running {
		if err := c.run.Run(ctx, c.log, "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
			return fmt.Errorf("stop PostgreSQL in %s: %w", c.Dir, err)
		}
	}
	if c.tempSocket || isTempSocketDir(c.SocketDir) {
		// Remove, not RemoveAll: the directory is empty once the server is
		// gone, and anything else in it is not ours to delete.
		_ = os.Remove(c.SocketDir)
	}
	return nil
}

// Promote makes a standby the primary (pg_ctl promote) and waits until it
// accepts writes.
func (c *Cluster) Promote(ctx context.Context) error {
	if err := c.run.Run(ctx, c.log, "pg_ctl", "-D", c.Dir, "-w", "-t", "60", "promote"); err != nil {
		return fmt.Errorf("promote the standby in %s: %w", c.Dir, err)
	}
	return nil
}

// Crash stops the server at once, as a crash would (pg_ctl -m immediate):
// no checkpoint, every connection cut. Start brings it back, with crash
// recovery.
func (c *Cluster) Crash() error {
	if err := c.run.Run(context.Background(), c.log, "pg_ctl", "-D", c.Dir, "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("crash PostgreSQL in %s: %w", c.Dir, err)
	}
	return nil
}

// Remove stops the server and deletes Dir if Start created it as a temporary
// directory.
func (c *Cluster) Remove() error {
	err := c.Stop()
	if c.tempDir {
		if rmErr := os.RemoveAll(c.Dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove data directory: %w", rmErr))
		}
	}
	c.StopWatchdog()
	return err
}

// Adopt returns a Cluster for a data directory another program runs (a
// Patroni node's), so that Stop, Crash and StartWatchdog work on it.
func Adopt(binDir, dataDir string) (*Cluster, error) {
	r, err := NewRunner(binDir, dataDir)
	if err != nil {
		return nil, err
	}
	return &Cluster{Dir: dataDir, run: r}, nil
}

// Runner returns the runner of the cluster's PostgreSQL programs, which
// runs them as the OS user that owns Dir.
func (c *Cluster) Runner() Runner { return c.run }

// DeleteDirOnRemove makes Remove delete Dir, as it does a temporary directory
// Start created, for a Dir its caller created for this cluster alone (a
// standby's copy of its primary).
func (c *Cluster) DeleteDirOnRemove() { c.tempDir = true }

// LogTail returns the end of the server log, as a section of an error
// message; empty when the log is.
func (c *Cluster) LogTail() string { return serverLogSection(c.serverLogSince(-1)) }

// running reports whether a server is running in Dir, by pg_ctl status.
func (c *Cluster) running(ctx context.Context) (bool, error) {
	if _, err := os.Stat(filepath.Join(c.Dir, "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	code, err := c.run.exitCode(ctx, "pg_ctl", "-D", c.Dir, "status")
	if err != nil {
		return false, fmt.Errorf("check PostgreSQL in %s: %w", c.Dir, err)
	}
	// pg_ctl status: 0 running, 3 not running, 4 no usable data directory.
	switch code {
	case 0:
		return true, nil
	case 3, 4:
		return false, nil
	default:
		return false, fmt.Errorf("check PostgreSQL in %s: pg_ctl status exited with %d", c.Dir, code)
	}
}

// hasCluster reports whether dir holds an initialized data directory.
func hasCluster(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "PG_VERSION"))
	return err == nil
}

// isTempSocketDir recognizes a socket directory made by an earlier Start, so
// that stopping a reused cluster does not leave it behind.
func isTempSocketDir(dir string) bool {
	return dir != "" && filepath.Dir(dir) == filepath.Clean(os.TempDir()) &&
		strings.HasPrefix(filepath.Base(dir), socketDirPrefix)
}
