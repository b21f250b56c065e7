package sql

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	str2duration "github.com/xhit/go-str2duration/v2"

	"github.com/auth-session/auth-session/internal/lazyregexp"
)

// A selection is written three ways: the CLI's flags, the admin API's JSON
// body and the admin API's query string. SelectionFields declares each
// field once, with its one parser; ParseSelection reads any of them, and
// applies the one set of rules, so the three cannot disagree.

// SelectionField is one field of a selection.
type SelectionField struct {
	// Name is the field's name in JSON and in a query string.
	Name string
	// Flag is the CLI's flag for it, without the dashes.
	Flag string
	// List is true for a field given any number of times (a JSON list).
	List bool
	// Usage says what the field keeps, for the CLI's help: a phrase with
	// its value's placeholder in backquotes, as urfave/cli reads it. The
	// CLI makes the flag of each field that is not a list from it.
	Usage string
	// set parses one value v into sel.
	set func(sel *Selection, v string, now time.Time) error
}

// SelectionFields are the fields of a selection, in the order errors and
// help list them.
var SelectionFields = []*SelectionField{
	{Name: "users", Flag: "user", List: true, set: func(sel *Selection, v string, _ time.Time) error {
		sel.Users = append(sel.Users, v)
		return CheckRoleName(v)
	}},
	{Name: "except_users", Flag: "except", List: true, set: func(sel *Selection, v string, _ time.Time) error {
		sel.ExceptUsers = append(sel.ExceptUsers, v)
		return CheckRoleName(v)
	}},
	{Name: "except_roles", Flag: "except-role", List: true, set: func(sel *Selection, v string, _ time.Time) error {
		sel.ExceptRoles = append(sel.ExceptRoles, v)
		return CheckRoleName(v)
	}},
	{Name: "state", Flag: "state", Usage: "only sessions in this `STATE`: " + strings.Join(States, ", ") + " or all", set: func(sel *Selection, v string, _ time.Time) (err error) {
		sel.State, err = ParseState(v)
		return err
	}},
	{Name: "expired_within", Flag: "expired-within", Usage: "only sessions that expired within the last `DURATION` (24h, 7d)", set: func(sel *Selection, v string, _ time.Time) (err error) {
		sel.ExpiredWithin, err = ParseDuration(v, time.Second)
		return err
	}},
	{Name: "created_before", Flag: "created-before", Usage: "only sessions created before `TIME`: RFC 3339 (2026-11-30T12:00:00Z), a time as list prints it, read in UTC (2026-11-30 12:00:00), or a duration ago (2h, 7d)", set: func(sel *Selection, v string, now time.Time) (err error) {
		sel.CreatedBefore, err = ParseInstant(v, now)
		return err
	}},
	{Name: "created_after", Flag: "created-after", Usage: "only sessions created after `TIME`: RFC 3339, a time as list prints it (read in UTC), or a duration ago", set: func(sel *Selection, v string, now time.Time) (err error) {
		sel.CreatedAfter, err = ParseInstant(v, now)
		return err
	}},
	{Name: "idle_for", Flag: "idle-for", Usage: "only sessions not used for `DURATION`", set: func(sel *Selection, v string, _ time.Time) (err error) {
		sel.IdleFor, err = ParseDuration(v, time.Second)
		return err
	}},
	{Name: "ip", Flag: "ip", Usage: "only sessions whose HTTP login came from `ADDR` or network ADDR/BITS (CLI logins have none)", set: func(sel *Selection, v string, _ time.Time) (err error) {
		sel.Network, err = ParseNetwork(v)
		return err
	}},
	{Name: "user_agent", Flag: "user-agent", Usage: "only sessions whose HTTP login's User-Agent contains `TEXT`, ignoring case", set: func(sel *Selection, v string, _ time.Time) error {
		sel.UserAgent = v
		return CheckUserAgent(v)
	}},
	{Name: "via", Flag: "via", Usage: "only sessions made `VIA` cli or http", set: func(sel *Selection, v string, _ time.Time) (err error) {
		sel.Via, err = ParseVia(v)
		return err
	}},
}

// SelectionFieldNames lists the fields' names, for messages.
func SelectionFieldNames() string {
	names := make([]string, len(SelectionFields))
	for i, f := range SelectionFields {
		names[i] = f.Name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// FieldError is a value of a selection field that is not valid. Each
// source names the field its own way (--created-before, created_before).
type FieldError struct {
	Field *SelectionField
	Value string
	// Empty is set for a list given without a value: Value is unused.
	Empty bool
	Err   error
}

func (e *FieldError) Error() string {
	if e.Empty {
		return fmt.Sprintf("invalid %s []: %v", e.Field.Name, e.Err)
	}
	return fmt.Sprintf("invalid %s %q: %v", e.Field.Name, e.Value, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// EmptyRangeError is a created_before no later than created_after: a
// selection of nothing, which is a mistake rather than a question.
type EmptyRangeError struct{ Before, After string }

func (e *EmptyRangeError) Error() string {
	return fmt.Sprintf("created_before %s and created_after %s select nothing: the first must be later than the second", e.Before, e.After)
}

// ParseSelection reads a selection from values, which gives the values of
// each field a source holds (nil when the field is absent), by the one set
// of rules: each value parsed by its field, a list given empty refused,
// and the time bounds checked against each other and against now. written
// is the selection as given, for the audit trail (see Matching): each field
// given by its Name, its values as given, lists as lists.
func ParseSelection(values func(*SelectionField) []string, now time.Time) (sel Selection, written map[string]any, err error) {
	written = map[string]any{}
	for _, f := range SelectionFields {
		vs := values(f)
		if vs == nil {
			continue
		}
		if len(vs) == 0 {
			return sel, nil, &FieldError{Field: f, Empty: true, Err: fmt.Errorf("want at least one role name; leave %s out to pick anyone's sessions", f.Name)}
		}
		if !f.List && len(vs) > 1 {
			return sel, nil, &FieldError{Field: f, Value: strings.Join(vs, ","), Err: errors.New("given more than once: give it once")}
		}
		for _, v := range vs {
			if err := f.set(&sel, v, now); err != nil {
				return sel, nil, &FieldError{Field: f, Value: v, Err: err}
			}
		}
		if f.List {
			written[f.Name] = vs
		} else {
			written[f.Name] = vs[0]
		}
	}
	if b, a := sel.CreatedBefore, sel.CreatedAfter; !b.IsZero() && !a.IsZero() && !b.laterThan(a) {
		return sel, nil, &EmptyRangeError{Before: written["created_before"].(string), After: written["created_after"].(string)}
	}
	return sel, written, nil
}

// laterThan reports whether i is later than j, or may be: a time and a
// duration ago are compared by the database's clock, not here.
func (i Instant) laterThan(j Instant) bool {
	switch {
	case i.Ago == 0 && j.Ago == 0:
		return i.At.After(j.At)
	case i.At.IsZero() && j.At.IsZero():
		return i.Ago < j.Ago
	}
	return true
}

// CheckRoleName checks a role name given verbatim, as list prints it: not
// empty, valid UTF-8 without control characters, within PostgreSQL's
// limit. (The CLI also reads a name in double quotes, as SQL writes one,
// before it gets here.)
func CheckRoleName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case !utf8.ValidString(name):
		return errors.New("not valid UTF-8")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return errors.New("control characters")
	case len(name) > MaxRoleNameLen:
		return fmt.Errorf("%d bytes long, longer than PostgreSQL's limit of %d bytes for a role name", len(name), MaxRoleNameLen)
	}
	return nil
}

// MaxRoleNameLen is PostgreSQL's identifier limit in bytes (NAMEDATALEN-1);
// no role has a longer name.
const MaxRoleNameLen = 63

// DurationUnits is what a duration may be written in, for messages.
const DurationUnits = "ns, us, ms, s, m, h, d (days), w (weeks)"

// wellFormedDuration matches what the parser would accept were the value
// not too large, so overflow gets its own message.
var wellFormedDuration = lazyregexp.New(`^([0-9]*\.?[0-9]+(ns|us|µs|μs|ms|s|m|h|d|w))+$`)

// ParseDuration reads a duration as every flag and field writes one (90m,
// 4h30m, 7d, 1w), with go-str2duration: positive, at least minimum,
// without spaces or a sign, which the parser would forgive but a script's
// mistake should not pass. The error says what is accepted.
func ParseDuration(v string, minimum time.Duration) (time.Duration, error) {
	d, err := str2duration.ParseDuration(v)
	switch {
	case strings.TrimSpace(v) != v || strings.HasPrefix(v, "+"):
		return 0, fmt.Errorf("want a duration such as 90m, 4h30m, 7d or 1w, without spaces or a sign (units: %s)", DurationUnits)
	case err != nil && wellFormedDuration().MatchString(v):
		return 0, errors.New("too large (at most about 292 years)")
	case err != nil:
		return 0, fmt.Errorf("want a duration such as 90m, 4h30m, 7d or 1w (units: %s)", DurationUnits)
	case d <= 0:
		return 0, fmt.Errorf("must be positive, such as 90m, 4h30m, 7d or 1w (units: %s)", DurationUnits)
	case d < minimum:
		return 0, fmt.Errorf("must be at least %s", minimum)
	}
	return d, nil
}

// ParseDurationOrZero is ParseDuration that also reads a zero duration
// ("0", "0s", "0d") as 0, to which the caller gives a meaning of its own,
// such as "off".
func ParseDurationOrZero(v string, minimum time.Duration) (time.Duration, error) {
	if d, err := str2duration.ParseDuration(v); err == nil && d == 0 && strings.TrimSpace(v) == v && !strings.HasPrefix(v, "+") {
		return 0, nil
	}
	return ParseDuration(v, minimum)
}

// utcLayouts are the times without a zone a time bound reads, in UTC: the
// form list and events print (2026-11-30 12:00:00.000000), so that a time
// can be pasted back, and the same with a T. time.Parse takes the
// fractional seconds without their being in the layout.
var utcLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05"}

// ParseInstant reads a time bound: an RFC 3339 time, a time as list prints
// it (read in UTC), or a duration ago (by the database clock, as the
// session times are), by now from Epoch on (see Instant.Check).
func ParseInstant(v string, now time.Time) (Instant, error) {
	in, err := parseTimeOrAgo(v)
	if err != nil {
		return in, err
	}
	return in, in.Check(now)
}

func parseTimeOrAgo(v string) (Instant, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return Instant{At: t}, nil
	}
	for _, layout := range utcLayouts {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return Instant{At: t}, nil
		}
	}
	if LooksLikeTime(v) {
		return Instant{}, errors.New("want an RFC 3339 time with a zone, such as 2026-11-30T12:00:00Z or 2026-11-30T13:00:00+01:00, " +
			"a time as list prints it, read in UTC, such as 2026-11-30 12:00:00, or a duration ago such as 2h or 7d")
	}
	d, err := ParseDuration(v, time.Second)
	if err != nil {
		return Instant{}, fmt.Errorf("want an RFC 3339 time such as 2026-11-30T12:00:00Z, or a duration ago such as 2h or 7d (units: %s)", DurationUnits)
	}
	return Instant{Ago: d}, nil
}
