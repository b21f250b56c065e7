package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// unit is how a measure's figures print.
type unit int

const (
	seconds unit = iota
	milliseconds
	perSecond
	mebibytes
)

func (u unit) format(v float64) string {
	switch u {
	case seconds:
		return fmt.Sprintf("%.2f s", v)
	case milliseconds:
		return fmt.Sprintf("%.1f ms", v)
	case perSecond:
		return thousands(int64(v + 0.5))
	}
	return fmt.Sprintf("%.1f MiB", v)
}

// measure is one line of a size's table: its figures in each round.
type measure struct {
	what string
	unit unit
	// ours and raw are the figures of each round; ratio the ratio of each
	// round that the target is about, computed by who measured it; load
	// the load average when the round's measurement began.
	ours, raw, ratio, load []float64
	// target bounds the ratio: at least target when atLeast, else at most.
	// A measure without raw figures bounds ours instead (below target).
	target  float64
	atLeast bool
}

// report is the measures of one size, in the order they were first taken.
type report struct {
	measures []*measure
}

// measure returns the measure named what, created with u and its target
// the first time.
func (r *report) measure(what string, u unit, target float64, atLeast bool) *measure {
	for _, m := range r.measures {
		if m.what == what {
			return m
		}
	}
	m := &measure{what: what, unit: u, target: target, atLeast: atLeast}
	r.measures = append(r.measures, m)
	return m
}

// add records one round.
func (m *measure) add(ours, raw, ratio, load float64) {
	m.ours, m.raw, m.ratio, m.load = append(m.ours, ours), append(m.raw, raw), append(m.ratio, ratio), append(m.load, load)
}

// addAlone records one round of a measure without a raw counterpart.
func (m *measure) addAlone(ours, load float64) {
	m.ours, m.load = append(m.ours, ours), append(m.load, load)
}

// noTarget is the target of a measure that explains others, such as the
// start-up of a process alone: it is printed without one.
const noTarget = 0

// met says whether the target was met in every round, in none, or in some.
func (m *measure) met() string {
	if m.target == noTarget {
		return ""
	}
	values, ok := m.ratio, func(v float64) bool {
		if m.atLeast {
			return v >= m.target
		}
		return v <= m.target
	}
	if len(m.raw) == 0 {
		values, ok = m.ours, func(v float64) bool { return v < m.target }
	}
	n := 0
	for _, v := range values {
		if ok(v) {
			n++
		}
	}
	switch n {
	case len(values):
		return "yes"
	case 0:
		return "**no**"
	}
	return "partly"
}

func (m *measure) targetText() string {
	switch {
	case m.target == noTarget:
		return ""
	case len(m.raw) == 0:
		return "< " + m.unit.format(m.target)
	case m.atLeast:
		return fmt.Sprintf("≥ %.1f", m.target)
	}
	return fmt.Sprintf("≤ %.1f", m.target)
}

// span prints the range of values: "0.55–0.62", or one value.
func span(values []float64, format func(float64) string) string {
	if len(values) == 0 {
		return ""
	}
	lo, hi := format(slices.Min(values)), format(slices.Max(values))
	if lo == hi {
		return lo
	}
	// "1.2 ms–1.5 ms" reads better as "1.2–1.5 ms".
	if a, unitA, ok := strings.Cut(lo, " "); ok {
		if b, unitB, ok := strings.Cut(hi, " "); ok && unitA == unitB {
			return a + "–" + b + " " + unitA
		}
	}
	return lo + "–" + hi
}

func ratioText(v float64) string { return fmt.Sprintf("%.2f", v) }
func loadText(v float64) string  { return fmt.Sprintf("%.1f", v) }

// print writes the measures as a markdown table.
func (r *report) print(out io.Writer) {
	fmt.Fprintln(out, "| measure | auth-session | raw | ratio | target | met | load |")
	fmt.Fprintln(out, "| --- | ---: | ---: | ---: | --- | --- | ---: |")
	for _, m := range r.measures {
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %s | %s |\n", m.what,
			span(m.ours, m.unit.format), span(m.raw, m.unit.format), span(m.ratio, ratioText),
			m.targetText(), m.met(), span(m.load, loadText))
	}
}

// loadAverage is the machine's load average over the last minute.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}

// thousands formats n with commas: 1,000,000.
func thousands[T int | int64](n T) string {
	s := strconv.FormatInt(int64(n), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
