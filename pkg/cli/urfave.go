package cli

// The workarounds for urfave/cli v2's limits, in one place, so that app.go
// reads as the list of commands.

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/xrash/smetrics"

	"github.com/auth-session/auth-session/internal/lazyregexp"
)

// reentrantBoolFlag is a BoolFlag that several apps may apply at once.
// urfave/cli's HelpFlag and VersionFlag are package globals whose Apply
// records their default value in the shared flag, so two apps running in
// one process (tests run Main in parallel) would race on it. Applying a
// copy leaves the global untouched.
type reentrantBoolFlag struct{ cli.BoolFlag }

// Apply implements cli.Flag.
func (f *reentrantBoolFlag) Apply(set *flag.FlagSet) error {
	c := f.BoolFlag
	return c.Apply(set)
}

func init() {
	cli.HelpFlag = &reentrantBoolFlag{cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help", DisableDefaultText: true}}
	cli.VersionFlag = &reentrantBoolFlag{cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version", DisableDefaultText: true}}
}

// suggestCommand returns " did you mean "NAME"?" with urfave/cli's
// closest command to name, or "" when even that is not close: urfave/cli
// always suggests one ("frobnicate": "revoke").
func suggestCommand(app *cli.App, name string) string {
	s := cli.SuggestCommand(app.Commands, name)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "Did you mean "), "?")
	if unquoted, err := strconv.Unquote(s); err != nil || !similar(name, unquoted) {
		return ""
	}
	return " did you mean " + s + "?"
}

// suggestFlag returns ": did you mean --NAME?" with urfave/cli's closest flag
// of flags to name, or "" when even that is not close.
func suggestFlag(flags []cli.Flag, name string) string {
	s := cli.SuggestFlag(flags, name, false)
	if s == "" || !similar(name, strings.TrimLeft(s, "-")) {
		return ""
	}
	return ": did you mean " + s + "?"
}

// similar reports whether a suggestion is near enough to what was typed to be
// worth showing, by the Jaro-Winkler similarity urfave/cli ranks with.
func similar(typed, suggestion string) bool {
	return smetrics.JaroWinkler(typed, suggestion, 0.7, 4) >= 0.8
}

// valueFlags reports, for each name of cmd's flags, whether the flag takes
// a value: the flag parser would take the next word as it.
func valueFlags(cmd *cli.Command) map[string]bool {
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		isBool := false
		switch f.(type) {
		case *cli.BoolFlag, *reentrantBoolFlag:
			isBool = true
		}
		for _, name := range f.Names() {
			takesValue[name] = !isBool
		}
	}
	return takesValue
}

// refuseWhileCompleting wraps each command's action so that it fails, doing
// nothing, in a process that was asked for completions: Main answers those
// without running anything, and this holds should a request ever reach
// urfave/cli all the same.
func refuseWhileCompleting(commands []*cli.Command) {
	for _, cmd := range commands {
		action := cmd.Action
		if action == nil {
			continue
		}
		cmd.Action = func(c *cli.Context) error {
			if slices.Contains(os.Args, completionFlag) || slices.Contains(c.Args().Slice(), completionFlag) {
				return usageErrorf("%s is a request for completions, not a command to run", completionFlag)
			}
			return action(c)
		}
	}
}

// helpCommand turns "auth-session help [COMMAND]", as most command suites
// accept it, into --help, which is what urfave/cli answers: its own help
// command is a global that races when apps run in parallel (tests), and
// "login help" must mean the user named help.
func helpCommand(args []string) []string {
	if len(args) > 1 && args[1] == "help" {
		return append(append([]string{args[0]}, args[2:]...), "--help")
	}
	return args
}

// interspersed moves a subcommand's flags in front of its positional
// arguments. urfave/cli v2 stops reading flags at the first positional one,
// but cockroach's examples put them after: "login web_user --expire-after=4h30m".
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	// A command with subcommands (throttle show): the flags are the
	// subcommand's.
	n := 2
	for n < len(args) && len(cmd.Subcommands) > 0 {
		sub := cmd.Command(args[n])
		if sub == nil {
			break
		}
		cmd, n = sub, n+1
	}
	path := args[:n:n]
	takesValue := valueFlags(cmd)
	var flags, positional []string
	rest := args[n:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' || '0' <= a[1] && a[1] <= '9' {
			// No flag starts with a digit: "-1" is a (bad) session id,
			// for its parser to explain.
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && takesValue[name] {
			if i+1 == len(rest) {
				// A trailing flag without its value: given alone, the flag
				// parser reports the missing value, where it would
				// otherwise take the "--" added below as the value.
				return append(path, a)
			}
			i++
			flags = append(flags, rest[i])
		}
	}
	for _, f := range flags {
		if f == "--help" || f == "-h" {
			// "login web_user --help" asks for login's help; urfave/cli
			// would look for a help topic named web_user.
			return append(path, "--help")
		}
	}
	out := append(path, flags...)
	if len(positional) > 0 {
		out = append(append(out, "--"), positional...)
	}
	return out
}

// Messages of Go's flag package, which urfave/cli passes on: they name
// flags with one dash and do not always quote what was given.
var (
	flagUndefined = lazyregexp.New(`^flag provided but not defined: -+(.*)$`)
	flagNoValue   = lazyregexp.New(`^flag needs an argument: -+(.*)$`)
	flagBadValue  = lazyregexp.New(`^invalid value (".*") for flag -+([^:]*): (.*)$`)
	flagBadBool   = lazyregexp.New(`^invalid boolean value ".*" for -+([^:]*): `)
)

// flagError rewrites the flag parser's messages in our words: the flag as
// it is typed (--name) and the bad value quoted, and for an unknown flag
// the closest one of c's command (urfave/cli's suggestion).
func flagError(c *cli.Context, err error) error {
	msg := err.Error()
	if m := flagUndefined().FindStringSubmatch(msg); m != nil {
		flags := c.App.Flags
		if c.Command != nil && c.Command.Name != "" {
			flags = c.Command.Flags
		}
		return fmt.Errorf("unknown flag %q%s", dashed(m[1]), suggestFlag(flags, m[1]))
	}
	if m := flagNoValue().FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("flag %s needs a value", dashed(m[1]))
	}
	if m := flagBadBool().FindStringSubmatch(msg); m != nil && (m[1] == flagPassword || m[1] == "W") {
		// --password=SECRET: the value is not repeated, as it may be the
		// password itself.
		return fmt.Errorf("%s takes no value: it asks for the password on the terminal; a password given without a prompt goes in PGPASSWORD or ~/.pgpass",
			dashed(m[1]))
	}
	if m := flagBadValue().FindStringSubmatch(msg); m != nil {
		reason := m[3]
		if reason == "parse error" {
			// What the flag package says of a number it cannot read.
			reason = "want a whole number"
		}
		return fmt.Errorf("invalid %s %s: %s", dashed(m[2]), m[1], reason)
	}
	return err
}

// dashed spells a flag name as it is typed: -d, --format.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
