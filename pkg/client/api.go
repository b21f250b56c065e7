package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/auth-session/auth-session/pkg/sql"
)

// Identity is the caller of a request, as GET /api/v2/whoami reports it.
type Identity struct {
	Username  string    `json:"username"`
	SessionID int64     `json:"session_id,string"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Session is one of the caller's active sessions: of the fields of a
// listed session, those the self-service API shows (sql.OwnSessionFields:
// ID, CreatedAt, LastUsedAt, ExpiresAt, IP and UserAgent, "" for a session
// made by the CLI, and LastIP and LastUserAgent, of its last use over
// HTTP); the others are zero.
type Session struct {
	sql.ListedSession
	// Current marks the session the client presents.
	Current bool
}

// UnmarshalJSON reads a session as the self-service API writes it.
func (s *Session) UnmarshalJSON(b []byte) error {
	return decodeSession(b, &s.ListedSession, sql.OwnSessionFields, map[string]any{"current": &s.Current})
}

// AdminSession is a session as the admin API shows it: every field of a
// listed session, as auth-session list shows them (RevokedAt is nil for a
// session not revoked; Via is how it was made, "http" or "cli").
type AdminSession struct {
	sql.ListedSession
	// Current marks the session the client presents.
	Current bool
}

// UnmarshalJSON reads a session as the admin API writes it.
func (s *AdminSession) UnmarshalJSON(b []byte) error {
	return decodeSession(b, &s.ListedSession, sql.SessionFields, map[string]any{"active": &s.Active, "current": &s.Current})
}

// decodeSession reads the JSON object of a session: its fields, then the
// members of extra, each into its pointer. A member missing is an error
// naming it, as a field of another type is.
func decodeSession(b []byte, s *sql.ListedSession, fields []sql.SessionField, extra map[string]any) error {
	var object map[string]json.RawMessage
	if err := json.Unmarshal(b, &object); err != nil {
		return err
	}
	if err := sql.DecodeSessionJSON(object, s, fields); err != nil {
		return err
	}
	for key, dst := range extra {
		raw, ok := object[key]
		if !ok {
			return fmt.Errorf("session member %s: missing", key)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("session member %s: %w", key, err)
		}
	}
	return nil
}

// Login signs in with a password (POST /api/v2/login/, checked by the
// database), keeps the new session for the calls that follow, and returns
// its value. A refusal is an *Error with status 401, whatever the reason.
func (c *Client) Login(ctx context.Context, username, password string) (string, error) {
	var out struct {
		Session string `json:"session"`
	}
	err := c.do(ctx, request{
		method: http.MethodPost, path: "/api/v2/login/", anonymous: true,
		form: url.Values{"username": {username}, "password": {password}},
	}, &out)
	if err != nil {
		return "", fmt.Errorf("log in as %q: %w", username, err)
	}
	c.setSession(out.Session)
	return out.Session, nil
}

// WhoAmI returns the user and session the client is authenticated as.
func (c *Client) WhoAmI(ctx context.Context) (Identity, error) {
	var out Identity
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v2/whoami"}, &out); err != nil {
		return Identity{}, fmt.Errorf("whoami: %w", err)
	}
	return out, nil
}

// Logout revokes the client's session (POST /api/v2/logout/) and forgets it.
func (c *Client) Logout(ctx context.Context) error {
	if err := c.do(ctx, request{method: http.MethodPost, path: "/api/v2/logout/"}, nil); err != nil {
		return fmt.Errorf("log out: %w", err)
	}
	c.setSession("")
	return nil
}

// Sessions returns the caller's active sessions, newest first.
func (c *Client) Sessions(ctx context.Context) ([]Session, error) {
	var out struct {
		Sessions []Session `json:"sessions"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/auth/sessions"}, &out); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out.Sessions, nil
}

// Revoke revokes one of the caller's own sessions by id. isCurrent is true
// when that was the client's own session, which then no longer works. An
// id that does not exist or is someone else's is an *Error with status 404.
func (c *Client) Revoke(ctx context.Context, id int64) (isCurrent bool, err error) {
	var out struct {
		IsCurrent bool `json:"is_current"`
	}
	path := "/api/v1/auth/sessions/" + strconv.FormatInt(id, 10)
	if err := c.do(ctx, request{method: http.MethodDelete, path: path}, &out); err != nil {
		return false, fmt.Errorf("revoke session %d: %w", id, err)
	}
	return out.IsCurrent, nil
}

// LogoutAll revokes all of the caller's sessions, or all but the client's
// own with keepCurrent ("sign out everywhere else"), and returns how many
// it revoked.
func (c *Client) LogoutAll(ctx context.Context, keepCurrent bool) (revoked int, err error) {
	req := request{method: http.MethodPost, path: "/api/v1/auth/logout-all"}
	if keepCurrent {
		req.query = url.Values{"keep_current": {"true"}}
	}
	var out struct {
		Revoked int `json:"revoked"`
	}
	if err := c.do(ctx, req, &out); err != nil {
		return 0, fmt.Errorf("log out all sessions: %w", err)
	}
	return out.Revoked, nil
}

// AdminFilter selects a page of the admin listing. The zero value asks for
// the first page of every session, of the server's default size.
type AdminFilter struct {
	// User keeps only this user's sessions when not empty.
	User string
	// Active keeps only sessions neither revoked nor expired.
	Active bool
	// Limit is the most sessions on the page, 1 to 5000; zero leaves it to
	// the server (500).
	Limit int
	// Before continues a listing: the Next of the previous page.
	Before int64
	// Selection narrows the listing as it narrows AdminRevokeMatching.
	Selection Selection
}

// AdminPage is one page of the admin listing.
type AdminPage struct {
	// Sessions are newest first.
	Sessions []AdminSession
	// Next is the Before of the page that follows, 0 on the last page.
	Next int64
}

// AdminSessions returns one page of every user's sessions, newest first,
// for a superuser or a member of the admin role; others get an *Error with
// status 403.
func (c *Client) AdminSessions(ctx context.Context, f AdminFilter) (AdminPage, error) {
	q := url.Values{}
	if f.User != "" {
		q.Set("user", f.User)
	}
	if f.Active {
		q.Set("active", "true")
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Before != 0 {
		q.Set("before", strconv.FormatInt(f.Before, 10))
	}
	f.Selection.query(q)
	var out struct {
		Sessions []AdminSession `json:"sessions"`
		Next     *string        `json:"next"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/admin/sessions", query: q}, &out); err != nil {
		return AdminPage{}, fmt.Errorf("list all sessions: %w", err)
	}
	page := AdminPage{Sessions: out.Sessions}
	if out.Next != nil {
		next, err := strconv.ParseInt(*out.Next, 10, 64)
		if err != nil {
			return AdminPage{}, fmt.Errorf("list all sessions: next %q: %w", *out.Next, err)
		}
		page.Next = next
	}
	return page, nil
}

// AdminRevoke revokes any user's session by id and returns its row. A
// session revoked before keeps its first revocation time; an unknown id is
// an *Error with status 404.
func (c *Client) AdminRevoke(ctx context.Context, id int64) (AdminSession, error) {
	var out struct {
		Session AdminSession `json:"session"`
	}
	path := "/api/v1/admin/sessions/" + strconv.FormatInt(id, 10)
	if err := c.do(ctx, request{method: http.MethodDelete, path: path}, &out); err != nil {
		return AdminSession{}, fmt.Errorf("revoke session %d: %w", id, err)
	}
	return out.Session, nil
}

// AdminLogoutUser revokes every session of the user named, whether or not
// the role still exists, and returns how many it revoked.
func (c *Client) AdminLogoutUser(ctx context.Context, name string) (revoked int, err error) {
	var out struct {
		Revoked int `json:"revoked"`
	}
	path := "/api/v1/admin/users/" + url.PathEscape(name) + "/logout"
	if err := c.do(ctx, request{method: http.MethodPost, path: path}, &out); err != nil {
		return 0, fmt.Errorf("log out user %q: %w", name, err)
	}
	return out.Revoked, nil
}

// Selection picks sessions for AdminRevokeMatching, as the selection flags
// of the CLI's list and revoke do: each field narrows it when set. Times
// are RFC 3339 or a duration ago ("2h", "7d"); durations are as the CLI
// writes them ("90m", "24h", "7d").
type Selection struct {
	Users []string `json:"users,omitempty"`
	// ExceptUsers leaves out these users' sessions; ExceptRoles those of
	// these roles' members (through other roles too) and of the roles.
	ExceptUsers   []string `json:"except_users,omitempty"`
	ExceptRoles   []string `json:"except_roles,omitempty"`
	State         string   `json:"state,omitempty"` // active, expired, revoked or all
	ExpiredWithin string   `json:"expired_within,omitempty"`
	CreatedBefore string   `json:"created_before,omitempty"`
	CreatedAfter  string   `json:"created_after,omitempty"`
	IdleFor       string   `json:"idle_for,omitempty"`
	IP            string   `json:"ip,omitempty"` // an address or a CIDR network
	UserAgent     string   `json:"user_agent,omitempty"`
	Via           string   `json:"via,omitempty"` // cli or http
}

// query adds sel's fields to q by their JSON names, a list's values
// repeated: the API reads a query string by the same names as a body.
func (sel Selection) query(q url.Values) {
	b, err := json.Marshal(sel)
	if err != nil {
		return // strings and lists of strings always marshal
	}
	var fields map[string]any
	_ = json.Unmarshal(b, &fields)
	for name, v := range fields {
		switch v := v.(type) {
		case string:
			q.Set(name, v)
		case []any:
			for _, x := range v {
				q.Add(name, fmt.Sprint(x))
			}
		}
	}
}

// RevokeResult counts what AdminRevokeMatching did, or would have done.
type RevokeResult struct {
	// Revoked counts the sessions revoked, and Users their users.
	Revoked int64 `json:"revoked"`
	Users   int   `json:"users"`
	// AlreadyRevoked counts the sessions picked that were revoked before.
	AlreadyRevoked int64 `json:"already_revoked"`
	DryRun         bool  `json:"dry_run"`
}

// AdminRevokeMatching revokes every session sel picks, in one transaction
// on the server, recording reason (when not empty) in the audit trail; a
// dry run counts them and changes nothing. A selection of every session is
// an *Error with status 400.
func (c *Client) AdminRevokeMatching(ctx context.Context, sel Selection, dryRun bool, reason string) (RevokeResult, error) {
	body := struct {
		Selection
		DryRun bool   `json:"dry_run"`
		Reason string `json:"reason,omitempty"`
	}{sel, dryRun, reason}
	var out RevokeResult
	err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/admin/sessions/revoke", json: body}, &out)
	if err != nil {
		return RevokeResult{}, fmt.Errorf("revoke matching sessions: %w", err)
	}
	return out, nil
}
