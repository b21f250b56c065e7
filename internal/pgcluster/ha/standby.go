package ha

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
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
	// Settings are postgresql.conf lines of the standby, as pgcluster.Options.Settings;
	// give it the primary's, so that it behaves alike once promoted.
	Settings []string
	// Log receives the output of pg_basebackup and pg_ctl.
	Log io.Writer
	// StopWithProcess, as pgcluster.Options.StopWithProcess.
	StopWithProcess bool
}

// StartStandby copies primary with pg_basebackup into a new temporary
// directory and starts it as a hot standby streaming from primary, on a free
// port. It waits
// until the standby accepts read-only connections and, when Sync, until the
// primary counts it as its synchronous standby.
func StartStandby(ctx context.Context, primary *pgcluster.Cluster, opts StandbyOptions) (_ *pgcluster.Cluster, err error) {
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
	if err := primary.Runner().Chown(dir); err != nil {
		return nil, err
	}
	if err := primary.Runner().MakeTraversable(dir); err != nil {
		return nil, err
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s application_name=%s",
		primary.Port, primary.SuperUser, primary.SuperPassword, opts.Name)
	err = primary.Runner().Run(ctx, opts.Log, "pg_basebackup", "-d", conninfo, "-D", dir,
		"--wal-method=stream", "--checkpoint=fast", "--no-sync")
	if err != nil {
		return nil, fmt.Errorf("copy the primary for a standby: %w", err)
	}
	if err := primary.Runner().WriteFile(filepath.Join(dir, "standby.signal"), ""); err != nil {
		return nil, err
	}
	settings := append([]string{
		"primary_conninfo = " + pgcluster.ConfString(conninfo),
		"hot_standby = on",
		// Keep serving reads while replaying: a read is refused rather
		// than replay delayed (the primary's revocations must apply).
		"max_standby_streaming_delay = 1s",
	}, opts.Settings...)
	s, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir, Settings: settings, Log: opts.Log, StopWithProcess: opts.StopWithProcess})
	if err != nil {
		return nil, err
	}
	s.DeleteDirOnRemove()
	if opts.Sync {
		if err := requireSyncStandby(ctx, primary, opts.Name); err != nil {
			s.Remove()
			return nil, err
		}
	}
	return s, nil
}

// requireSyncStandby lists name in primary's synchronous_standby_names and
// waits until primary reports it streaming as a synchronous standby.
func requireSyncStandby(ctx context.Context, primary *pgcluster.Cluster, name string) error {
	conn, err := pgx.Connect(ctx, primary.SuperURL("postgres"))
	if err != nil {
		return fmt.Errorf("make %s synchronous: %w", name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = "+pgcluster.ConfString(name)); err != nil {
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
			return fmt.Errorf("standby %s is not streaming as a synchronous standby after 30s%s", name, primary.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
