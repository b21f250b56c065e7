package cli

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/sql"
)

// The selection flags that list and revoke share: each narrows the
// sessions picked, and pkg/sql turns them into one WHERE clause.
const (
	flagSelUser      = "user"
	flagUsersFrom    = "users-from"
	flagState        = "state"
	flagActive       = "active"
	flagExpiredIn    = "expired-within"
	flagCreatedBefor = "created-before"
	flagCreatedAfter = "created-after"
	flagIdleFor      = "idle-for"
	flagIP           = "ip"
	flagUserAgent    = "user-agent"
	flagVia          = "via"
)

// stateAll is --state's name for every state.
const stateAll = "all"

// selectionFlags are the selection flags, in the order help shows them.
func selectionFlags() []cli.Flag {
	return inCategory(categorySelection, append(exceptFlags(""),
		&cli.GenericFlag{Name: flagSelUser, Value: &repeated{}, Usage: "only sessions of this `USERNAME` (repeatable; the name as list prints it, or in double quotes)"},
		&cli.StringFlag{Name: flagUsersFrom, Usage: "only sessions of the users named in `FILE`, one per line; - for standard input"},
		&cli.StringFlag{Name: flagState, Usage: "only sessions in this `STATE`: " + strings.Join(sql.States, ", ") + " or " + stateAll},
		&cli.BoolFlag{Name: flagActive, Usage: "another name for --state active"},
		&cli.StringFlag{Name: flagExpiredIn, Usage: "only sessions that expired within the last `DURATION` (24h, 7d)"},
		&cli.StringFlag{Name: flagCreatedBefor, Usage: "only sessions created before `TIME`: RFC 3339 (2026-11-30T12:00:00Z), a time as list prints it, read in UTC (2026-11-30 12:00:00), or a duration ago (2h, 7d)"},
		&cli.StringFlag{Name: flagCreatedAfter, Usage: "only sessions created after `TIME`: RFC 3339, a time as list prints it (read in UTC), or a duration ago"},
		&cli.StringFlag{Name: flagIdleFor, Usage: "only sessions not used for `DURATION`"},
		&cli.StringFlag{Name: flagIP, Usage: "only sessions whose HTTP login came from `ADDR` or network ADDR/BITS (CLI logins have none)"},
		&cli.StringFlag{Name: flagUserAgent, Usage: "only sessions whose HTTP login's User-Agent contains `TEXT`, ignoring case"},
		&cli.StringFlag{Name: flagVia, Usage: "only sessions made `VIA` cli or http"},
		idleTimeoutFlag("read sessions not used for `DURATION` as idle, not active, as serve --idle-timeout refuses them; 0 for off"),
	)...)
}

// selectionFromFlags reads the selection flags of c. described is the
// selection as the user wrote it, flag by flag, for messages; written is
// the same for the audit trail (see sql.Matching): by the HTTP API's
// field names (--user is users, a list), each value as given.
func selectionFromFlags(c *cli.Context, env *Env) (sel sql.Selection, described string, written map[string]any, err error) {
	var parts []string
	written = map[string]any{}
	note := func(flag, value string) {
		parts = append(parts, "--"+flag+" "+shellQuote(value))
		written[strings.ReplaceAll(flag, "-", "_")] = value
	}
	var users []string
	for _, raw := range repeatedValues(c, flagSelUser) {
		name, err := parseListedName("--"+flagSelUser, raw)
		if err != nil {
			return sel, "", nil, err
		}
		sel.Users = append(sel.Users, name)
		users = append(users, raw)
		parts = append(parts, "--"+flagSelUser+" "+shellQuote(raw))
	}
	if len(users) > 0 {
		written["users"] = users
	}
	if c.IsSet(flagUsersFrom) {
		from := c.String(flagUsersFrom)
		names, err := readNameFile("--"+flagUsersFrom, from, env.IO.In)
		if err != nil {
			return sel, "", nil, err
		}
		if len(names) == 0 {
			return sel, "", nil, usageErrorf("--%s %q names no user", flagUsersFrom, from)
		}
		sel.Users = append(sel.Users, names...)
		note(flagUsersFrom, from)
	}
	if err := exceptFromFlags(c, env, &sel, func(flag, value string) {
		parts = append(parts, "--"+flag+" "+shellQuote(value))
		key := strings.ReplaceAll(flag, "-", "_")
		list, _ := written[key].([]string)
		written[key] = append(list, value)
	}); err != nil {
		return sel, "", nil, err
	}
	if sel.IdleTimeout, err = idleTimeoutFromFlags(c); err != nil {
		return sel, "", nil, err
	}
	if c.IsSet(flagState) {
		if sel.State, err = parseState(c.String(flagState)); err != nil {
			return sel, "", nil, err
		}
		if sel.State == sql.StatusIdle && sel.IdleTimeout == 0 {
			return sel, "", nil, usageErrorf("--%s idle needs --%s (or AUTH_SESSION_IDLE_TIMEOUT): a session is idle only under serve's idle timeout", flagState, flagIdleTimeout)
		}
		note(flagState, c.String(flagState))
	}
	if c.Bool(flagActive) {
		if c.IsSet(flagState) && sel.State != sql.StatusActive {
			return sel, "", nil, usageErrorf("--active and --state %s exclude each other: --active is --state active", c.String(flagState))
		}
		if !c.IsSet(flagState) {
			note(flagState, sql.StatusActive)
		}
		sel.State = sql.StatusActive
	}
	durations := []struct {
		flag string
		dst  *time.Duration
	}{{flagExpiredIn, &sel.ExpiredWithin}, {flagIdleFor, &sel.IdleFor}}
	for _, d := range durations {
		if c.IsSet(d.flag) {
			if *d.dst, err = parseDuration(d.flag, c.String(d.flag), time.Second); err != nil {
				return sel, "", nil, err
			}
			note(d.flag, c.String(d.flag))
		}
	}
	instants := []struct {
		flag string
		dst  *sql.Instant
	}{{flagCreatedBefor, &sel.CreatedBefore}, {flagCreatedAfter, &sel.CreatedAfter}}
	for _, in := range instants {
		if c.IsSet(in.flag) {
			if *in.dst, err = parseInstant(in.flag, c.String(in.flag), env.Now()); err != nil {
				return sel, "", nil, err
			}
			note(in.flag, c.String(in.flag))
		}
	}
	if b, a := sel.CreatedBefore, sel.CreatedAfter; !b.IsZero() && !a.IsZero() &&
		(b.Ago == 0 && a.Ago == 0 && !b.At.After(a.At) || b.At.IsZero() && a.At.IsZero() && b.Ago >= a.Ago) {
		return sel, "", nil, usageErrorf("--%s %s and --%s %s select nothing: the first must be later than the second",
			flagCreatedBefor, c.String(flagCreatedBefor), flagCreatedAfter, c.String(flagCreatedAfter))
	}
	if c.IsSet(flagIP) {
		if sel.Network, err = parseNetwork(c.String(flagIP)); err != nil {
			return sel, "", nil, err
		}
		note(flagIP, c.String(flagIP))
	}
	if c.IsSet(flagUserAgent) {
		if sel.UserAgent, err = parseUserAgent(c.String(flagUserAgent)); err != nil {
			return sel, "", nil, err
		}
		note(flagUserAgent, c.String(flagUserAgent))
	}
	if c.IsSet(flagVia) {
		if sel.Via, err = parseVia(c.String(flagVia)); err != nil {
			return sel, "", nil, err
		}
		note(flagVia, c.String(flagVia))
	}
	return sel, strings.Join(parts, " "), written, nil
}

// repeated is the value of a flag given any number of times, each value
// kept as typed: urfave/cli's StringSliceFlag trims spaces, and a role name
// may begin or end with one.
type repeated struct{ values []string }

func (r *repeated) Set(v string) error { r.values = append(r.values, v); return nil }
func (r *repeated) String() string {
	if r == nil {
		return ""
	}
	return strings.Join(r.values, ", ")
}

// repeatedValues are the values of repeated flag name, in their order.
func repeatedValues(c *cli.Context, name string) []string {
	if r, ok := c.Generic(name).(*repeated); ok {
		return r.values
	}
	return nil
}

// parseState parses --state.
func parseState(v string) (string, error) {
	st, err := sql.ParseState(v)
	if err != nil {
		return "", usageErrorf("invalid --%s %q: %w", flagState, v, err)
	}
	return st, nil
}

// parseVia parses --via.
func parseVia(v string) (string, error) {
	via, err := sql.ParseVia(v)
	if err != nil {
		return "", usageErrorf("invalid --%s %q: %w", flagVia, v, err)
	}
	return via, nil
}

// parseInstant parses a time flag: an RFC 3339 time, or a duration ago
// (by the database clock, as the session times are), by now from the Unix
// epoch on (see sql.Instant.Check).
func parseInstant(flag, v string, now time.Time) (sql.Instant, error) {
	in, err := parseTimeOrAgo(flag, v)
	if err != nil {
		return in, err
	}
	if err := in.Check(now); err != nil {
		return in, usageErrorf("invalid --%s %q: %w", flag, v, err)
	}
	return in, nil
}

// utcLayouts are the times without a zone a time flag reads, in UTC: the
// form list and events print (2026-11-30 12:00:00.000000), so that a time
// can be pasted back, and the same with a T. time.Parse takes the
// fractional seconds without their being in the layout.
var utcLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05"}

// parseTimeOrAgo reads a time flag's forms: a time, or a duration ago.
func parseTimeOrAgo(flag, v string) (sql.Instant, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return sql.Instant{At: t}, nil
	}
	for _, layout := range utcLayouts {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return sql.Instant{At: t}, nil
		}
	}
	if sql.LooksLikeTime(v) {
		return sql.Instant{}, usageErrorf("invalid --%s %q: want an RFC 3339 time with a zone, such as 2026-11-30T12:00:00Z or 2026-11-30T13:00:00+01:00, "+
			"a time as list prints it, read in UTC, such as 2026-11-30 12:00:00, or a duration ago such as 2h or 7d", flag, v)
	}
	d, err := parseDuration(flag, v, time.Second)
	if err != nil {
		return sql.Instant{}, usageErrorf("invalid --%s %q: want an RFC 3339 time such as 2026-11-30T12:00:00Z, or a duration ago such as 2h or 7d (units: %s)", flag, v, durationUnits)
	}
	return sql.Instant{Ago: d}, nil
}

// parseNetwork parses --ip.
func parseNetwork(v string) (netip.Prefix, error) {
	p, err := sql.ParseNetwork(v)
	if err != nil {
		return p, usageErrorf("invalid --%s %q: %w", flagIP, v, err)
	}
	return p, nil
}

// parseUserAgent checks --user-agent.
func parseUserAgent(v string) (string, error) {
	if err := sql.CheckUserAgent(v); err != nil {
		return "", usageErrorf("invalid --%s %q: %w", flagUserAgent, v, err)
	}
	return v, nil
}

// parseLimit parses list's --limit.
func parseLimit(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || v[0] == '+' {
		return 0, usageErrorf("invalid --limit %q: want a whole number of rows, 1 or more", v)
	}
	return n, nil
}

// parseOrder parses list's --order.
func parseOrder(v string) (string, error) {
	for _, o := range sql.Orders {
		if v == o {
			return o, nil
		}
	}
	return "", usageErrorf("invalid --order %q: want one of %s", v, strings.Join(sql.Orders, ", "))
}

// shellQuote quotes v for a message that shows a command line, when it
// needs quoting.
func shellQuote(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_./:@+,=", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// describeSelection says what a selection picks, for a question or a
// message: the flags as given.
func describeSelection(described string) string {
	if described == "" {
		return "every session"
	}
	return fmt.Sprintf("sessions matching %s", described)
}

// flagIdleTimeout is the idle timeout serve enforces; list takes it too, to
// show the sessions it refuses as idle. The environment variable lets both
// read one setting.
const flagIdleTimeout = "idle-timeout"

func idleTimeoutFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: flagIdleTimeout, Value: "0", EnvVars: []string{"AUTH_SESSION_IDLE_TIMEOUT"}, Usage: usage}
}

// idleTimeoutFromFlags reads --idle-timeout: 0 (off) or at least a minute.
func idleTimeoutFromFlags(c *cli.Context) (time.Duration, error) {
	return parseDurationOrZero(flagIdleTimeout, c.String(flagIdleTimeout), time.Minute, "turn it off")
}

// maxSessionsFromFlag reads a limit of sessions per user: 0 (none) to
// 100000.
func maxSessionsFromFlag(c *cli.Context, name string) (int, error) {
	n := c.Int(name)
	if n < 0 || n > 100000 {
		return 0, usageErrorf("invalid --%s %d: want a number of sessions from 1 to 100000, or 0 for no limit", name, n)
	}
	return n, nil
}
