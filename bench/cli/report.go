package main

import (
	"fmt"
	"io"
	"runtime"
	"time"
)

// reportRow is one line of the results: a time ratio against a target,
// or a peak memory against a limit.
type reportRow struct {
	what         string
	ours, theirs time.Duration
	// CPU time of the processes themselves; the rest of the wall time is
	// start-up, the server's work and waiting.
	oursCPU, theirsCPU time.Duration
	target             float64 // the largest acceptable ours/theirs
	// For memory rows.
	oursRSS, theirsRSS int64
	rssLimit           int64
	// note, when set, makes the row a figure without a ratio.
	note string
}

func printReport(out io.Writer, rows []reportRow) {
	fmt.Fprintf(out, "Measured on %d CPUs (%s/%s); whole processes, both programs given the same URL, runs alternated.\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(out, "| measurement | auth-session | psql | ratio | target | met | CPU of the process: auth-session / psql |")
	fmt.Fprintln(out, "| --- | ---: | ---: | ---: | --- | --- | ---: |")
	for _, r := range rows {
		if r.note != "" {
			fmt.Fprintf(out, "| %s | %s | | | | | |\n", r.what, r.note)
			continue
		}
		if r.rssLimit > 0 {
			fmt.Fprintf(out, "| %s | %s | %s | | < %s | %s | |\n",
				r.what, mib(r.oursRSS), mib(r.theirsRSS), mib(r.rssLimit), yesNo(r.oursRSS < r.rssLimit))
			continue
		}
		ratio := float64(r.ours) / float64(r.theirs)
		fmt.Fprintf(out, "| %s | %s | %s | %.2f× | ≤ %.1f× | %s | %s / %s |\n",
			r.what, duration(r.ours), duration(r.theirs), ratio, r.target, yesNo(ratio <= r.target),
			duration(r.oursCPU), duration(r.theirsCPU))
	}
}

func duration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func mib(b int64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
