package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgcluster"
)

// Etcd is a one-member etcd (Debian's etcd-server) on loopback, the store
// Patroni keeps its leader lock in.
type Etcd struct {
	// ClientAddr is HOST:PORT of its client API.
	ClientAddr string
	dir        string
	d          *daemon
}

// StartEtcd starts etcd on free loopback ports with its data in a new
// temporary directory.
func StartEtcd(ctx context.Context) (_ *Etcd, err error) {
	clientPort, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "etcd-")
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", clientPort), fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	d, err := startDaemon("etcd", filepath.Join(dir, "etcd.log"), nil, false, "etcd",
		"--name", "e1", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "e1="+peer, "--initial-cluster-state", "new",
		"--log-level", "warn")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	e := &Etcd{ClientAddr: fmt.Sprintf("127.0.0.1:%d", clientPort), dir: dir, d: d}
	if err := d.waitTCP(ctx, e.ClientAddr); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// Stop stops etcd and deletes its data.
func (e *Etcd) Stop() {
	e.d.stop(10 * time.Second)
	os.RemoveAll(e.dir)
}

// PatroniOptions configure the nodes of one Patroni cluster.
type PatroniOptions struct {
	// Scope names the cluster in etcd.
	Scope string
	// Etcd holds the leader lock.
	Etcd *Etcd
	// SuperUser and SuperPassword are the superuser Patroni bootstraps;
	// the replication user is made alongside it.
	SuperUser, SuperPassword string
	// Sync turns on Patroni's synchronous_mode, with synchronous_commit
	// on: a commit returns once the synchronous replica has it, and only
	// that replica may be promoted.
	Sync bool
	// TTL is how long the leader lock outlives its holder; a failover
	// begins that long after the leader dies. Default 10s, Patroni's
	// loop_wait 1s and retry_timeout 4s fitting in it.
	TTL time.Duration
}

// PatroniNode is one Patroni process and the PostgreSQL it runs.
type PatroniNode struct {
	Name string
	// Port is PostgreSQL's port on 127.0.0.1; APIPort is Patroni's REST API.
	Port, APIPort int
	dir           string // holds the configuration, logs and data
	dataDir       string
	d             *daemon
	pg            *pgcluster.Cluster // the data directory, for pg_ctl and the watchdog
}

// StartPatroni starts a node of the cluster opts describes, on free ports.
// The first node of a scope bootstraps the cluster with initdb; the others
// join it as replicas, copied from the leader. It returns once the REST API
// answers; WaitForLeader waits for the cluster.
func StartPatroni(ctx context.Context, opts PatroniOptions, name string) (_ *PatroniNode, err error) {
	if opts.TTL == 0 {
		opts.TTL = 10 * time.Second
	}
	binDir, err := pgcluster.BinDir()
	if err != nil {
		return nil, err
	}
	port, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := pgcluster.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := workDir("patroni-" + name + "-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	n := &PatroniNode{Name: name, Port: port, APIPort: apiPort, dir: dir, dataDir: filepath.Join(dir, "data")}
	synchronousCommit := "off"
	if opts.Sync {
		synchronousCommit = "on"
	}
	conf := fmt.Sprintf(`scope: %[1]s
name: %[2]s
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:%[3]d
  connect_address: 127.0.0.1:%[3]d
etcd3:
  host: %[4]s
bootstrap:
  dcs:
    ttl: %[5]d
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    synchronous_mode: %[6]t
    postgresql:
      use_pg_rewind: false
      parameters:
        max_connections: 300
        synchronous_commit: "%[7]s"
        fsync: "off"
        full_page_writes: "off"
        wal_keep_size: 256MB
  initdb:
    - encoding: UTF8
    - locale: C
    - auth-host: scram-sha-256
    - auth-local: trust
postgresql:
  listen: 127.0.0.1:%[8]d
  connect_address: 127.0.0.1:%[8]d
  data_dir: %[9]s
  bin_dir: %[10]s
  pgpass: %[11]s/pgpass
  authentication:
    superuser:
      username: %[12]s
      password: %[13]q
    replication:
      username: replicator
      password: %[13]q
  parameters:
    unix_socket_directories: %[11]s
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 scram-sha-256
    - host replication all 127.0.0.1/32 scram-sha-256
`, opts.Scope, name, apiPort, opts.Etcd.ClientAddr, int(opts.TTL.Seconds()), opts.Sync, synchronousCommit,
		port, n.dataDir, binDir, dir, opts.SuperUser, opts.SuperPassword)
	confPath, err := writeOwned(dir, "patroni.yml", conf)
	if err != nil {
		return nil, err
	}
	// The watchdog stops the node's PostgreSQL once we exit, even if we die:
	// killing Patroni alone would leave it running.
	if n.pg, err = pgcluster.Adopt(binDir, n.dataDir); err != nil {
		return nil, err
	}
	if err := n.pg.StartWatchdog(); err != nil {
		return nil, err
	}
	n.d, err = startDaemon("patroni "+name, filepath.Join(dir, "patroni.log"), []string{"HOME=" + dir}, true, "patroni", confPath)
	if err != nil {
		n.pg.StopWatchdog()
		return nil, err
	}
	if err := n.d.waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", apiPort)); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

// Role is the node's role as its REST API reports it: "primary" (Patroni
// 3.0 says "master", which is returned as "primary"), "replica", or "" when
// it does not answer.
func (n *PatroniNode) Role(ctx context.Context) string {
	var status struct {
		Role  string `json:"role"`
		State string `json:"state"`
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/patroni", n.APIPort), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	if json.NewDecoder(resp.Body).Decode(&status) != nil || status.State != "running" {
		return ""
	}
	if status.Role == "master" {
		return "primary"
	}
	return status.Role
}

// WaitForCluster waits until one of nodes is the running primary and every
// other one a streaming replica, and returns the primary.
func WaitForCluster(ctx context.Context, nodes []*PatroniNode, timeout time.Duration) (*PatroniNode, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var primary *PatroniNode
		replicas := 0
		for _, n := range nodes {
			switch n.Role(ctx) {
			case "primary":
				primary = n
			case "replica":
				replicas++
			}
		}
		if primary != nil && replicas == len(nodes)-1 {
			return primary, nil
		}
		select {
		case <-ctx.Done():
			var logs []string
			for _, n := range nodes {
				logs = append(logs, n.d.logTail())
			}
			return nil, fmt.Errorf("the Patroni cluster has no running primary with %d replicas after %v%s", len(nodes)-1, timeout, strings.Join(logs, ""))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Kill ends the node as a lost machine would: Patroni killed, its
// PostgreSQL stopped at once (pg_ctl -m immediate), its lock left to
// expire in etcd.
func (n *PatroniNode) Kill() error {
	n.d.kill()
	if _, err := os.Stat(filepath.Join(n.dataDir, "postmaster.pid")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return n.pg.Crash()
}

// Stop stops Patroni, which stops its PostgreSQL, and deletes the node's
// files.
func (n *PatroniNode) Stop() {
	n.d.stop(30 * time.Second)
	_ = n.pg.Stop()
	n.pg.StopWatchdog()
	os.RemoveAll(n.dir)
}

// Addr returns the node's PostgreSQL address, HOST:PORT.
func (n *PatroniNode) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

// WaitForReplica waits until the leader that leaderURL reaches reports
// replica streaming (as its synchronous standby when sync) and replayed
// everything the leader had written when it was called. A replica that
// Patroni reports running may still be catching up; a failover before it
// has would lose what it has not replayed, whatever the test is about.
func WaitForReplica(ctx context.Context, leaderURL string, replica *PatroniNode, sync bool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, leaderURL)
	if err != nil {
		return fmt.Errorf("wait for replica %s: %w", replica.Name, err)
	}
	defer conn.Close(context.Background())
	var lsn string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return fmt.Errorf("wait for replica %s: %w", replica.Name, err)
	}
	for {
		var state string
		err := conn.QueryRow(ctx, `SELECT coalesce((SELECT state || ' ' || sync_state || ' replayed ' || coalesce(replay_lsn::text, 'nothing')
			|| CASE WHEN replay_lsn >= $2::pg_lsn AND state = 'streaming' AND (NOT $3 OR sync_state = 'sync') THEN ' ready' ELSE '' END
			FROM pg_stat_replication WHERE application_name = $1 LIMIT 1), 'not connected')`,
			replica.Name, lsn, sync).Scan(&state)
		if err != nil {
			return fmt.Errorf("wait for replica %s: %w", replica.Name, err)
		}
		if strings.HasSuffix(state, " ready") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %s has not caught up with the leader's %s after %v (synchronous: %t): %s%s",
				replica.Name, lsn, timeout, sync, state, replica.d.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
