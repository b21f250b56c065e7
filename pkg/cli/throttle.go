package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// throttle show and throttle clear: the API login's throttle, looked at
// and lifted by hand.

type throttleShowOptions struct {
	env  *Env
	conn ConnOptions
	// pinned are the limits' flags given (see pinnedFromFlags).
	pinned map[string]string
	format format.Format
}

type throttleClearOptions struct {
	env        *Env
	conn       ConnOptions
	clientAddr string
	username   string
}

var throttledColumns = []format.Column{
	{Header: "client address", Key: "client_addr"},
	{Header: "username", Key: "username"},
	{Header: "failures", Key: "failures", Type: format.TypeBigInt},
	{Header: "clears", Key: "clears_at", Type: format.TypeTimestamp},
}

func throttleCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "throttle",
		Usage: "show and clear the API login's throttle of failed logins",
		Description: "The API's login counts failed logins in the database, per client address and\n" +
			"per user name at an address; past a limit (the settings login-fail-limit and\n" +
			"login-fail-limit-per-address, within login-fail-window) it answers 429.\n" +
			"throttle show lists what is throttled now by the same limits; throttle clear\n" +
			"forgets failed logins, so they are checked again at once.\n\n" +
			"Commands (see auth-session throttle COMMAND --help):\n" +
			"  show                            the addresses and user names throttled now\n" +
			"  clear --ip ADDR | --user NAME   forget their failed logins, audited",
		Subcommands: []*cli.Command{
			{
				Name:  "show",
				Usage: "list the addresses, and the user names at an address, throttled now, with their failures and when they clear",
				Description: "An empty username is the limit of the address, whatever the names tried. The\n" +
					"limits are the database's settings, as serve applies them; give the flags\n" +
					"of a serve whose own flags pin other limits.",
				Flags: append(append(connFlags(), loginLimitsFlags()...), formatFlag(), noHeadersFlag()),
				Action: func(c *cli.Context) error {
					if err := exactArgs(c); err != nil {
						return err
					}
					opts := throttleShowOptions{env: env, conn: connFromFlags(c)}
					var err error
					if opts.pinned, err = pinnedFromFlags(c, loginLimitsSettings...); err != nil {
						return err
					}
					if opts.format, err = formatFromFlags(c, env.IO); err != nil {
						return err
					}
					return runCommand(c.Context, env, opts, runThrottleShow)
				},
			},
			{
				Name:        "clear",
				Usage:       "forget the failed logins from an address, of a user name, or both",
				Description: "Recorded as a throttle.cleared event with the count forgotten.",
				Flags: append(connFlags(),
					&cli.StringFlag{Name: "ip", Usage: "forget the failed logins from client address `ADDR`, as throttle show prints it"},
					&cli.StringFlag{Name: "user", Usage: "forget the failed logins of user name `NAME`, as throttle show prints it (verbatim)"},
				),
				Action: func(c *cli.Context) error {
					if err := exactArgs(c); err != nil {
						return err
					}
					opts := throttleClearOptions{env: env, conn: connFromFlags(c), clientAddr: c.String("ip"), username: c.String("user")}
					if opts.clientAddr == "" && opts.username == "" {
						return usageErrorf("throttle clear: give --ip ADDR, --user NAME or both")
					}
					if opts.clientAddr != "" {
						if _, err := sql.ParseNetwork(opts.clientAddr); err != nil {
							return usageErrorf("invalid --ip %q: %w", opts.clientAddr, err)
						}
					}
					return runCommand(c.Context, env, opts, runThrottleClear)
				},
			},
		},
	}
}

func runThrottleShow(ctx context.Context, opts throttleShowOptions) error {
	conn, _, err := connectAdmin(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	policy, err := sql.ReadPolicy(ctx, conn, opts.pinned)
	if err != nil {
		return err
	}
	throttled, err := sql.ListThrottled(ctx, conn, policy.LoginLimits)
	if err != nil {
		return err
	}
	w := format.New(opts.format, opts.env.IO.Out, throttledColumns)
	for _, t := range throttled {
		if err := w.WriteRow(t.ClientAddr, t.Username, strconv.Itoa(t.Failures), t.ClearsAt); err != nil {
			return err
		}
	}
	return w.Close()
}

func runThrottleClear(ctx context.Context, opts throttleClearOptions) error {
	conn, caller, err := connectWriter(ctx, opts.conn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	n, err := sql.NewStore(conn).ClearThrottle(ctx, opts.clientAddr, opts.username, cliActor(opts.env, caller))
	if err != nil {
		return fmt.Errorf("clear the throttle: %w", err)
	}
	fmt.Fprintf(opts.env.IO.Err, "forgot %s\n", plural(n, "failed login", "failed logins"))
	return nil
}
