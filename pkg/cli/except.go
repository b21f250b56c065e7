package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/sql"
)

// "Everyone except these": the flags that leave users out of a selection
// (list, revoke) or of logout --all. A name left out by mistake would be
// logged out, so a name that matches no role and no session is an error.
const (
	flagExcept     = "except"
	flagExceptFrom = "except-from"
	flagExceptRole = "except-role"
)

// exceptFlags are the flags that leave users out.
func exceptFlags(of string) []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: flagExcept, Value: &repeated{}, Usage: "leave out the sessions of `USERNAME`" + of + " (repeatable; the name as list prints it, or in double quotes)"},
		&cli.StringFlag{Name: flagExceptFrom, Usage: "leave out the users named in `FILE`" + of + ", one per line as list prints them; - for standard input"},
		&cli.GenericFlag{Name: flagExceptRole, Value: &repeated{}, Usage: "leave out the members of `ROLE`" + of + ", directly or through other roles, and ROLE itself (repeatable)"},
	}
}

// checkNames looks up the names a selection gives, before anything is
// read or revoked. A role of --except-role that does not exist, or a name
// left out that matches no role and no session, is an error: a typo would
// leave out no one. With ignoreMissing a missing name left out is a
// warning on errOut instead. A --user that matches nothing picks nothing:
// a warning for list, an error for revoke (strictUsers), which would
// otherwise record a logout of a name no one has. Each suggests the
// closest role.
func checkNames(ctx context.Context, db sql.DBTX, sel sql.Selection, ignoreMissing, strictUsers bool, errOut io.Writer) error {
	noRole, err := sql.MissingRoles(ctx, db, sel.ExceptRoles)
	if err != nil {
		return err
	}
	if len(noRole) > 0 {
		return missingNamesError(ctx, db, "--"+flagExceptRole, noRole, "no role named %s", "")
	}
	missing, err := namesOfNothing(ctx, db, sel.ExceptUsers)
	if err != nil {
		return err
	}
	if len(missing) > 0 && !ignoreMissing {
		return missingNamesError(ctx, db, "--"+flagExcept, missing, "no role named %s and no sessions of it", listHint)
	}
	warn := func(flag string, names []string) error {
		if len(names) == 0 {
			return nil
		}
		roles, err := sql.RoleNames(ctx, db)
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintf(errOut, "warning: --%s %q: no role of that name and no sessions of it%s\n", flag, n, didYouMean(n, roles))
		}
		return nil
	}
	if err := warn(flagExcept, missing); err != nil {
		return err
	}
	if missing, err = namesOfNothing(ctx, db, sel.Users); err != nil {
		return err
	}
	if len(missing) > 0 && strictUsers {
		return missingNamesError(ctx, db, "--"+flagSelUser, missing, "no role named %s and no sessions of it", listHint)
	}
	return warn(flagSelUser, missing)
}

// namesOfNothing returns those of names that match no role and no
// session, live or not.
func namesOfNothing(ctx context.Context, db sql.DBTX, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	noRole, err := sql.MissingRoles(ctx, db, names)
	if err != nil || len(noRole) == 0 {
		return nil, err
	}
	return withoutSessions(ctx, db, noRole)
}

// withoutSessions returns those of names that own no session, live or not.
func withoutSessions(ctx context.Context, db sql.DBTX, names []string) ([]string, error) {
	owners, err := sql.UsersWithSessions(ctx, db, names)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, u := range names {
		if !owners[u] {
			missing = append(missing, u)
		}
	}
	return missing, nil
}

// nameSuggestions quotes names for a message, separated by commas, and
// suggests the closest role of each: "for "x", did you mean "y"? ".
func nameSuggestions(ctx context.Context, db sql.DBTX, names []string) (quoted, hint string, err error) {
	roles, err := sql.RoleNames(ctx, db)
	if err != nil {
		return "", "", err
	}
	q := make([]string, len(names))
	var h strings.Builder
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
		if near := closest(n, roles); near != "" {
			fmt.Fprintf(&h, "for %q, did you mean %q? ", n, near)
		}
	}
	return strings.Join(q, ", "), h.String(), nil
}

// didYouMean is "; did you mean "NAME"?" for the role closest to typed,
// or "" when none is close.
func didYouMean(typed string, roles []string) string {
	if near := closest(typed, roles); near != "" {
		return fmt.Sprintf("; did you mean %q?", near)
	}
	return ""
}

// listHint ends the hint of a user name that matches nothing.
const listHint = "list --summary shows the names of the users with sessions"

// missingNamesError says that names, given to flag, name nothing, and
// suggests the closest role of each, then more.
func missingNamesError(ctx context.Context, db sql.DBTX, flag string, names []string, format, more string) error {
	quoted, hint, err := nameSuggestions(ctx, db, names)
	if err != nil {
		return err
	}
	return hintError{msg: fmt.Sprintf("%s: "+format+": nothing was done", flag, quoted), hint: strings.TrimSpace(hint + more)}
}

// parseListedName reads the value of a flag that names a user as list
// prints it: verbatim, so that a name list printed (MixedCase) is the
// same name given back, or in double quotes as SQL writes a name.
func parseListedName(what, arg string) (string, error) {
	// Whitespace at either end is more likely a slip of the shell than a
	// name's: such a name is given in double quotes, as SQL writes it.
	if strings.HasPrefix(arg, `"`) || strings.TrimSpace(arg) != arg {
		return parseRoleName(what, arg)
	}
	if err := sql.CheckRoleName(arg); err != nil {
		return "", usageErrorf("invalid %s %q: %w", what, arg, err)
	}
	return arg, nil
}
