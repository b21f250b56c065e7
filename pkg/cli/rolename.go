package cli

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/lazyregexp"
	"github.com/auth-session/auth-session/pkg/sql"
)

// Role names on the command line follow SQL's rules for identifiers, so that
// every role can be named and no argument can name a role other than the
// one typed:
//   - in double quotes, the name is exactly what is between them, with ""
//     standing for one double quote: '"MixedCase"', '" web_user"';
//   - otherwise ASCII letters fold to lower case, as PostgreSQL folds an
//     unquoted identifier, and whitespace at either end or a control
//     character is refused rather than trimmed or kept;
//   - a name longer than PostgreSQL's limit is refused: the server would cut
//     it to the limit and so address the role its first 63 bytes name.

// maxRoleNameLen is PostgreSQL's identifier limit in bytes.
const maxRoleNameLen = sql.MaxRoleNameLen

// parseRoleName reads arg, the value of what (USERNAME, --user), as a role
// name. Errors are usage errors that quote arg and say how to quote.
func parseRoleName(what, arg string) (string, error) {
	name, err := parseIdentifier(what, arg)
	if err == nil && len(name) > maxRoleNameLen {
		return "", usageErrorf("invalid %s %q: %d bytes long, longer than PostgreSQL's limit of %d bytes for a role name",
			what, arg, len(name), maxRoleNameLen)
	}
	return name, err
}

// parseIdentifier reads arg as SQL reads an identifier, quoted or not.
func parseIdentifier(what, arg string) (string, error) {
	switch {
	case arg == "":
		return "", usageErrorf("invalid %s %q: must not be empty", what, arg)
	case !utf8.ValidString(arg):
		return "", usageErrorf("invalid %s %q: not valid UTF-8", what, arg)
	case strings.ContainsRune(arg, 0):
		return "", usageErrorf("invalid %s %q: must not contain NUL", what, arg)
	case strings.HasPrefix(arg, `"`):
		return parseQuotedRoleName(what, arg)
	case strings.TrimSpace(arg) != arg || strings.IndexFunc(arg, unicode.IsControl) >= 0:
		return "", usageErrorf("invalid %s %q: whitespace at either end or control characters; "+
			"to name a role that has them, put the name in double quotes, inside the shell's quotes: '%s'",
			what, arg, pgx.Identifier{arg}.Sanitize())
	case strings.Contains(arg, `"`):
		return "", usageErrorf("invalid %s %q: a double quote may only appear in a name in double quotes, written twice: '%s'",
			what, arg, pgx.Identifier{arg}.Sanitize())
	}
	return foldIdentifier(arg), nil
}

// parseVerbatimRoleName reads line, a name read from a file, as the role's
// name exactly: no quotes, no folding (sql.CheckRoleName).
func parseVerbatimRoleName(what, line string) (string, error) {
	if err := sql.CheckRoleName(line); err != nil {
		return "", usageErrorf("invalid %s %q: %w", what, line, err)
	}
	return line, nil
}

func parseQuotedRoleName(what, arg string) (string, error) {
	inner, ok := strings.CutSuffix(arg[1:], `"`)
	if !ok {
		return "", usageErrorf(`invalid %s %q: the closing double quote is missing`, what, arg)
	}
	name := strings.ReplaceAll(inner, `""`, `"`)
	switch {
	case name == "":
		return "", usageErrorf("invalid %s %q: a quoted name must not be empty", what, arg)
	case strings.Count(inner, `"`) != 2*strings.Count(name, `"`):
		return "", usageErrorf(`invalid %s %q: a double quote inside a quoted name is written twice (""), as in SQL`, what, arg)
	}
	return name, nil
}

// foldIdentifier folds ASCII letters to lower case and nothing else, as
// PostgreSQL folds unquoted identifiers in a UTF-8 database.
func foldIdentifier(name string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, name)
}

// plainIdent matches identifiers that need no quotes unless they are
// keywords.
var plainIdent = lazyregexp.New(`^[a-z_][a-z0-9_$]*$`)

// quoteIdent spells name as a SQL identifier for a hint, so the hint can be
// pasted into psql as it is: plain when PostgreSQL's quote_ident would leave
// it plain, else in double quotes.
func quoteIdent(name string) string {
	if plainIdent().MatchString(name) && !quotedKeywords[name] {
		return name
	}
	return pgx.Identifier{name}.Sanitize()
}

// quotedKeywords are PostgreSQL 15's keywords that cannot be role names
// unquoted: SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'.
var quotedKeywords = func() map[string]bool {
	const words = `all analyse analyze and any array as asc asymmetric authorization between bigint binary
bit boolean both case cast char character check coalesce collate collation column
concurrently constraint create cross current_catalog current_date current_role
current_schema current_time current_timestamp current_user dec decimal default deferrable
desc distinct do else end except exists extract false fetch float for foreign freeze from
full grant greatest group grouping having ilike in initially inner inout int integer
intersect interval into is isnull join lateral leading least left like limit localtime
localtimestamp national natural nchar none normalize not notnull null nullif numeric
offset on only or order out outer overlaps overlay placing position precision primary
real references returning right row select session_user setof similar smallint some
substring symmetric table tablesample then time timestamp to trailing treat trim true
union unique user using values varchar variadic verbose when where window with
xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi
xmlroot xmlserialize xmltable`
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}()

// foldHint is advice for a role name that was folded to lower case, in case
// the user meant the name as typed; "" when nothing was folded.
func foldHint(typed, name string) string {
	if typed == name || strings.HasPrefix(typed, `"`) {
		return ""
	}
	return fmt.Sprintf("; names fold to lower case unless in double quotes: for the role %s, pass '%s'",
		pgx.Identifier{typed}.Sanitize(), pgx.Identifier{typed}.Sanitize())
}
