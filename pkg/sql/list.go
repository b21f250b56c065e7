package sql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// A listed session and its fields, declared once, beside the query that
// reads them: every query that reads sessions for a listing (list, the admin
// API's pages, a user's own sessions, a revocation by id) selects them by
// their keys and scans them into their fields, and the CLI's formats, the
// HTTP API's JSON and pkg/client take their keys, headers and values from
// SessionFields. A field added there is a column of list and of revoke
// SESSION_ID, and a key of the admin API.

// ListedSession is one session as a listing reads it.
type ListedSession struct {
	ID         int64
	Username   string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt time.Time
	// Status is StatusRevoked, StatusExpired, StatusIdle or StatusActive,
	// in that order of precedence.
	Status string
	// RevokeReason is why the credential check revoked the session (one
	// of the Reason constants of CredentialsChanged); "" for any other
	// revocation, whose reason is in its audit event.
	RevokeReason string
	// Active is true when the session is neither revoked nor expired (nor
	// idle, under an idle timeout), by the database clock: Status is
	// StatusActive.
	Active bool
	// What the session recorded of the client that made it: the address
	// and User-Agent of an HTTP login, how it was made (cli or http), and
	// who made it. A listing reads them when ListFilter.Client is set.
	IP, UserAgent, Via, Actor string
	// The address and User-Agent of the session's last use over HTTP, as
	// of LastUsedAt: "" before its first (a session made by the CLI), and
	// an HTTP login's own until a later use is recorded. Written with
	// last_used_at, so they lag behind the last use as far as it does. A
	// listing reads them when ListFilter.Client is set.
	LastIP, LastUserAgent string
}

// SessionField is one field of a ListedSession.
type SessionField struct {
	// Key names the field in JSON (the CLI's and the HTTP API's alike),
	// YAML and the sql format, and is its alias in the SELECT.
	Key string
	// Header names it in the human formats (table, tsv, csv, records).
	Header string
	// Type is its SQL type, as the sql format declares it.
	Type string
	// Client marks what the session recorded of its client, which list
	// reads only when ListFilter.Client is set.
	Client bool
	// NullIfEmpty shows an empty text as NULL (JSON's null): a value that
	// is absent rather than empty.
	NullIfEmpty bool
	// expr is its SQL, over s (system.web_sessions) joined with
	// joinLogouts; it may bind arguments to w, and the status depends on
	// the idle timeout.
	expr func(w *where, idle time.Duration) string
	// in is where the field is in a row: what a scan fills, and what the
	// formats and the JSON read.
	in func(s *ListedSession) any
}

// SessionFields are the fields of a listed session, in the order list
// prints them.
var SessionFields = []SessionField{
	{Key: "username", Header: "username", Type: "TEXT", expr: sqlText("s.username"),
		in: func(s *ListedSession) any { return &s.Username }},
	{Key: "id", Header: "session ID", Type: "BIGINT", expr: sqlText("s.id"),
		in: func(s *ListedSession) any { return &s.ID }},
	{Key: "created_at", Header: "created", Type: "TIMESTAMPTZ", expr: sqlText("s.created_at"),
		in: func(s *ListedSession) any { return &s.CreatedAt }},
	{Key: "expires_at", Header: "expires", Type: "TIMESTAMPTZ", expr: sqlText("s.expires_at"),
		in: func(s *ListedSession) any { return &s.ExpiresAt }},
	{Key: "revoked_at", Header: "revoked", Type: "TIMESTAMPTZ", expr: sqlText(revokedAtOf),
		in: func(s *ListedSession) any { return &s.RevokedAt }},
	{Key: "last_used_at", Header: "last used", Type: "TIMESTAMPTZ", expr: sqlText("s.last_used_at"),
		in: func(s *ListedSession) any { return &s.LastUsedAt }},
	{Key: "status", Header: "status", Type: "TEXT", expr: statusExpr,
		in: func(s *ListedSession) any { return &s.Status }},
	{Key: "revoke_reason", Header: "reason", Type: "TEXT", NullIfEmpty: true, expr: sqlText("COALESCE(s.revoke_reason, '')"),
		in: func(s *ListedSession) any { return &s.RevokeReason }},
	{Key: "ip", Header: "ip", Type: "TEXT", Client: true, expr: sqlText("COALESCE(s.audit_info->>'client_addr', '')"),
		in: func(s *ListedSession) any { return &s.IP }},
	{Key: "user_agent", Header: "user agent", Type: "TEXT", Client: true, expr: sqlText("COALESCE(s.audit_info->>'user_agent', '')"),
		in: func(s *ListedSession) any { return &s.UserAgent }},
	{Key: "last_ip", Header: "last ip", Type: "TEXT", Client: true, expr: sqlText("COALESCE(host(s.last_ip), '')"),
		in: func(s *ListedSession) any { return &s.LastIP }},
	{Key: "last_user_agent", Header: "last user agent", Type: "TEXT", Client: true, expr: sqlText("COALESCE(s.last_user_agent, '')"),
		in: func(s *ListedSession) any { return &s.LastUserAgent }},
	{Key: "via", Header: "via", Type: "TEXT", Client: true, expr: sqlText("COALESCE(s.audit_info->>'via', '')"),
		in: func(s *ListedSession) any { return &s.Via }},
	{Key: "actor", Header: "actor", Type: "TEXT", Client: true, expr: sqlText("COALESCE(s.audit_info->>'actor', '')"),
		in: func(s *ListedSession) any { return &s.Actor }},
}

// OwnSessionFields are those of SessionFields the self-service API shows a
// user of their own sessions, all of them active. A field added to
// SessionFields is not shown there unless named here: how a session was
// made (actor) is for the admins to see.
var OwnSessionFields = SessionFieldsNamed("id", "created_at", "last_used_at", "expires_at", "ip", "user_agent", "last_ip", "last_user_agent")

// sqlText is the expr of a field whose SQL is text alone.
func sqlText(text string) func(*where, time.Duration) string {
	return func(*where, time.Duration) string { return text }
}

// SessionFieldsNamed returns the fields of SessionFields with these keys,
// in this order. It panics on a key that names none: the keys are the
// caller's constants, and the first test that runs the caller finds it.
func SessionFieldsNamed(keys ...string) []SessionField {
	fields := make([]SessionField, 0, len(keys))
	for _, key := range keys {
		i := slices.IndexFunc(SessionFields, func(f SessionField) bool { return f.Key == key })
		if i < 0 {
			panic("sql: no session field " + strconv.Quote(key))
		}
		fields = append(fields, SessionFields[i])
	}
	return fields
}

// Value is the field of s as pkg/format renders it: a pointer to it, with
// a time not set a nil *time.Time, and a 64-bit integer its decimal text,
// which JSON keeps exact (JavaScript's numbers lose digits beyond 2^53).
func (f SessionField) Value(s *ListedSession) any {
	switch p := f.in(s).(type) {
	case *int64:
		return strconv.FormatInt(*p, 10)
	case **time.Time:
		return *p
	case *string:
		if f.NullIfEmpty && *p == "" {
			return nil
		}
		return p
	default:
		return p
	}
}

// selectFields is the SELECT list of fields, each aliased by its key,
// binding what they need to w.
func selectFields(w *where, fields []SessionField, idle time.Duration) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteString(",\n    ")
		}
		b.WriteString(f.expr(w, idle))
		b.WriteString(` AS "`)
		b.WriteString(f.Key)
		b.WriteByte('"')
	}
	return b.String()
}

// scanTargets returns where a scan of fields puts each column in s: its
// field's place, so that the SELECT and the scan, both made from fields,
// cannot disagree.
func scanTargets(fields []SessionField, s *ListedSession) []any {
	dest := make([]any, len(fields))
	for i, f := range fields {
		dest[i] = f.in(s)
	}
	return dest
}

// ListFilter picks and orders the rows of ListSessions.
type ListFilter struct {
	Selection
	// Client also reads what the session recorded of its client: the
	// fields marked Client.
	Client bool
	// Order is the column the rows come in order of: OrderCreated (the
	// default when empty), OrderExpires or OrderLastUsed; the id splits
	// ties. Desc reverses it.
	Order string
	Desc  bool
	// Limit is the most rows to list; 0 lists all.
	Limit int
}

// Fields are the fields ListSessions reads for f, in list's order: every
// one, or, unless f.Client, all but those of the client.
func (f ListFilter) Fields() []SessionField {
	if f.Client {
		return SessionFields
	}
	var fields []SessionField
	for _, field := range SessionFields {
		if !field.Client {
			fields = append(fields, field)
		}
	}
	return fields
}

// Orders of ListFilter.
const (
	OrderCreated  = "created"
	OrderExpires  = "expires"
	OrderLastUsed = "last-used"
)

// Orders is every order ListFilter accepts.
var Orders = []string{OrderCreated, OrderExpires, OrderLastUsed}

// orderColumns are the columns of each order, each the head of an index
// that ends in id, so a limited list reads only the rows it prints.
var orderColumns = map[string]string{
	"":            "s.created_at",
	OrderCreated:  "s.created_at",
	OrderExpires:  "s.expires_at",
	OrderLastUsed: "s.last_used_at",
}

// Session states, as list shows them.
const (
	StatusActive  = "active"
	StatusIdle    = "idle"
	StatusExpired = "expired"
	StatusRevoked = "revoked"
)

// listFrom is what the fields are read from.
const listFrom = `
FROM system.web_sessions s` + joinLogouts

// listQuery builds the statement for f.
func listQuery(f ListFilter) (string, []any, error) {
	var w where
	q := "SELECT " + selectFields(&w, f.Fields(), f.IdleTimeout) + listFrom
	if err := f.add(&w); err != nil {
		return "", nil, err
	}
	col, ok := orderColumns[f.Order]
	if !ok {
		return "", nil, fmt.Errorf("unknown order %q: want one of %s", f.Order, strings.Join(Orders, ", "))
	}
	dir := ""
	if f.Desc {
		dir = " DESC"
	}
	q += w.String() + "\nORDER BY " + col + dir + ", s.id" + dir
	if f.Limit > 0 {
		q += " LIMIT " + w.arg(f.Limit)
	}
	return q, w.args, nil
}

// The rows a logout of everyone would write to.
const countUnrevoked = `SELECT count(*) FROM system.web_sessions WHERE revoked_at IS NULL`

// CountUnrevokedSessions counts the sessions whose revoked_at is not set,
// expired or not: those Store.Revoke of Everyone revokes.
func CountUnrevokedSessions(ctx context.Context, db DBTX) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, inSchema(db, countUnrevoked)).Scan(&n)
	return n, err
}

// ListSessions calls fn for every session that matches f, with the fields
// of f.Fields, in the order f asks for, streaming: it never holds more than
// one row.
func ListSessions(ctx context.Context, db DBTX, f ListFilter, fn func(*ListedSession) error) error {
	q, args, err := listQuery(f)
	if err != nil {
		return err
	}
	return eachListed(ctx, db, q, args, f.Fields(), fn)
}

// eachListed runs query, whose SELECT list is that of fields, and calls fn
// with each row, streaming: the row passed is the same from call to call.
func eachListed(ctx context.Context, db DBTX, query string, args []any, fields []SessionField, fn func(*ListedSession) error) error {
	rows, err := db.Query(ctx, inSchema(db, query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var s ListedSession
	dest := scanTargets(fields, &s)
	for rows.Next() {
		s = ListedSession{}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		s.Active = s.Status == StatusActive
		if err := fn(&s); err != nil {
			return err
		}
	}
	return rows.Err()
}

// getListed reads one session by id with the fields %[1]s (every one) and
// the hash of its secret, which a caller given a cookie compares the
// cookie's secret with.
const getListed = `SELECT %[1]s,
    s.hashed_secret` + listFrom + `
WHERE s.id = %[2]s`

// GetListedSession returns session id as list shows it, with every field,
// its state read under the idle timeout idle, or ErrSessionNotFound.
// hashedSecret is the stored hash of its secret, for a caller that checks a
// presented cookie (auth.PresentedSecretMatches): never to be shown.
func GetListedSession(ctx context.Context, db DBTX, id int64, idle time.Duration) (s ListedSession, hashedSecret []byte, err error) {
	var w where
	fields := selectFields(&w, SessionFields, idle)
	q := fmt.Sprintf(getListed, fields, w.arg(id))
	dest := append(scanTargets(SessionFields, &s), &hashedSecret)
	err = db.QueryRow(ctx, inSchema(db, q), w.args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ListedSession{}, nil, ErrSessionNotFound
	}
	if err != nil {
		return ListedSession{}, nil, err
	}
	s.Active = s.Status == StatusActive
	return s, hashedSecret, nil
}
