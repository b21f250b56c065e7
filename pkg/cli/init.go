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
	env   *Env
	conn  ConnOptions
	adopt bool
}

func initCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create or upgrade the schema (system.web_sessions, the admin role); safe to run again",
		Description: "init applies the schema embedded in this binary under a version table. It is\n" +
			"idempotent and safe to run from two processes at once. Run it as a superuser.\n" +
			"It refuses a schema that a role outside superuser and admin owns, or may create\n" +
			"objects in, and stops at an admin role or a schema it did not create itself\n" +
			"unless --adopt says to take them.",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "adopt", Usage: "take over an existing admin role, or an existing empty schema, that init did not create (review what init reports first)"},
		}, append(connFlags(), notSQLUserFlag(""))...),
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			return runCommand(c.Context, env, initOptions{env: env, conn: connFromFlags(c), adopt: c.Bool("adopt")}, runInit)
		},
	}
}

func runInit(ctx context.Context, opts initOptions) error {
	conn, err := opts.conn.Connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res, err := sql.Migrate(ctx, conn, sql.MigrateOptions{Adopt: opts.adopt})
	var (
		foreignRole   *sql.ErrForeignAdminRole
		foreignSchema *sql.ErrForeignSchema
	)
	switch {
	case errors.As(err, &foreignRole):
		return hintError{msg: err.Error(), code: "42501",
			hint: "review the role; then run 'auth-session init --adopt' to make it the role whose members manage sessions, or drop or rename it and run init again"}
	case errors.As(err, &foreignSchema):
		return hintError{msg: err.Error(), code: "42501",
			hint: "let init create the schema (drop it, or choose another with --schema), or run 'auth-session init --adopt' to install the tables in it"}
	case sql.IsUntrusted(err):
		return untrustedError(err)
	case errors.Is(err, sql.ErrSchemaTooNew):
		return hintError{msg: err.Error(), hint: "use a newer auth-session binary; this one would not know what the newer schema needs"}
	}
	for _, what := range res.Adopted {
		fmt.Fprintf(opts.env.IO.Err, "adopted %s\n", what)
	}
	applied := res.Applied
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
