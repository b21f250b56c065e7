// Package schema holds the numbered SQL migrations of the auth-session tables,
// embedded in the binary and applied in order by pkg/sql.Migrate.
//
// A file is named NNNN_description.sql; NNNN is its version. Each file runs in
// one transaction together with the row that records it in
// system.schema_migrations, so a migration is either applied and recorded or
// neither. Files must never change once released: add a new one instead.
package schema

import "embed"

// Files holds every migration, named NNNN_description.sql.
//
//go:embed *.sql
var Files embed.FS
