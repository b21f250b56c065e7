package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverOSUser is the account PostgreSQL programs run as when we are root and
// the data directory does not belong to another user yet.
const serverOSUser = "postgres"

// Runner runs the PostgreSQL programs of one installation as the OS user that
// owns the cluster.
type Runner struct {
	binDir string
	// cred is nil when the programs run as the current user; otherwise the
	// account they switch to, because postgres refuses to run as root.
	cred *syscall.Credential
}

// NewRunner picks the OS user for the cluster in dataDir. As root it is the
// owner of an existing cluster (so a directory made by a non-root run still
// works), else the "postgres" user.
func NewRunner(binDir, dataDir string) (Runner, error) {
	r := Runner{binDir: binDir}
	if os.Geteuid() != 0 {
		return r, nil
	}
	if st, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
			r.cred = &syscall.Credential{Uid: sys.Uid, Gid: sys.Gid}
			return r, nil
		}
	}
	u, err := user.Lookup(serverOSUser)
	if err != nil {
		return r, fmt.Errorf("look up OS user %q (PostgreSQL refuses to run as root, so its programs run as that user; `apt-get install postgresql` creates it): %w", serverOSUser, err)
	}
	uid, errUID := strconv.ParseUint(u.Uid, 10, 32)
	gid, errGID := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(errUID, errGID); err != nil {
		return r, fmt.Errorf("parse ids of OS user %q: %w", serverOSUser, err)
	}
	r.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return r, nil
}

// Credential returns the OS user the programs run as: nil when they run as
// the current user.
func (r Runner) Credential() *syscall.Credential { return r.cred }

// command prepares a PostgreSQL program. Its working directory is / so that a
// current directory the server user cannot enter (such as /root) does not
// matter.
func (r Runner) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(r.binDir, name), args...)
	cmd.Dir = "/"
	if r.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	}
	// The server started by pg_ctl must not hold our output pipes open; if it
	// ever did, Wait would block forever without this.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs a program, copying its output to log (may be nil); on failure the
// error carries the end of that output.
func (r Runner) Run(ctx context.Context, log io.Writer, name string, args ...string) error {
	var out bytes.Buffer
	w := io.Writer(&out)
	if log != nil {
		w = io.MultiWriter(&out, log)
	}
	cmd := r.command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run %s %s: %w%s", name, strings.Join(args, " "), err, IndentTail(out.String()))
	}
	return nil
}

// exitCode runs a program whose exit status is its answer (pg_ctl status).
func (r Runner) exitCode(ctx context.Context, name string, args ...string) (int, error) {
	out, err := r.command(ctx, name, args...).CombinedOutput()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("run %s %s: %w%s", name, strings.Join(args, " "), err, IndentTail(string(out)))
	}
	return 0, nil
}

// Chown gives path to the server user; a no-op when not switching users.
func (r Runner) Chown(path string) error {
	if r.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
		return fmt.Errorf("give %s to the PostgreSQL OS user: %w", path, err)
	}
	return nil
}

// WriteFile writes a file only the server user can read.
func (r Runner) WriteFile(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return r.Chown(path)
}

// MakeTraversable adds the search (x) bit for others to every ancestor of dir
// that the server user could not otherwise enter, such as the 0700 parents
// testing.T.TempDir creates; without it postgres cannot reach its data.
func (r Runner) MakeTraversable(dir string) error {
	if r.cred == nil {
		return nil
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("check access to %s: %w", d, err)
		}
		if !r.canTraverse(st) {
			if err := os.Chmod(d, st.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("let the PostgreSQL OS user traverse %s: %w", d, err)
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (r Runner) canTraverse(st os.FileInfo) bool {
	perm := st.Mode().Perm()
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return perm&0o001 != 0
	case sys.Uid == r.cred.Uid:
		return perm&0o100 != 0
	case sys.Gid == r.cred.Gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}

// IndentTail keeps the last lines of a program's output for an error message.
func IndentTail(out string) string {
	out = strings.TrimSpace(out)
	if out == "" {
		return ""
	}
	lines := strings.Split(out, "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "\n    " + strings.Join(lines, "\n    ")
}
