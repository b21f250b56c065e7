package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Whoever owns the schema of the session tables, or anything in it, owns
// every session: the owner of a schema may drop and replace any table in it,
// and the owner of a table may put a trigger on it that runs as whoever
// writes to the table next, a superuser running login included. So before a
// command or serve reads or writes anything in the schema, CheckTrust makes
// sure that only trusted roles (superusers and members of admin, who may
// change sessions anyway) control it, and that it holds no trigger or rule
// init did not create (init creates none).
//
// A trusted role is a superuser or a member of admin. pg_database_owner, the
// owner of public since PostgreSQL 15, stands for the database's owner.

// SafeSearchPath is the search_path every connection asks for: functions and
// operators resolve in pg_catalog alone (pg_temp is never searched for
// them), and every table the statements use is named with its schema. No
// role can then shadow a function the statements call by creating one of a
// better-matching type in a schema earlier in the path.
const SafeSearchPath = "pg_catalog, pg_temp"

// Untrusted is one reason the schema cannot be trusted.
type Untrusted struct {
	// Object names what is wrong: "table system.web_sessions",
	// "trigger t on table system.web_sessions", "schema public".
	Object string
	// Role is the role outside superuser and admin that owns Object or may
	// create objects in it; "" for a trigger or rule.
	Role string
	// Problem is one of "owner", "create", "trigger", "rule",
	// "search_path owner" and "search_path create".
	Problem string
}

// String says what is wrong in words an operator can act on.
func (u Untrusted) String() string {
	switch u.Problem {
	case "owner":
		return fmt.Sprintf("%s is owned by %s, which is neither a superuser nor a member of admin", u.Object, u.Role)
	case "create":
		return fmt.Sprintf("%s may create objects in %s", u.Role, u.Object)
	case "search_path owner":
		return fmt.Sprintf("%s, on the search_path, is owned by %s, which is neither a superuser nor a member of admin", u.Object, u.Role)
	case "search_path create":
		return fmt.Sprintf("%s may create objects in %s, which is on the search_path", u.Role, u.Object)
	default: // trigger, rule
		return fmt.Sprintf("%s was not created by auth-session init", u.Object)
	}
}

// ErrUntrusted means roles outside superuser and admin control the schema
// of the session tables; the error's text names each object and role.
type ErrUntrusted struct {
	Schema   string
	Problems []Untrusted
}

func (e *ErrUntrusted) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("the session tables in schema %s cannot be trusted: %s", e.Schema, strings.Join(parts, "; "))
}

// IsUntrusted reports whether err is an *ErrUntrusted.
func IsUntrusted(err error) bool {
	var u *ErrUntrusted
	return errors.As(err, &u)
}

// untrustedQuery reads only the catalogs: nothing in the schema is read, so
// nothing a hostile owner put there can run. $1 is the schema's name.
const untrustedQuery = `WITH
trusted AS (
    SELECT r.oid FROM pg_catalog.pg_roles r
    WHERE r.rolsuper OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
                                WHERE a.rolname = 'admin' AND pg_catalog.pg_has_role(r.oid, a.oid, 'MEMBER'))
),
db_owner AS (
    SELECT (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'pg_database_owner') AS pseudo, d.datdba AS real
    FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()
),
ns AS (SELECT oid, nspname::TEXT AS name, nspowner, nspacl FROM pg_catalog.pg_namespace WHERE nspname = $1),
owned (object, classid, objid, owner) AS (
    SELECT 'schema ' || name, 0::OID, 0::OID, nspowner FROM ns
    UNION ALL
    SELECT NULL, d.classid, d.objid, o.refobjid
    FROM pg_catalog.pg_depend d
    JOIN ns ON d.refobjid = ns.oid
    JOIN pg_catalog.pg_shdepend o ON o.classid = d.classid AND o.objid = d.objid AND o.objsubid = 0 AND o.deptype = 'o'
        AND o.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
    WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.refobjsubid = 0
),
path AS (
    SELECT n.oid, n.nspname::TEXT AS name, n.nspowner, n.nspacl FROM pg_catalog.pg_namespace n
    WHERE n.nspname = ANY (pg_catalog.current_schemas(false))
      AND n.nspname <> 'pg_catalog' AND n.nspname <> $1 AND n.nspname NOT LIKE 'pg\_temp\_%'
),
problems (object, classid, objid, role_oid, problem) AS (
    SELECT object, classid, objid, owner, 'owner' FROM owned
    UNION ALL
    SELECT 'schema ' || ns.name, 0, 0, a.grantee, 'create' FROM ns, pg_catalog.aclexplode(ns.nspacl) a
    WHERE a.privilege_type = 'CREATE'
    UNION ALL
    SELECT 'schema ' || path.name, 0, 0, path.nspowner, 'search_path owner' FROM path
    UNION ALL
    SELECT 'schema ' || path.name, 0, 0, a.grantee, 'search_path create' FROM path, pg_catalog.aclexplode(path.nspacl) a
    WHERE a.privilege_type = 'CREATE'
)
SELECT COALESCE(p.object, pg_catalog.pg_describe_object(p.classid, p.objid, 0)),
       CASE WHEN p.role_oid = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(p.role_oid)::TEXT END,
       p.problem
FROM problems p CROSS JOIN db_owner
WHERE p.role_oid = 0 OR NOT EXISTS (
    SELECT 1 FROM trusted t
    WHERE t.oid = CASE WHEN p.role_oid = db_owner.pseudo THEN db_owner.real ELSE p.role_oid END)
UNION ALL
SELECT 'trigger ' || t.tgname || ' on table ' || ns.name || '.' || c.relname, '', 'trigger'
FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN ns ON c.relnamespace = ns.oid
WHERE NOT t.tgisinternal
UNION ALL
SELECT 'rule ' || r.rulename || ' on table ' || ns.name || '.' || c.relname, '', 'rule'
FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN ns ON c.relnamespace = ns.oid
WHERE r.rulename <> '_RETURN'
ORDER BY 1`

// CheckTrust returns an *ErrUntrusted when a role outside superuser and
// admin owns the schema of the session tables or anything in it, may create
// objects in it, or controls a schema on the connection's search_path; or
// when a trigger or rule init did not create is on a table in it. A schema
// that does not exist passes (init has not run). It reads only the
// catalogs: PostgreSQL's (see dialect.go).
func CheckTrust(ctx context.Context, db DBTX, schema string) error {
	rows, err := db.Query(ctx, untrustedQuery, schema)
	if err != nil {
		return fmt.Errorf("check who controls schema %s: %w", schema, err)
	}
	defer rows.Close()
	var problems []Untrusted
	for rows.Next() {
		var u Untrusted
		if err := rows.Scan(&u.Object, &u.Role, &u.Problem); err != nil {
			return fmt.Errorf("check who controls schema %s: %w", schema, err)
		}
		problems = append(problems, u)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check who controls schema %s: %w", schema, err)
	}
	if len(problems) > 0 {
		return &ErrUntrusted{Schema: schema, Problems: problems}
	}
	return nil
}
