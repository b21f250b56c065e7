package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/sql"
)

type initOptions struct {
	env  *Env
	conn ConnOptions
}

func initCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create or upgrade the schema (system.web_sessions, the admin role); safe to run again",
		Description: "init applies the schema embedded in this binary under a version table. It is\n" +
			"idempotent and safe to run from two processes at once. Run it as a superuser.",
		Flags: connFlagsWithUser(),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			return runCommand(c.Context, env, initOptions{env: env, conn: connFromFlags(c)}, runInit)
		},
	}
}

func runInit(ctx context.Context, opts initOptions) error {
	conn, err := opts.conn.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	applied, err := sql.Migrate(ctx, conn)
	if sql.SQLState(err) == "42501" {
		var pgErr *pgconn.PgError
		errors.As(err, &pgErr)
		return hintError{msg: "initialize schema: " + pgErr.Message, code: pgErr.Code,
			hint: "run 'auth-session init' once as a superuser; after that, members of admin may run it and find the schema current"}
	}
	if err != nil {
		return fmt.Errorf("initialize schema: %w", err)
	}
	// Progress talk goes to stderr: stdout stays empty for scripts.
	if len(applied) == 0 {
		fmt.Fprintf(opts.env.IO.Err, "schema is up to date (version %d)\n", sql.LatestVersion())
	} else {
		fmt.Fprintf(opts.env.IO.Err, "applied schema versions %v; schema is at version %d\n", applied, sql.LatestVersion())
	}
	return nil
}
