package pgcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// watchdogScript waits for end of input, which comes when the process that
// holds the other end of the pipe exits, then stops the server and deletes
// what Start created. Arguments: pg_ctl, data directory, "1" to delete the
// data directory, socket directory to delete (or empty).
const watchdogScript = `while read -r _; do :; done
if [ -f "$2/postmaster.pid" ]; then "$1" -D "$2" -m fast -w -t 60 stop >/dev/null 2>&1; fi
if [ "$3" = 1 ]; then rm -rf "$2"; fi
if [ -n "$4" ]; then rmdir "$4" 2>/dev/null; fi
exit 0`

// StartWatchdog starts a shell that cleans up after this process once it
// exits. Only the kernel closing our end of the pipe can be relied on when a
// test binary panics or is killed; deferred functions never run then.
func (c *Cluster) StartWatchdog() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start cleanup watchdog: %w", err)
	}
	defer r.Close()
	deleteDir, socketDir := "0", ""
	if c.tempDir {
		deleteDir = "1"
	}
	if c.tempSocket {
		socketDir = c.SocketDir
	}
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "pgcluster-watchdog",
		filepath.Join(c.run.binDir, "pg_ctl"), c.Dir, deleteDir, socketDir)
	cmd.Dir = "/"
	cmd.Stdin = r
	// Its own session keeps it out of signals sent to our process group
	// (Ctrl-C), which would otherwise kill it together with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: c.run.cred}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start cleanup watchdog: %w", err)
	}
	go cmd.Wait() //nolint:errcheck // only reaps the process; its exit status means nothing
	c.watchdog = w
	return nil
}

// StopWatchdog lets the watchdog exit early, once cleanup is done.
func (c *Cluster) StopWatchdog() {
	if c.watchdog != nil {
		_ = c.watchdog.Close()
		c.watchdog = nil
	}
}
