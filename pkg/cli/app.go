package cli

import (
	"context"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

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
		Version:         versionString(),
		HideHelpCommand: true,
		// Suggestions are urfave/cli's; completion is answered by Main,
		// before urfave/cli parses anything (see completion.go).
		Suggest:   true,
		Writer:    helpWriter(env.IO),
		ErrWriter: env.IO.Err,
		Commands: []*cli.Command{
			initCommand(env),
			loginCommand(env),
			logoutCommand(env),
			listCommand(env),
			showCommand(env),
			lookupCommand(env),
			serveCommand(env),
			demoCommand(env),
			revokeCommand(env),
			lockCommand(env),
			unlockCommand(env),
			locksCommand(env),
			throttleCommand(env),
			eventsCommand(env),
			purgeCommand(env),
			settingsCommand(env),
			completionCommand(env),
			manCommand(env),
			versionCommand(env),
		},
		// For what a command reads from its flags alone: see passwordTerminal.
		Metadata: map[string]any{metadataEnv: env},
		// Errors are printed once, by Main, in one format.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError{err: flagError(c, err)}
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = app.OnUsageError
		// The "help" subcommand is a urfave/cli global that each command's
		// setup writes to, which races when apps run in parallel; and
		// "login help" should mean the user named help. --help remains.
		cmd.HideHelpCommand = true
		cmd.CustomHelpTemplate = helpWithExamples(commandExamples[cmd.Name])
		// urfave/cli adds --help after it has grouped the flags in
		// categories, which then leave it out of the help: list it first.
		cmd.Flags = append(cmd.Flags, cli.HelpFlag)
	}
	refuseWhileCompleting(app.Commands)
	return app
}

// metadataEnv is the key of the app's Env in its Metadata.
const metadataEnv = "env"

// Main runs the application with args (os.Args) and returns the exit code,
// having printed any error to env's stderr.
func Main(ctx context.Context, args []string, env *Env) int {
	app := NewApp(env)
	if words, ok := completionRequest(args); ok {
		// The shell asks what may come next: answer, and run nothing.
		complete(env.IO.Out, app, words)
		return ExitOK
	}
	args = helpCommand(args)
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") && app.Command(args[1]) == nil {
		err := usageErrorf("unknown command %q:%s accepted commands are %s",
			args[1], suggestCommand(app, args[1]), strings.Join(commandNames(app), ", "))
		PrintError(env.IO.Err, err)
		return ExitCode(err)
	}
	err := app.RunContext(ctx, interspersed(app, args))
	if len(args) > 1 && app.Command(args[1]) != nil {
		err = inCommand(err, app.Command(args[1]).Name)
	}
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

// runCommand runs a command's parsed options with run, or hands them to
// env.RunF when a test has set it.
// helpWriter is where the app writes help: the standard output, wrapped to
// the terminal's width when it is one.
func helpWriter(io *IOStreams) io.Writer {
	if io.OutIsTerminal && io.Width > 0 {
		wrapHelp()
		return termWriter{Writer: io.Out, width: io.Width}
	}
	return io.Out
}

func runCommand[T any](ctx context.Context, env *Env, opts T, run func(context.Context, T) error) error {
	if env.RunF != nil {
		return env.RunF(opts)
	}
	return run(ctx, opts)
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
