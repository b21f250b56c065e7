package cli

import (
	"context"
	"flag"
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// Version is the auth-session version, set at build time with -ldflags.
var Version = "dev"

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

// NewApp builds the auth-session application over env.
func NewApp(env *Env) *cli.App {
	app := &cli.App{
		Name: "auth-session",
		// Role names may hold commas: a repeated --user is one name each.
		DisableSliceFlagSeparator: true,
		Usage:                     "create, list and revoke web sessions stored in a SQL database",
		Description: "auth-session manages the sessions of an HTTP interface kept in the table\n" +
			"system.web_sessions, directly against PostgreSQL, like 'cockroach auth-session'.\n" +
			"Every command except init needs a superuser or a member of the admin role.",
		Version:         Version,
		HideHelpCommand: true,
		Writer:          env.IO.Out,
		ErrWriter:       env.IO.Err,
		Commands: []*cli.Command{
			initCommand(env),
			loginCommand(env),
			logoutCommand(env),
			listCommand(env),
			serveCommand(env),
			demoCommand(env),
			revokeCommand(env),
			eventsCommand(env),
			purgeCommand(env),
		},
		// Errors are printed once, by Main, in one format.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{flagError(err)}
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
		// The "help" subcommand is a urfave/cli global that each command's
		// setup writes to, which races when apps run in parallel; and
		// "login help" should mean the user named help. --help remains.
		cmd.HideHelpCommand = true
	}
	return app
}

// Main runs the application with args (os.Args) and returns the exit code,
// having printed any error to env's stderr.
func Main(ctx context.Context, args []string, env *Env) int {
	app := NewApp(env)
	if len(args) > 1 && args[1] == "help" {
		// "auth-session help [COMMAND]", as most command suites accept it:
		// the same as --help, which is what urfave/cli answers.
		args = append(append([]string{args[0]}, args[2:]...), "--help")
	}
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") && app.Command(args[1]) == nil {
		err := usageErrorf("unknown command %q: accepted commands are %s", args[1], strings.Join(commandNames(app), ", "))
		PrintError(env.IO.Err, err)
		return ExitCode(err)
	}
	err := app.RunContext(ctx, interspersed(app, args))
	if err != nil {
		PrintError(env.IO.Err, err)
	}
	return ExitCode(err)
}

func commandNames(app *cli.App) []string {
	var names []string
	for _, c := range app.Commands {
		names = append(names, c.Name)
	}
	return names
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
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, name := range f.Names() {
			takesValue[name] = !isBool
		}
	}
	var flags, positional []string
	rest := args[2:]
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
				return []string{args[0], args[1], a}
			}
			i++
			flags = append(flags, rest[i])
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	if len(positional) > 0 {
		out = append(append(out, "--"), positional...)
	}
	return out
}

// exactArgs checks the number of positional arguments of c.
func exactArgs(c *cli.Context, names ...string) error {
	if c.NArg() == len(names) {
		return nil
	}
	usage := strings.TrimSpace("auth-session " + c.Command.Name + " " + strings.ToUpper(strings.Join(names, " ")))
	if c.NArg() < len(names) {
		return usageErrorf("missing %s: usage: %s", strings.ToUpper(names[c.NArg()]), usage)
	}
	return usageErrorf("unexpected argument %q: usage: %s", c.Args().Get(len(names)), usage)
}

// Messages of Go's flag package, which urfave/cli passes on: they name
// flags with one dash and do not always quote what was given.
var (
	flagUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	flagNoValue   = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	flagBadValue  = regexp.MustCompile(`^invalid value (".*") for flag -+([^:]*): (.*)$`)
)

// flagError rewrites the flag parser's messages in our words: the flag as
// it is typed (--name) and the bad value quoted.
func flagError(err error) error {
	msg := err.Error()
	if m := flagUndefined.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("unknown flag %q", dashed(m[1]))
	}
	if m := flagNoValue.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("flag %s needs a value", dashed(m[1]))
	}
	if m := flagBadValue.FindStringSubmatch(msg); m != nil {
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
