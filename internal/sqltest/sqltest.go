// Package sqltest gives the tests of the packages built on pkg/sql a
// database with the schema installed, one copy per test.
package sqltest

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/pkg/sql"
)

// Migrated is a database that sql.Migrate set up, made once per test binary;
// Migrated.NewDB and Migrated.NewPool give each test a copy of its own.
// pkg/sql's own tests, which this package cannot serve, keep their own.
var Migrated = pgtest.NewTemplate("migrated", func(ctx context.Context, conn *pgx.Conn) error {
	_, err := sql.Migrate(ctx, conn, sql.MigrateOptions{})
	return err
})
