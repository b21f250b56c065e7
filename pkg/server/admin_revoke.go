package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	str2duration "github.com/xhit/go-str2duration/v2"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// maxRevokeBody bounds the body of a revocation by selection: room for
// thousands of user names, not for a client to exhaust memory.
const maxRevokeBody = 1 << 20

// revokeRequest is the body of POST /api/v1/admin/sessions/revoke: the
// selection flags of list and revoke as JSON fields, each narrowing when
// present (null is absent; an empty value is no filter, and refused), and
// what to do.
type revokeRequest struct {
	Users         []string `json:"users"`
	State         *string  `json:"state"`
	ExpiredWithin *string  `json:"expired_within"`
	CreatedBefore *string  `json:"created_before"`
	CreatedAfter  *string  `json:"created_after"`
	IdleFor       *string  `json:"idle_for"`
	IP            *string  `json:"ip"`
	UserAgent     *string  `json:"user_agent"`
	Via           *string  `json:"via"`
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

// handleAdminRevokeMatching answers POST /api/v1/admin/sessions/revoke:
// every session the body's selection picks is revoked in one transaction,
// with one sessions.revoked event per user, and the answer counts them. A
// dry run counts and changes nothing. A selection that picks everyone (see
// sql.ErrPicksEveryone) is a 400: logging everyone out is the CLI's logout
// --all.
func (s *Server) handleAdminRevokeMatching() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req revokeRequest
		if !decodeJSONBody(w, r, maxRevokeBody, &req) {
			return
		}
		sel, written, err := req.selection(time.Now())
		if err != nil {
			auth.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		sel.IdleTimeout = s.cfg.IdleTimeout
		if sel.IsEmpty() {
			auth.WriteError(w, http.StatusBadRequest, "the selection picks every session: give at least one of users, state, expired_within, created_before, created_after, idle_for, ip, user_agent or via")
			return
		}
		opts := s.revokeOptions(r, 0)
		opts.Reason, opts.DryRun = req.Reason, req.DryRun
		res, err := s.store.Revoke(r.Context(), sql.Matching(sel, written), opts, nil)
		switch {
		case errors.Is(err, sql.ErrPicksEveryone):
			auth.WriteError(w, http.StatusBadRequest, err.Error()+
				": narrow it (users, ip, created_after, ...), or log everyone out with the CLI's logout --all")
			return
		case err != nil:
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

// selection reads the request's fields as a Selection, and as the
// selection written, for the audit trail: each field given, its value as
// given, users as a list. An error names the field and quotes its value.
// Time bounds are checked against now.
func (req revokeRequest) selection(now time.Time) (sel sql.Selection, written map[string]any, err error) {
	written = map[string]any{}
	bad := func(field, value string, err error) error {
		return fmt.Errorf("invalid %s %s: %w", field, strconv.Quote(value), err)
	}
	if req.Users != nil {
		if len(req.Users) == 0 {
			return sel, nil, errors.New("invalid users []: want at least one role name; leave users out to pick anyone's sessions")
		}
		for _, u := range req.Users {
			if u == "" || !isText(u) {
				return sel, nil, bad("users", u, errors.New("want role names, as the database spells them"))
			}
		}
		sel.Users = req.Users
		written["users"] = req.Users
	}
	// Each field below is read when present; "" is a value like any
	// other, which each parser refuses.
	if v := req.State; v != nil {
		if sel.State, err = sql.ParseState(*v); err != nil {
			return sel, nil, bad("state", *v, err)
		}
		written["state"] = *v
	}
	if v := req.ExpiredWithin; v != nil {
		if sel.ExpiredWithin, err = positiveDuration(*v); err != nil {
			return sel, nil, bad("expired_within", *v, err)
		}
		written["expired_within"] = *v
	}
	if v := req.CreatedBefore; v != nil {
		if sel.CreatedBefore, err = parseInstant(*v, now); err != nil {
			return sel, nil, bad("created_before", *v, err)
		}
		written["created_before"] = *v
	}
	if v := req.CreatedAfter; v != nil {
		if sel.CreatedAfter, err = parseInstant(*v, now); err != nil {
			return sel, nil, bad("created_after", *v, err)
		}
		written["created_after"] = *v
	}
	if v := req.IdleFor; v != nil {
		if sel.IdleFor, err = positiveDuration(*v); err != nil {
			return sel, nil, bad("idle_for", *v, err)
		}
		written["idle_for"] = *v
	}
	if v := req.IP; v != nil {
		if sel.Network, err = sql.ParseNetwork(*v); err != nil {
			return sel, nil, bad("ip", *v, err)
		}
		written["ip"] = *v
	}
	if v := req.UserAgent; v != nil {
		if err := sql.CheckUserAgent(*v); err != nil {
			return sel, nil, bad("user_agent", *v, err)
		}
		sel.UserAgent = *v
		written["user_agent"] = *v
	}
	if v := req.Via; v != nil {
		if sel.Via, err = sql.ParseVia(*v); err != nil {
			return sel, nil, bad("via", *v, err)
		}
		written["via"] = *v
	}
	if err := sql.CheckText(req.Reason); err != nil {
		return sel, nil, bad("reason", req.Reason, err)
	}
	return sel, written, nil
}

// parseInstant parses a time bound: an RFC 3339 time, or a duration ago,
// by now from the Unix epoch on (see sql.Instant.Check).
func parseInstant(v string, now time.Time) (sql.Instant, error) {
	var in sql.Instant
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		in = sql.Instant{At: t}
	} else if d, err := positiveDuration(v); err == nil && !sql.LooksLikeTime(v) {
		in = sql.Instant{Ago: d}
	} else {
		return in, errors.New("want an RFC 3339 time such as 2026-11-30T12:00:00Z, or a duration ago such as 2h or 7d")
	}
	return in, in.Check(now)
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
