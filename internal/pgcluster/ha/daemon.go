package ha

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
)

// daemon is a long-running program around PostgreSQL (pgbouncer, etcd,
// Patroni, haproxy), run in the foreground so that it can be stopped, and
// killed with the process that started it.
type daemon struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed once the program has exited
	err     error         // its exit status, once exited is closed
}

// startDaemon starts program with args, its output appended to logPath. As
// root it runs as the PostgreSQL OS user when asUser is set: pgbouncer and
// Patroni (through postgres) refuse to run as root.
func startDaemon(name, logPath string, env []string, asUser bool, program string, args ...string) (*daemon, error) {
	path, err := exec.LookPath(program)
	if err != nil {
		// Debian puts pgbouncer and haproxy in /usr/sbin, which a non-root
		// PATH may not hold.
		path, err = exec.LookPath(filepath.Join("/usr/sbin", program))
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %s not found on PATH; scripts/install-deps.sh installs it: %w", name, program, err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open its log: %w", name, err)
	}
	defer logFile.Close()
	cmd := exec.Command(path, args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The kernel kills it when we exit, however we exit: a test binary that
	// panics never runs its cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if asUser {
		cred, err := serverCredential("")
		if err != nil {
			return nil, err
		}
		cmd.SysProcAttr.Credential = cred
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	return d, nil
}

// Pid returns the program's process id.
func (d *daemon) Pid() int { return d.cmd.Process.Pid }

// stop asks the program to stop with SIGTERM and kills it if it has not
// within grace. Stopping a program that has exited is not an error.
func (d *daemon) stop(grace time.Duration) {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(grace):
		d.kill()
	}
}

// kill ends the program, and its process group, with SIGKILL and waits for it.
func (d *daemon) kill() {
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.exited
}

// waitTCP waits until addr accepts a connection, failing early when the
// program exits.
func (d *daemon) waitTCP(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("%s exited before listening on %s (%v)%s", d.name, addr, d.err, d.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%s does not listen on %s: %w%s", d.name, addr, ctx.Err(), d.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logTail is the end of the program's log, for an error message.
func (d *daemon) logTail() string {
	b, _ := os.ReadFile(d.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	if strings.TrimSpace(string(b)) == "" {
		return ""
	}
	return "\n  " + d.name + " log:" + pgcluster.IndentTail(string(b))
}

// serverCredential is the OS user the PostgreSQL programs run as: nil when
// we are not root, else the owner of the cluster in dataDir (if any) or the
// postgres user.
func serverCredential(dataDir string) (*syscall.Credential, error) {
	r, err := pgcluster.NewRunner("", dataDir)
	return r.Credential(), err
}

// workDir makes a directory the PostgreSQL OS user owns and can reach.
func workDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("create work directory: %w", err)
	}
	r, err := pgcluster.NewRunner("", dir)
	if err == nil {
		err = errors.Join(r.Chown(dir), r.MakeTraversable(dir))
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// writeOwned writes a file in a work directory for the PostgreSQL OS user.
func writeOwned(dir, name, content string) (string, error) {
	path := filepath.Join(dir, name)
	r, err := pgcluster.NewRunner("", dir)
	if err != nil {
		return "", err
	}
	return path, r.WriteFile(path, content)
}
