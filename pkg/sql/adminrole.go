package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The admin role decides who may read and change sessions, so init uses
// only an admin role it made itself. Roles belong to the whole cluster, so
// init marks the role it creates with a comment (adminRoleMark): a second
// database's init, or a later one, finds the mark and uses the role. An
// admin role without the mark was made by someone else, perhaps with LOGIN
// and a password, perhaps with members, and init reports it and stops
// unless told to adopt it (MigrateOptions.Adopt). Role comments are
// PostgreSQL's (see dialect.go).

// adminRoleMark is the comment init puts on the admin role it creates.
const adminRoleMark = "auth-session: members of this role manage web sessions (created by auth-session init)"

const createAdminRole = `CREATE ROLE admin NOLOGIN`

// AdminRole is what the catalogs say of the admin role.
type AdminRole struct {
	exists bool
	// marked is true when init created the role (or adopted it).
	marked bool
	// CanLogin and Superuser are the role's own attributes.
	CanLogin  bool
	Superuser bool
	// Members are the roles granted admin directly.
	Members []string
}

const readAdmin = `SELECT r.rolcanlogin, r.rolsuper,
    COALESCE(pg_catalog.shobj_description(r.oid, 'pg_authid'), '') = $1,
    ARRAY(SELECT m.rolname::TEXT FROM pg_catalog.pg_auth_members am
          JOIN pg_catalog.pg_roles m ON m.oid = am.member
          WHERE am.roleid = r.oid ORDER BY m.rolname)
FROM pg_catalog.pg_roles r WHERE r.rolname = 'admin'`

func readAdminRole(ctx context.Context, db DBTX) (AdminRole, error) {
	a := AdminRole{exists: true}
	err := db.QueryRow(ctx, readAdmin, adminRoleMark).Scan(&a.CanLogin, &a.Superuser, &a.marked, &a.Members)
	if err == pgx.ErrNoRows {
		return AdminRole{}, nil
	}
	if err != nil {
		return a, fmt.Errorf("look up role admin: %w", err)
	}
	return a, nil
}

// markAdminRole marks the admin role as init's.
func markAdminRole(ctx context.Context, tx DBTX) error {
	if _, err := tx.Exec(ctx, "COMMENT ON ROLE admin IS '"+adminRoleMark+"'"); err != nil {
		return fmt.Errorf("mark role admin as auth-session's: %w", err)
	}
	return nil
}

// ErrForeignAdminRole means an admin role exists that init did not create.
type ErrForeignAdminRole struct {
	Role AdminRole
}

func (e *ErrForeignAdminRole) Error() string {
	return `role "admin" exists and was not created by auth-session init: ` + e.describe()
}

// describe says what the role can do: what an operator must review before
// adopting it.
func (e *ErrForeignAdminRole) describe() string {
	var can []string
	if e.Role.Superuser {
		can = append(can, "it is a superuser")
	}
	if e.Role.CanLogin {
		can = append(can, "it can log in")
	} else {
		can = append(can, "it cannot log in")
	}
	if len(e.Role.Members) > 0 {
		can = append(can, "its members are "+strings.Join(e.Role.Members, ", "))
	} else {
		can = append(can, "it has no members")
	}
	return `role "admin": ` + strings.Join(can, "; ")
}

// ErrForeignSchema means the schema exists but has no version table: init
// did not create it.
type ErrForeignSchema struct {
	Schema, Owner string
}

func (e *ErrForeignSchema) Error() string {
	return fmt.Sprintf("schema %s exists and was not created by auth-session init (its owner is %s)", e.Schema, e.Owner)
}
