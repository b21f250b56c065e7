package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	flagCreatedBefor = "created-before"
	flagCreatedAfter = "created-after"
	flagIP           = "ip"
	flagVia          = "via"
)

// stateAll is --state's name for every state.
const stateAll = "all"

// selectionFlags are the selection flags, in the order help shows them:
// one for each field of sql.SelectionFields that is not a list, from its
// declaration, and the CLI's own (the names, their files, --active, the
// idle timeout).
func selectionFlags() []cli.Flag {
	flags := append(exceptFlags(""),
		&cli.GenericFlag{Name: flagSelUser, Value: &repeated{}, Usage: "only sessions of this `USERNAME` (repeatable; the name as list prints it, or in double quotes)"},
		&cli.StringFlag{Name: flagUsersFrom, Usage: "only sessions of the users named in `FILE`, one per line; - for standard input"},
		&cli.BoolFlag{Name: flagActive, Usage: "another name for --state active"},
		idleTimeoutFlag("read sessions not used for `DURATION` as idle, not active, as serve refuses them; 0 for off"),
	)
	for _, f := range sql.SelectionFields {
		if !f.List {
			flags = append(flags, &cli.StringFlag{Name: f.Flag, Usage: f.Usage})
		}
	}
	return inCategory(categorySelection, flags...)
}

// selectionFromFlags reads the selection flags of c, by sql.ParseSelection:
// the rules the admin API's JSON body and query string follow too. The CLI
// adds its own ways of giving a value: --users-from and --except-from
// files, --active for --state active, a name in double quotes, and
// --except-role folded as SQL folds a name. described is the selection as
// the user wrote it, flag by flag, for messages; written is the same for
// the audit trail (see sql.Matching): by the HTTP API's field names, each
// value as given.
func selectionFromFlags(c *cli.Context, env *Env) (sel sql.Selection, described string, written map[string]any, err error) {
	given, parts, err := namesFromFlags(c, env)
	if err != nil {
		return sel, "", nil, err
	}
	add := func(field, flag, value string) {
		parts = append(parts, "--"+flag+" "+shellQuote(value))
		given[field] = append(given[field], value)
	}
	if c.Bool(flagActive) {
		if c.IsSet(flagState) && c.String(flagState) != sql.StatusActive {
			return sel, "", nil, usageErrorf("--active and --state %s exclude each other: --active is --state active", c.String(flagState))
		}
		if !c.IsSet(flagState) {
			given["state"] = []string{sql.StatusActive}
			parts = append(parts, "--"+flagActive)
		}
	}
	for _, f := range sql.SelectionFields {
		if !f.List && c.IsSet(f.Flag) {
			add(f.Name, f.Flag, c.String(f.Flag))
		}
	}
	if sel, written, err = parseSelection(given, env); err != nil {
		return sel, "", nil, err
	}
	return sel, strings.Join(parts, " "), written, nil
}

// namesFromFlags reads the flags that name users (--user, --except,
// --except-role and their files) of c, by selection field name, and the
// flags as given, for messages. A name is read as list prints it, or in
// double quotes (parseListedName); a role of --except-role as SQL reads a
// name. The path a file was read from is kept under fileKey(its flag).
func namesFromFlags(c *cli.Context, env *Env) (given map[string][]string, parts []string, err error) {
	given = map[string][]string{}
	stdin := ""
	names := []struct {
		field, flag, fromFlag string
		parse                 func(what, arg string) (string, error)
	}{
		{"users", flagSelUser, flagUsersFrom, parseListedName},
		{"except_users", flagExcept, flagExceptFrom, parseListedName},
		{"except_roles", flagExceptRole, "", parseRoleName},
	}
	for _, n := range names {
		for _, raw := range repeatedValues(c, n.flag) {
			name, err := n.parse("--"+n.flag, raw)
			if err != nil {
				return nil, nil, err
			}
			parts = append(parts, "--"+n.flag+" "+shellQuote(raw))
			given[n.field] = append(given[n.field], name)
		}
		if n.fromFlag == "" || !c.IsSet(n.fromFlag) {
			continue
		}
		from := c.String(n.fromFlag)
		if from == "-" {
			if stdin != "" {
				return nil, nil, usageErrorf("--%s - and --%s - both read standard input: give one of them a file", stdin, n.fromFlag)
			}
			stdin = n.fromFlag
		}
		listed, err := readNameFile("--"+n.fromFlag, from, env.IO.In)
		if err != nil {
			return nil, nil, err
		}
		if len(listed) == 0 {
			return nil, nil, usageErrorf("--%s %q names no user", n.fromFlag, from)
		}
		parts = append(parts, "--"+n.fromFlag+" "+shellQuote(from))
		given[n.field] = append(given[n.field], listed...)
		given[fileKey(n.fromFlag)] = []string{from}
	}
	return given, parts, nil
}

// fileKey is the key under which namesFromFlags keeps the path a names
// file was read from, which the audit trail records beside the names.
func fileKey(flag string) string { return strings.ReplaceAll(flag, "-", "_") }

// parseSelection is sql.ParseSelection of the values given, by field,
// with its errors as usage errors that name the flags.
func parseSelection(given map[string][]string, env *Env) (sql.Selection, map[string]any, error) {
	sel, written, err := sql.ParseSelection(func(f *sql.SelectionField) []string { return given[f.Name] }, env.Now())
	var fieldErr *sql.FieldError
	var rangeErr *sql.EmptyRangeError
	switch {
	case errors.As(err, &fieldErr):
		return sel, nil, usageErrorf("invalid --%s %q: %w", fieldErr.Field.Flag, fieldErr.Value, fieldErr.Err)
	case errors.As(err, &rangeErr):
		return sel, nil, usageErrorf("--%s %s and --%s %s select nothing: the first must be later than the second",
			flagCreatedBefor, rangeErr.Before, flagCreatedAfter, rangeErr.After)
	case err != nil:
		return sel, nil, err
	}
	for _, flag := range []string{flagUsersFrom, flagExceptFrom} {
		if from := given[fileKey(flag)]; from != nil {
			written[fileKey(flag)] = from[0]
		}
	}
	return sel, written, nil
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
