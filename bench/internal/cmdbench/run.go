// Package cmdbench measures auth-session's commands against psql running
// the statement that does the same work, as whole processes: the wall time,
// CPU time and peak memory of each run (the kernel's rusage of the child),
// runs of the two programs alternated, and the raw statements themselves.
package cmdbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
)

// Run is one finished process.
type Run struct {
	Wall time.Duration
	// CPU is the user and system time of the process itself; the rest of
	// the wall time is start-up, the server's work and waiting.
	CPU time.Duration
	// MaxRSS is the peak resident set size, in bytes.
	MaxRSS int64
	// Stopped is set when ExecCapped stopped the process at its limit.
	Stopped bool
}

// Env is the environment of both programs: no connection settings
// besides the URL they are given, and UTC for psql's timestamps as ours.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "AUTH_SESSION_") {
			env = append(env, kv)
		}
	}
	return append(env, "PGTZ=UTC")
}

// Exec runs name with args, stdout to w, and returns its wall time from
// start to exit, its CPU time and its peak resident set size. A nil w is
// /dev/null, given to the child as its descriptor, so that no copying in
// this process is timed.
func Exec(ctx context.Context, w io.Writer, name string, args ...string) (Run, error) {
	return execute(ctx, w, 0, name, args...)
}

// ExecCapped is Exec to /dev/null for a process that may grow without
// bound: once its resident set passes limit bytes it is killed, and the
// run is returned with Stopped set and MaxRSS at least limit, not as an
// error, so that a machine shared with others is never driven into swap.
func ExecCapped(ctx context.Context, limit int64, name string, args ...string) (Run, error) {
	return execute(ctx, nil, limit, name, args...)
}

func execute(ctx context.Context, w io.Writer, limit int64, name string, args ...string) (Run, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = Env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if w == nil {
		devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return Run{}, err
		}
		defer devNull.Close()
		cmd.Stdout = devNull
	} else {
		cmd.Stdout = w
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return Run{}, fmt.Errorf("%s: %w", name, err)
	}
	stopped := make(chan bool, 1)
	if limit > 0 {
		done := make(chan struct{})
		defer close(done)
		go func() { stopped <- watchRSS(cmd.Process, limit, done) }()
	} else {
		stopped <- false
	}
	err := cmd.Wait()
	wall := time.Since(began)
	r := Run{Wall: wall}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if limit > 0 {
		// The watcher returns once it killed the process or saw it gone.
		r.Stopped = <-stopped
		if r.Stopped {
			r.MaxRSS = max(r.MaxRSS, limit)
			return r, nil
		}
	}
	if err != nil {
		return Run{}, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(redactArgs(args), " "), err, stderr.String())
	}
	return r, nil
}

// watchRSS reads the resident set of p every 20 ms, kills p once it passes
// limit bytes and reports whether it did; it returns false once done is
// closed or p is gone.
func watchRSS(p *os.Process, limit int64, done <-chan struct{}) bool {
	status := filepath.Join("/proc", strconv.Itoa(p.Pid), "status")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return false
		case <-tick.C:
		}
		b, err := os.ReadFile(status)
		if err != nil {
			return false
		}
		if rss, ok := vmRSS(b); ok && rss > limit {
			return p.Kill() == nil
		}
	}
}

// vmRSS reads the VmRSS line of a /proc/PID/status file, in bytes.
func vmRSS(status []byte) (int64, bool) {
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))), 10, 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

var urlPassword = regexp.MustCompile(`(://[^:/@]+:)[^@]*@`)

func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = urlPassword.ReplaceAllString(a, "${1}xxxxx@")
	}
	return out
}

// Alternate runs ours and theirs reps times each, alternating which goes
// first, after prepare (untimed, when not nil) before each run, and
// returns both runs.
func Alternate(reps int, prepare func() error, ours, theirs func() (Run, error)) ([]Run, []Run, error) {
	var a, p []Run
	step := func(f func() (Run, error), into *[]Run) error {
		if prepare != nil {
			if err := prepare(); err != nil {
				return err
			}
		}
		r, err := f()
		if err != nil {
			return err
		}
		*into = append(*into, r)
		return nil
	}
	for i := range reps {
		first, second := ours, theirs
		firstInto, secondInto := &a, &p
		if i%2 == 1 {
			first, second, firstInto, secondInto = theirs, ours, &p, &a
		}
		if err := step(first, firstInto); err != nil {
			return nil, nil, err
		}
		if err := step(second, secondInto); err != nil {
			return nil, nil, err
		}
	}
	return a, p, nil
}

// Median is the median wall time of runs.
func Median(runs []Run) time.Duration {
	return medianOf(runs, func(r Run) time.Duration { return r.Wall })
}

// MedianCPU is the median CPU time of runs.
func MedianCPU(runs []Run) time.Duration {
	return medianOf(runs, func(r Run) time.Duration { return r.CPU })
}

func medianOf(runs []Run, f func(Run) time.Duration) time.Duration {
	ds := make([]time.Duration, len(runs))
	for i, r := range runs {
		ds[i] = f(r)
	}
	slices.Sort(ds)
	if n := len(ds); n%2 == 0 {
		return (ds[n/2-1] + ds[n/2]) / 2
	}
	return ds[len(ds)/2]
}

// PeakRSS is the largest peak resident set of runs.
func PeakRSS(runs []Run) int64 {
	var m int64
	for _, r := range runs {
		m = max(m, r.MaxRSS)
	}
	return m
}

// LineCounter counts the lines written to it.
type LineCounter struct{ Lines int }

func (c *LineCounter) Write(p []byte) (int, error) {
	c.Lines += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// FindPsql returns the psql program itself, beside the server programs: on
// Debian the psql on PATH is a Perl wrapper that costs tens of milliseconds
// per start, which would flatter us.
func FindPsql() (string, error) {
	if dir, err := pgcluster.BinDir(); err == nil {
		// BinDir may be a directory of symbolic links, such as /usr/local/bin.
		if real, err := filepath.EvalSymlinks(filepath.Join(dir, "pg_ctl")); err == nil {
			dir = filepath.Dir(real)
		}
		if p := filepath.Join(dir, "psql"); isExecutable(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("psql")
	if err != nil {
		return "", errors.New("psql not found: install postgresql-client or pass -psql")
	}
	return p, nil
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode().Perm()&0o111 != 0
}

// PsqlArgs are psql's flags for every run on the database at url: no
// ~/.psqlrc, quiet, stop on error; then extra.
func PsqlArgs(url string, extra ...string) []string {
	return append([]string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url}, extra...)
}
