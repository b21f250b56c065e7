package pgcluster

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
)

// StandbyOptions configure a streaming hot standby of a cluster.
type StandbyOptions struct {
	// Name is the standby's application_name, the name the primary's
	// synchronous_standby_names lists; default "standby".
	Name string
	// Sync makes the standby synchronous: the primary's commits wait for
	// it (synchronous_standby_names), and, with synchronous_commit on in
	// the primary's Settings, every commit does. Otherwise it is
	// asynchronous.
	Sync bool
	// Settings are postgresql.conf lines of the standby, as Options.Settings;
	// give it the primary's, so that it behaves alike once promoted.
	Settings []string
	// Log receives the output of pg_basebackup and pg_ctl.
	Log io.Writer
	// StopWithProcess, as Options.StopWithProcess.
	StopWithProcess bool
}

// StartStandby copies c with pg_basebackup into a new temporary directory
// and starts it as a hot standby streaming from c, on a free port. It waits
// until the standby accepts read-only connections and, when Sync, until the
// primary counts it as its synchronous standby.
func (c *Cluster) StartStandby(ctx context.Context, opts StandbyOptions) (_ *Cluster, err error) {
	if opts.Name == "" {
		opts.Name = "standby"
	}
	dir, err := os.MkdirTemp("", "pgcluster-standby-")
	if err != nil {
		return nil, fmt.Errorf("create standby data directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create standby data directory: %w", err)
	}
	if err := c.run.chown(dir); err != nil {
		return nil, err
	}
	if err := c.run.makeTraversable(dir); err != nil {
		return nil, err
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s application_name=%s",
		c.Port, c.SuperUser, c.SuperPassword, opts.Name)
	err = c.run.run(ctx, opts.Log, "pg_basebackup", "-d", conninfo, "-D", dir,
		"--wal-method=stream", "--checkpoint=fast", "--no-sync")
	if err != nil {
		return nil, fmt.Errorf("copy the primary for a standby: %w", err)
	}
	if err := c.run.writeFile(filepath.Join(dir, "standby.signal"), ""); err != nil {
		return nil, err
	}
	settings := append([]string{
		"primary_conninfo = " + confString(conninfo),
		"hot_standby = on",
		// Keep serving reads while replaying: a read is refused rather
		// than replay delayed (the primary's revocations must apply).
		"max_standby_streaming_delay = 1s",
	}, opts.Settings...)
	s, err := Start(ctx, Options{Dir: dir, Settings: settings, Log: opts.Log, StopWithProcess: opts.StopWithProcess})
	if err != nil {
		return nil, err
	}
	s.tempDir = true
	if opts.Sync {
		if err := c.requireSyncStandby(ctx, opts.Name); err != nil {
			s.Remove()
			return nil, err
		}
	}
	return s, nil
}

// requireSyncStandby lists name in c's synchronous_standby_names and waits
// until c reports it streaming as a synchronous standby.
func (c *Cluster) requireSyncStandby(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.SuperURL("postgres"))
	if err != nil {
		return fmt.Errorf("make %s synchronous: %w", name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = "+confString(name)); err != nil {
		return fmt.Errorf("make %s synchronous: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("make %s synchronous: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		var sync bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_replication
			WHERE application_name = $1 AND sync_state = 'sync' AND state = 'streaming')`, name).Scan(&sync)
		if err != nil {
			return fmt.Errorf("wait for standby %s: %w", name, err)
		}
		if sync {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("standby %s is not streaming as a synchronous standby after 30s%s", name, serverLogSection(c.serverLogSince(-1)))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Promote makes a standby the primary (pg_ctl promote) and waits until it
// accepts writes.
func (c *Cluster) Promote(ctx context.Context) error {
	if err := c.run.run(ctx, c.log, "pg_ctl", "-D", c.Dir, "-w", "-t", "60", "promote"); err != nil {
		return fmt.Errorf("promote the standby in %s: %w", c.Dir, err)
	}
	return nil
}

// Crash stops the server at once, as a crash would (pg_ctl -m immediate):
// no checkpoint, every connection cut. Start brings it back, with crash
// recovery.
func (c *Cluster) Crash() error {
	if err := c.run.run(context.Background(), c.log, "pg_ctl", "-D", c.Dir, "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("crash PostgreSQL in %s: %w", c.Dir, err)
	}
	return nil
}
