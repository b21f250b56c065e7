package ha

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
)

// Pool modes of pgbouncer.
const (
	PoolSession     = "session"
	PoolTransaction = "transaction"
)

// BouncerOptions configure a pgbouncer in front of a server.
type BouncerOptions struct {
	// Host and Port are the server's address.
	Host string
	Port int
	// Mode is PoolSession or PoolTransaction.
	Mode string
	// AuthUser and AuthPassword are a superuser's: pgbouncer logs in as it
	// to read the other roles' password hashes from pg_shadow (auth_query),
	// so that every role authenticates with its own password.
	AuthUser, AuthPassword string
}

// Bouncer is a running pgbouncer, started by StartBouncer.
type Bouncer struct {
	// Port is where it listens on 127.0.0.1.
	Port int
	dir  string
	d    *daemon
}

// StartBouncer starts pgbouncer (Debian's package) on a free loopback port,
// with SCRAM authentication checked against the server's own roles.
func StartBouncer(ctx context.Context, opts BouncerOptions) (_ *Bouncer, err error) {
	if opts.Mode != PoolSession && opts.Mode != PoolTransaction {
		return nil, fmt.Errorf("start pgbouncer: pool mode %q is not %q or %q", opts.Mode, PoolSession, PoolTransaction)
	}
	port, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := workDir("pgbouncer-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	userlist, err := writeOwned(dir, "userlist.txt", fmt.Sprintf("%q %q\n", opts.AuthUser, opts.AuthPassword))
	if err != nil {
		return nil, err
	}
	conf := strings.Join([]string{
		"[databases]",
		fmt.Sprintf("* = host=%s port=%d", opts.Host, opts.Port),
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		"listen_port = " + strconv.Itoa(port),
		"unix_socket_dir =",
		"pool_mode = " + opts.Mode,
		"auth_type = scram-sha-256",
		"auth_file = " + userlist,
		"auth_user = " + opts.AuthUser,
		"auth_query = SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = $1",
		"max_client_conn = 1000",
		"default_pool_size = 20",
		// A dead server's connections are given up on quickly, so that a
		// failover behind pgbouncer is followed in seconds.
		"server_connect_timeout = 3",
		"server_login_retry = 1",
		// A client waits at most this long for a server connection (the
		// default is 120 s): during a failover, queries fail in seconds
		// instead of hanging.
		"query_wait_timeout = 5",
		"pidfile = " + dir + "/pgbouncer.pid",
	}, "\n") + "\n"
	confPath, err := writeOwned(dir, "pgbouncer.ini", conf)
	if err != nil {
		return nil, err
	}
	d, err := startDaemon("pgbouncer", dir+"/pgbouncer.log", nil, true, "pgbouncer", confPath)
	if err != nil {
		return nil, err
	}
	b := &Bouncer{Port: port, dir: dir, d: d}
	if err := d.waitTCP(ctx, b.addr()); err != nil {
		d.kill()
		return nil, err
	}
	return b, nil
}

func (b *Bouncer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)) }

// URL returns the connection URL of database through pgbouncer.
func (b *Bouncer) URL(user, password, database string) string {
	u := url.URL{Scheme: "postgres", Host: b.addr(), Path: "/" + database, RawQuery: "sslmode=disable",
		User: url.UserPassword(user, password)}
	return u.String()
}

// Stop stops pgbouncer and deletes its files.
func (b *Bouncer) Stop() {
	b.d.stop(10 * time.Second)
	os.RemoveAll(b.dir)
}
