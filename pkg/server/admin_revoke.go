package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/auth-session/auth-session/internal/httpjson"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// maxRevokeBody bounds the body of a revocation by selection: room for
// thousands of user names, not for a client to exhaust memory.
const maxRevokeBody = 1 << 20

// revokeRequest is the body of POST /api/v1/admin/sessions/revoke: the
// fields of a selection (sql.SelectionFields, by name), each narrowing
// when present (null is absent; an empty value is no filter, and refused),
// and what to do.
type revokeRequest struct {
	fields map[string]json.RawMessage
}

// UnmarshalJSON keeps each field as given; decodeJSONBody has checked the
// keys against jsonFieldNames.
func (req *revokeRequest) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &req.fields) }

// jsonFieldNames are the body's fields: the selection's, then what to do.
func (revokeRequest) jsonFieldNames() []string {
	names := make([]string, 0, len(sql.SelectionFields)+2)
	for _, f := range sql.SelectionFields {
		names = append(names, f.Name)
	}
	return append(names, "dry_run", "reason")
}

// options reads dry_run and reason.
func (req revokeRequest) options() (dryRun bool, reason string, err error) {
	if raw := req.fields["dry_run"]; raw != nil && json.Unmarshal(raw, &dryRun) != nil {
		return false, "", errors.New("invalid JSON body: field dry_run: want bool")
	}
	if raw := req.fields["reason"]; raw != nil && json.Unmarshal(raw, &reason) != nil {
		return false, "", errors.New("invalid JSON body: field reason: want string")
	}
	if err := sql.CheckText(reason); err != nil {
		return false, "", fmt.Errorf("invalid reason %s: %w", strconv.Quote(reason), err)
	}
	return dryRun, reason, nil
}

// selection reads the body's selection by sql.ParseSelection, the rules
// of the CLI's flags and of the admin listing's query string. A list field
// must be a list of strings, any other a string.
func (req revokeRequest) selection(now time.Time) (sql.Selection, map[string]any, error) {
	var typeErr error
	values := func(f *sql.SelectionField) []string {
		raw, ok := req.fields[f.Name]
		if !ok || string(raw) == "null" || typeErr != nil {
			return nil
		}
		if f.List {
			vs := []string{}
			if json.Unmarshal(raw, &vs) != nil {
				typeErr = fmt.Errorf("invalid JSON body: field %s: want []string", f.Name)
			}
			return vs
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			typeErr = fmt.Errorf("invalid JSON body: field %s: want string", f.Name)
		}
		return []string{v}
	}
	sel, written, err := sql.ParseSelection(values, now)
	if typeErr != nil {
		return sel, nil, typeErr
	}
	return sel, written, err
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
			writeError(w, badRequest("%s", err))
			return
		}
		dryRun, reason, err := req.options()
		if err != nil {
			writeError(w, badRequest("%s", err))
			return
		}
		sel.IdleTimeout = s.policy().IdleTimeout
		if sel.State == sql.StatusIdle && sel.IdleTimeout == 0 {
			writeError(w, errIdleWithoutTimeout)
			return
		}
		if sel.IsEmpty() {
			writeError(w, badRequest("the selection picks every session: give at least one of %s", sql.SelectionFieldNames()))
			return
		}
		// As the CLI's revoke does: the sessions a role's change ended are
		// recorded as such first, not under this revocation's reason.
		if !dryRun {
			s.sweeper.sweepIn(r.Context())
		}
		opts := s.revokeOptions(r, 0)
		opts.Reason, opts.DryRun = reason, dryRun
		res, err := s.store.Revoke(r.Context(), sql.Matching(sel, written), opts, nil)
		if !dryRun {
			s.metrics.revocation(revokedByAdminSelection, res.Revoked, err)
		}
		switch {
		case errors.Is(err, sql.ErrPicksEveryone):
			writeError(w, badRequest("%s: narrow it (users, ip, created_after, ...), or log everyone out with the CLI's logout --all", err))
			return
		case err != nil:
			s.storeUnavailable(w, r, "cannot revoke the sessions", err)
			return
		}
		if id, _ := auth.IdentityFrom(r.Context()); !dryRun && res.Revoked > 0 && !s.stillValid(r, id) {
			http.SetCookie(w, s.cookie("", -1))
		}
		httpjson.Write(w, http.StatusOK, revokeResponse{Revoked: res.Revoked, AlreadyRevoked: res.AlreadyRevoked, Users: res.Users, DryRun: dryRun})
	})
}

// stillValid reports whether the caller's own session survived a
// revocation, so that a caller who revoked it loses the cookie too.
func (s *Server) stillValid(r *http.Request, id auth.Identity) bool {
	session, err := sql.GetSession(r.Context(), s.db, id.SessionID)
	return err != nil || session.RevokedAt == nil
}
