package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// The actions of the settings command.
const (
	settingsShow  = "show"
	settingsSet   = "set"
	settingsReset = "reset"
)

type settingsOptions struct {
	env  *Env
	conn ConnOptions
	// action is settingsShow, settingsSet or settingsReset.
	action string
	// name is the setting, "" with show for all of them.
	name string
	// value is set's, as the setting stores it.
	value  string
	format format.Format
}

func settingsCommand(env *Env) *cli.Command {
	var names []string
	for _, s := range sql.Settings {
		names = append(names, s.Name)
	}
	return &cli.Command{
		Name:      "settings",
		Usage:     "show, set and reset the settings every serve and command over the database applies",
		ArgsUsage: "[show [NAME] | set NAME VALUE | reset NAME]",
		Description: "settings are kept in the database (system.settings), so every serve and command\n" +
			"over it applies the same values, without a restart: a command reads them once\n" +
			"per run, serve every " + server.SettingsRefreshInterval.String() + ". show (the default) prints each setting's value,\n" +
			"its origin (the default, or the database, with when and by whom it was set)\n" +
			"and what it does; set and reset record a setting.changed event with the old\n" +
			"and the new value. A flag of a setting (serve --idle-timeout, list\n" +
			"--idle-timeout, purge --events-retention, ...), given to one process or set\n" +
			"by its environment variable, wins over the database's value for that process\n" +
			"alone; serve logs each value it applies and its origin. Settings: " + strings.Join(names, ", ") + ".",
		Flags: append(connFlags(),
			formatFlag(),
			noHeadersFlag(),
		),
		Action: func(c *cli.Context) error {
			opts := settingsOptions{env: env, conn: connFromFlags(c)}
			if err := opts.parseArgs(c.Args().Slice()); err != nil {
				return err
			}
			f, err := formatFromFlags(c, env.IO)
			if err != nil {
				return err
			}
			opts.format = f
			return runCommand(c.Context, env, opts, runSettings)
		},
	}
}

// parseArgs reads the action and its arguments, checking the setting's
// name and value before anything connects.
func (o *settingsOptions) parseArgs(args []string) error {
	const usage = "usage: auth-session settings [show [NAME] | set NAME VALUE | reset NAME]"
	o.action = settingsShow
	if len(args) > 0 {
		o.action, args = args[0], args[1:]
	}
	want := map[string]int{settingsShow: 1, settingsSet: 2, settingsReset: 1}
	n, ok := want[o.action]
	switch {
	case !ok:
		return usageErrorf("unknown settings action %q: want show, set or reset; %s", o.action, usage)
	case len(args) > n:
		return usageErrorf("unexpected argument %q: %s", args[n], usage)
	case len(args) < n && o.action != settingsShow:
		missing := []string{"NAME", "VALUE"}[len(args)]
		return usageErrorf("missing %s: %s", missing, usage)
	}
	if len(args) == 0 {
		return nil
	}
	setting, err := sql.LookupSetting(args[0])
	if err != nil {
		return usageError{err: err}
	}
	o.name = setting.Name
	if o.action == settingsSet {
		if o.value, err = setting.Parse(args[1]); err != nil {
			return usageError{err: err}
		}
	}
	return nil
}

var settingsColumns = []format.Column{
	{Header: "name", Key: "name"},
	{Header: "value", Key: "value"},
	{Header: "default", Key: "default"},
	{Header: "origin", Key: "origin"},
	{Header: "set at", Key: "set_at", Type: format.TypeTimestamp},
	{Header: "set by", Key: "set_by"},
	{Header: "description", Key: "description"},
}

func runSettings(ctx context.Context, opts settingsOptions) error {
	connect := connectWriter
	if opts.action == settingsShow {
		connect = connectAdmin
	}
	conn, caller, err := connect(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	store := sql.NewStore(conn)
	var change sql.SettingChange
	switch opts.action {
	case settingsShow:
		return showSettings(ctx, conn, opts)
	case settingsSet:
		change, err = store.SetSetting(ctx, opts.name, opts.value, cliActor(opts.env, caller))
	case settingsReset:
		change, err = store.ResetSetting(ctx, opts.name, cliActor(opts.env, caller))
	}
	if err != nil {
		return err
	}
	stderr := opts.env.IO.Err
	switch {
	case !change.Changed && opts.action == settingsSet:
		fmt.Fprintf(stderr, "%s is %s already; nothing changed\n", change.Name, change.New)
	case !change.Changed:
		fmt.Fprintf(stderr, "%s has its default, %s, already; nothing changed\n", change.Name, change.New)
	case opts.action == settingsSet:
		fmt.Fprintf(stderr, "set %s to %s (was %s)\n", change.Name, change.New, change.Old)
	default:
		fmt.Fprintf(stderr, "reset %s to its default, %s (was %s)\n", change.Name, change.New, change.Old)
	}
	return nil
}

// showSettings prints every setting, or the one named.
func showSettings(ctx context.Context, db sql.DBTX, opts settingsOptions) error {
	values, err := sql.ShowSettings(ctx, db)
	if err != nil {
		return err
	}
	w := format.New(opts.format, opts.env.IO.Out, settingsColumns)
	for _, v := range values {
		if opts.name != "" && v.Name != opts.name {
			continue
		}
		var setAt, setBy any
		if v.Origin == sql.OriginDatabase {
			setAt, setBy = v.SetAt, v.SetBy
		}
		if err := w.WriteRow(v.Name, v.Value, v.Default, v.Origin, setAt, setBy, v.Description); err != nil {
			return err
		}
	}
	return w.Close()
}
