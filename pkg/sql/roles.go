package sql

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// roleNames lists the roles a person may have meant: every role but the
// built-in pg_ ones.
const roleNames = `SELECT rolname FROM pg_catalog.pg_roles WHERE rolname NOT LIKE 'pg\_%' ORDER BY rolname`

// RoleNames returns the names of the database's roles, but the built-in
// pg_ ones, for suggesting the name a typo meant.
func RoleNames(ctx context.Context, db DBTX) ([]string, error) {
	rows, err := db.Query(ctx, roleNames)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return names, nil
}

// usersWithSessions are those of the names that own a session, live or not.
const usersWithSessions = `SELECT DISTINCT username FROM system.web_sessions WHERE username = ANY($1::TEXT[])`

// UsersWithSessions returns those of usernames that own a session in the
// table, revoked, expired or live.
func UsersWithSessions(ctx context.Context, db DBTX, usernames []string) (map[string]bool, error) {
	rows, err := db.Query(ctx, inSchema(db, usersWithSessions), usernames)
	if err != nil {
		return nil, fmt.Errorf("look up sessions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up sessions: %w", err)
	}
	owners := map[string]bool{}
	for _, n := range names {
		owners[n] = true
	}
	return owners, nil
}
