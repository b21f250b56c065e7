package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// bench runs the two programs against the benchmark database.
type bench struct {
	db   *benchDB
	bin  string
	psql string
	out  io.Writer
}

// procRun is one finished process.
type procRun struct {
	wall   time.Duration
	cpu    time.Duration // user and system time of the process itself
	maxRSS int64         // bytes
}

// childEnv is the environment of both programs: no connection settings
// besides the URL they are given, and UTC for psql's timestamps as ours.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "AUTH_SESSION_") {
			env = append(env, kv)
		}
	}
	return append(env, "PGTZ=UTC")
}

// exec runs name with args, stdout to w, and returns its wall time from
// start to exit and its peak resident set size. A nil w is /dev/null, given
// to the child as its descriptor, so that no copying in this process is timed.
func (b *bench) exec(ctx context.Context, w io.Writer, name string, args ...string) (procRun, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = childEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if w == nil {
		devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return procRun{}, err
		}
		defer devNull.Close()
		cmd.Stdout = devNull
	} else {
		cmd.Stdout = w
	}
	began := time.Now()
	err := cmd.Run()
	wall := time.Since(began)
	if err != nil {
		return procRun{}, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(redactArgs(args), " "), err, stderr.String())
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r := procRun{wall: wall}
	if ru != nil {
		r.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r, nil
}

var urlPassword = regexp.MustCompile(`(://[^:/@]+:)[^@]*@`)

func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = urlPassword.ReplaceAllString(a, "${1}xxxxx@")
	}
	return out
}

// psqlArgs are psql's flags for every run: no ~/.psqlrc, quiet, stop on error.
func (b *bench) psqlArgs(extra ...string) []string {
	return append([]string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", b.db.url}, extra...)
}

// alternate runs ours and theirs reps times each, alternating which goes
// first, after prepare (untimed) before each run, and returns both runs.
func (b *bench) alternate(ctx context.Context, reps int, prepare func() error, ours, theirs func() (procRun, error)) ([]procRun, []procRun, error) {
	var a, p []procRun
	step := func(f func() (procRun, error), into *[]procRun) error {
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

func median(runs []procRun) time.Duration {
	return medianOf(runs, func(r procRun) time.Duration { return r.wall })
}

func medianCPU(runs []procRun) time.Duration {
	return medianOf(runs, func(r procRun) time.Duration { return r.cpu })
}

func medianOf(runs []procRun, f func(procRun) time.Duration) time.Duration {
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

func peakRSS(runs []procRun) int64 {
	var m int64
	for _, r := range runs {
		m = max(m, r.maxRSS)
	}
	return m
}

// lineCounter counts the lines written to it.
type lineCounter struct{ lines int }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// checkOutputs runs each program once, untimed, and checks that it does
// what the benchmark says it does.
func (b *bench) checkOutputs(ctx context.Context) error {
	var out bytes.Buffer
	if _, err := b.exec(ctx, &out, b.bin, b.loginArgs()...); err != nil {
		return err
	}
	if !regexp.MustCompile(`^session=[A-Za-z0-9+/=]+; Path=/; HttpOnly; Secure\n$`).MatchString(out.String()) {
		return fmt.Errorf("login --only-cookie printed %q, want one cookie line", out.String())
	}
	out.Reset()
	if _, err := b.exec(ctx, &out, b.psql, b.psqlLoginArgs()...); err != nil {
		return err
	}
	if _, err := strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64); err != nil {
		return fmt.Errorf("psql INSERT printed %q, want the new id", out.String())
	}
	return nil
}
