package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/urfave/cli/v2"
)

// Version is the auth-session version, set at build time with -ldflags.
var Version = "dev"

// NewApp builds the auth-session application over env.
func NewApp(env *Env) *cli.App {
	app := &cli.App{
		Name:  "auth-session",
		Usage: "create, list and revoke web sessions stored in a SQL database",
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
		},
		// Errors are printed once, by Main, in one format.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
	}
	return app
}

// Main runs the application with args (os.Args) and returns the exit code,
// having printed any error to env's stderr.
func Main(ctx context.Context, args []string, env *Env) int {
	app := NewApp(env)
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
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
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
	usage := strings.ToUpper(strings.Join(names, " "))
	if c.NArg() < len(names) {
		return usageErrorf("missing %s: usage: auth-session %s %s", strings.ToUpper(names[c.NArg()]), c.Command.Name, usage)
	}
	return usageErrorf("unexpected argument %q: usage: auth-session %s %s", c.Args().Get(len(names)), c.Command.Name, usage)
}

// errorIsUsage reports whether err is a usage error.
func errorIsUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

// normalizeUsername folds a user name the way PostgreSQL folds an unquoted
// identifier: ASCII letters to lower case, nothing else.
func normalizeUsername(arg string) (string, error) {
	name := strings.TrimSpace(arg)
	if name == "" {
		return "", usageErrorf("invalid USERNAME %q: must not be empty", arg)
	}
	if strings.ContainsAny(name, "\x00") {
		return "", usageErrorf("invalid USERNAME %q: must not contain NUL", arg)
	}
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, name), nil
}
