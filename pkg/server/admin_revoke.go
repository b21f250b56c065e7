package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	str2duration "github.com/xhit/go-str2duration/v2"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// maxRevokeBody bounds the body of a revocation by selection: room for
// thousands of user names, not for a client to exhaust memory.
const maxRevokeBody = 1 << 20

// revokeRequest is the body of POST /api/v1/admin/sessions/revoke: the
// selection flags of list and revoke as JSON fields, each narrowing when
// present, and what to do.
type revokeRequest struct {
	Users         []string `json:"users"`
	State         string   `json:"state"`
	ExpiredWithin string   `json:"expired_within"`
	CreatedBefore string   `json:"created_before"`
	CreatedAfter  string   `json:"created_after"`
	IdleFor       string   `json:"idle_for"`
	IP            string   `json:"ip"`
	UserAgent     string   `json:"user_agent"`
	Via           string   `json:"via"`
	DryRun        bool     `json:"dry_run"`
	Reason        string   `json:"reason"`
}

// revokeResponse counts what the revocation did, or would have done.
type revokeResponse struct {
	Revoked        int64 `json:"revoked"`
	AlreadyRevoked int64 `json:"already_revoked"`
	Users          int   `json:"users"`
	DryRun         bool  `json:"dry_run"`
}

// errDryRun rolls back the transaction of a dry run.
var errDryRun = errors.New("dry run")

// handleAdminRevokeMatching answers POST /api/v1/admin/sessions/revoke:
// every session the body's selection picks is revoked in one transaction,
// with one sessions.revoked event per user, and the answer counts them. A
// dry run counts and changes nothing. A selection of every session is a 400:
// logging everyone out is the CLI's logout --all.
func (s *Server) handleAdminRevokeMatching() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, ok := decodeRevokeRequest(w, r)
		if !ok {
			return
		}
		sel, described, err := req.selection()
		if err != nil {
			auth.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		sel.IdleTimeout = s.cfg.IdleTimeout
		if sel.IsEmpty() {
			auth.WriteError(w, http.StatusBadRequest, "the selection picks every session: give at least one of users, state, expired_within, created_before, created_after, idle_for, ip, user_agent or via")
			return
		}
		var res sql.RevokeResult
		err = sql.RunRevocation(r.Context(), s.cfg.Pool, s.cfg.StandbyTimeout, func(tx pgx.Tx) error {
			var err error
			if res, err = sql.RevokeMatching(r.Context(), tx, sel, described, caller(r), req.Reason, nil); err != nil {
				return err
			}
			if req.DryRun {
				return errDryRun
			}
			return nil
		})
		if err != nil && !errors.Is(err, errDryRun) {
			s.storeUnavailable(w, r, "cannot revoke the sessions", err)
			return
		}
		if id, _ := auth.IdentityFrom(r.Context()); !req.DryRun && res.Revoked > 0 && !s.stillValid(r, id) {
			http.SetCookie(w, s.cookie("", -1))
		}
		auth.WriteJSON(w, http.StatusOK, revokeResponse{Revoked: res.Revoked, AlreadyRevoked: res.AlreadyRevoked, Users: res.Users, DryRun: req.DryRun})
	})
}

// stillValid reports whether the caller's own session survived a
// revocation, so that a caller who revoked it loses the cookie too.
func (s *Server) stillValid(r *http.Request, id auth.Identity) bool {
	session, err := sql.GetSession(r.Context(), s.cfg.Pool, id.SessionID)
	return err != nil || session.RevokedAt == nil
}

// decodeRevokeRequest reads the JSON body of a revocation, answering 400 or
// 415 and returning false when it is not one.
func decodeRevokeRequest(w http.ResponseWriter, r *http.Request) (revokeRequest, bool) {
	var req revokeRequest
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		auth.WriteError(w, http.StatusUnsupportedMediaType, "want a JSON body (Content-Type: application/json)")
		return req, false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRevokeBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		auth.WriteError(w, http.StatusBadRequest, "invalid JSON body: "+jsonError(err))
		return req, false
	}
	return req, true
}

// jsonError says what is wrong with a body without echoing its content.
func jsonError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("syntax error at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s: want %s", typ.Field, typ.Type)
	case errors.As(err, &tooLarge):
		return fmt.Sprintf("larger than %d bytes", tooLarge.Limit)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") +
			": want users, state, expired_within, created_before, created_after, idle_for, ip, user_agent, via, dry_run, reason"
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	return "not a JSON object"
}

// selection reads the request's fields as a Selection, and describes it as
// the CLI's flags would, for the audit trail. An error names the field and
// quotes its value.
func (req revokeRequest) selection() (sel sql.Selection, described string, err error) {
	var parts []string
	note := func(field, value string) { parts = append(parts, field+"="+strconv.Quote(value)) }
	bad := func(field, value string, err error) error {
		return fmt.Errorf("invalid %s %s: %w", field, strconv.Quote(value), err)
	}
	for _, u := range req.Users {
		if u == "" || !isText(u) {
			return sel, "", bad("users", u, errors.New("want role names, as the database spells them"))
		}
		sel.Users = append(sel.Users, u)
	}
	if len(req.Users) > 0 {
		note("users", strings.Join(req.Users, ","))
	}
	if req.State != "" {
		if sel.State, err = sql.ParseState(req.State); err != nil {
			return sel, "", bad("state", req.State, err)
		}
		note("state", req.State)
	}
	for _, d := range []struct {
		field, value string
		dst          *time.Duration
	}{{"expired_within", req.ExpiredWithin, &sel.ExpiredWithin}, {"idle_for", req.IdleFor, &sel.IdleFor}} {
		if d.value == "" {
			continue
		}
		if *d.dst, err = positiveDuration(d.value); err != nil {
			return sel, "", bad(d.field, d.value, err)
		}
		note(d.field, d.value)
	}
	for _, in := range []struct {
		field, value string
		dst          *sql.Instant
	}{{"created_before", req.CreatedBefore, &sel.CreatedBefore}, {"created_after", req.CreatedAfter, &sel.CreatedAfter}} {
		if in.value == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, in.value); err == nil {
			*in.dst = sql.Instant{At: t}
		} else if d, err := positiveDuration(in.value); err == nil && !sql.LooksLikeTime(in.value) {
			*in.dst = sql.Instant{Ago: d}
		} else {
			return sel, "", bad(in.field, in.value, errors.New("want an RFC 3339 time such as 2026-11-30T12:00:00Z, or a duration ago such as 2h or 7d"))
		}
		note(in.field, in.value)
	}
	if req.IP != "" {
		if sel.Network, err = sql.ParseNetwork(req.IP); err != nil {
			return sel, "", bad("ip", req.IP, err)
		}
		note("ip", req.IP)
	}
	if req.UserAgent != "" {
		if err := sql.CheckUserAgent(req.UserAgent); err != nil {
			return sel, "", bad("user_agent", req.UserAgent, err)
		}
		sel.UserAgent = req.UserAgent
		note("user_agent", req.UserAgent)
	}
	if req.Via != "" {
		if sel.Via, err = sql.ParseVia(req.Via); err != nil {
			return sel, "", bad("via", req.Via, err)
		}
		note("via", req.Via)
	}
	if len(req.Reason) > sql.MaxClientText || !isText(req.Reason) {
		return sel, "", errors.New("invalid reason: want printable text of at most " + strconv.Itoa(sql.MaxClientText) + " bytes")
	}
	return sel, strings.Join(parts, " "), nil
}

// positiveDuration parses a duration as the CLI's flags write them (90m,
// 7d, 1w): positive, without a sign or spaces.
func positiveDuration(v string) (time.Duration, error) {
	d, err := str2duration.ParseDuration(v)
	if err != nil || d <= 0 || strings.TrimSpace(v) != v || strings.HasPrefix(v, "+") {
		return 0, errors.New("want a positive duration such as 90m, 24h, 7d or 1w")
	}
	return d, nil
}
