package sql

import (
	"context"
	"fmt"
)

// Caller describes the connected user and the schema it sees.
type Caller struct {
	// Username is current_user.
	Username string
	// IsAdmin is true for superusers and members of the admin role that
	// inherit its privileges.
	IsAdmin bool
	// NoInherit is true for a member of admin that does not inherit its
	// privileges (NOINHERIT), which IsAdmin does not count.
	NoInherit bool
	// SchemaVersion is the newest applied migration, 0 when none.
	SchemaVersion int
	// ReadOnly is true when the connection cannot write: a hot standby, or
	// default_transaction_read_only on.
	ReadOnly bool
	// CredentialsOwner names the owner of system.role_credentials when it
	// is not a superuser (any more): the view then cannot read pg_authid,
	// and every session check fails. "" when it is one, or the view is
	// not there.
	CredentialsOwner string
}

// The admin role may not exist (init has not run), and pg_has_role fails on a
// missing role, so membership is tested only for a role that exists. USAGE,
// not MEMBER: a NOINHERIT member does not hold admin's table privileges
// without SET ROLE, so it would pass the check and then be denied.
const preflightQuery = `SELECT current_user,
    COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user), false)
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
               WHERE a.rolname = 'admin' AND pg_has_role(current_user, a.oid, 'USAGE')),
    EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
            WHERE a.rolname = 'admin' AND pg_has_role(current_user, a.oid, 'MEMBER')),
    (SELECT COALESCE(max(version), 0) FROM system.schema_migrations),
    current_setting('transaction_read_only') = 'on',
    COALESCE((SELECT r.rolname::TEXT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner
              WHERE c.oid = pg_catalog.to_regclass('system.role_credentials') AND NOT r.rolsuper), '')`

// Preflight reads who is connected, which schema version the database has
// and whether it can write, in one round trip. It returns ErrSchemaMissing when init has not run.
func Preflight(ctx context.Context, db DBTX) (Caller, error) {
	var c Caller
	var member bool
	err := db.QueryRow(ctx, inSchema(db, preflightQuery)).Scan(&c.Username, &c.IsAdmin, &member, &c.SchemaVersion, &c.ReadOnly, &c.CredentialsOwner)
	c.NoInherit = member && !c.IsAdmin
	switch SQLState(err) {
	case "":
	case "42P01", "3F000": // undefined_table, invalid_schema_name
		return c, ErrSchemaMissing
	default:
		return c, fmt.Errorf("check the connected user: %w", err)
	}
	return c, nil
}

// CheckSchema compares the database's schema version with this binary's.
func (c Caller) CheckSchema() error {
	latest := LatestVersion()
	switch {
	case c.SchemaVersion == 0:
		return ErrSchemaMissing
	case c.SchemaVersion < latest:
		return fmt.Errorf("%w (database has version %d, binary needs %d)", ErrSchemaOutdated, c.SchemaVersion, latest)
	case c.SchemaVersion > latest:
		return fmt.Errorf("%w (database has version %d, binary knows %d)", ErrSchemaTooNew, c.SchemaVersion, latest)
	}
	return nil
}

// pg_has_role fails on a missing role name, so membership is tested by OID
// and only for a role that exists. MEMBER, not USAGE as in Preflight: the
// caller never uses admin's privileges itself (the server's connection
// does), and a NOINHERIT member may take them with SET ROLE at any time.
const isAdmin = `SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_roles u
    WHERE u.rolname = $1 AND (u.rolsuper OR EXISTS (
        SELECT 1 FROM pg_catalog.pg_roles a
        WHERE a.rolname = 'admin' AND pg_has_role(u.oid, a.oid, 'MEMBER'))))`

// IsAdmin reports whether role username exists and is a superuser or a
// member, directly or through other roles, of the admin role.
func IsAdmin(ctx context.Context, db DBTX, username string) (bool, error) {
	var ok bool
	if err := db.QueryRow(ctx, inSchema(db, isAdmin), username).Scan(&ok); err != nil {
		return false, fmt.Errorf("check whether %q is an admin: %w", username, err)
	}
	return ok, nil
}
