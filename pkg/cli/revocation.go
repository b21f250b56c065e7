package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/auth-session/auth-session/pkg/format"
	"github.com/auth-session/auth-session/pkg/sql"
)

// How the revoking commands (logout, revoke) revoke and print: the store's
// one Revoke does the revocation; this file holds its rows until the commit
// and says what happened.

// revokeRun is one revoking command's revocation and what it prints.
type revokeRun struct {
	// command names the command in messages: "revoke", "logout".
	command string
	// what names the sessions in messages: "sessions of 3 users".
	what    string
	format  format.Format
	columns []format.Column
	target  sql.Target
	// opts are the store's options; Attempt, when set, runs at the start
	// of each attempt, after the spool is reset.
	opts sql.RevokeOptions
	// row writes one session the revocation reports to w.
	row func(w format.Writer, r sql.RevokedSession) error
	// report runs once the rows are out: a summary on stderr.
	report func(res sql.RevokeResult)
}

// revokeAndPrint runs r's revocation (sql.Store.Revoke) and prints its rows,
// then r.report. Rows are rendered as they arrive, so nothing may reach
// stdout before the transaction commits: a retried or failed transaction
// would print rows twice, or rows that were never revoked. The writer is
// therefore made per attempt over a spool that is flushed at the end. A dry
// run does all of it, and the store rolls it back.
func revokeAndPrint(ctx context.Context, store *sql.Store, env *Env, r revokeRun) error {
	out := newSpool(env.IO.Out)
	defer out.discard()
	var w format.Writer
	opts := r.opts
	opts.Attempt = func() {
		out.reset()
		w = format.New(r.format, out, r.columns)
		if r.opts.Attempt != nil {
			r.opts.Attempt()
		}
	}
	// Closed before the commit: a writer that fails rolls the revocation
	// back rather than leave it unreported.
	opts.BeforeCommit = func() error { return w.Close() }
	res, err := store.Revoke(ctx, r.target, opts, func(s sql.RevokedSession) error { return r.row(w, s) })
	if errors.Is(err, sql.ErrInterrupted) {
		return cancelled{command: r.command, interrupted: true}
	}
	// Committed on the primary only: the rows stand, and are printed
	// before the error.
	var standbyErr *sql.StandbyError
	if err != nil && !errors.As(err, &standbyErr) {
		return revokeError(r.what, err)
	}
	if err := out.flush(); err != nil {
		if opts.DryRun {
			return err
		}
		// The revocation stands: say so, or a failed print reads as a
		// failed revocation.
		return fmt.Errorf("%s were revoked, but printing them failed: %w", r.what, err)
	}
	r.report(res)
	if standbyErr != nil {
		return fmt.Errorf("revoke %s: %w", r.what, standbyErr)
	}
	return nil
}

// revokedColumns are the columns of a revocation's rows: the fields of
// each session, then whether this command revoked it.
func revokedColumns(fields []sql.SessionField) []format.Column {
	return append(sessionColumns(fields), format.Column{Header: "revoked now", Key: "revoked_now", Type: format.TypeBoolean})
}

// writeRevoked writes r as revokedColumns(fields) has it.
func writeRevoked(w format.Writer, fields []sql.SessionField, r sql.RevokedSession) error {
	return w.WriteRow(append(appendSession(nil, fields, &r.ListedSession), r.Now)...)
}

// revokeError is the command's error for a revocation of what that failed:
// an unknown session id says how to find one, and a selection that picks
// everyone how to log everyone out.
func revokeError(what string, err error) error {
	var notFound *sql.SessionNotFoundError
	switch {
	case errors.As(err, &notFound):
		return sessionNotFound(notFound.ID)
	case errors.Is(err, sql.ErrPicksEveryone):
		err = picksEveryone(err)
	}
	return fmt.Errorf("revoke %s: %w", what, err)
}

// printSummary says on stderr what a revocation did, or a dry run would
// have: "revoked 3 sessions of 2 users (1 was already revoked)".
func printSummary(env *Env, res sql.RevokeResult, dryRun bool) {
	summary := fmt.Sprintf("revoked %s of %s (%s already revoked)", plural(res.Revoked, "session", "sessions"),
		plural(res.Users, "user", "users"), plural(res.AlreadyRevoked, "was", "were"))
	if dryRun {
		summary = "dry run: would have " + summary + "; nothing was changed"
	}
	fmt.Fprintln(env.IO.Err, summary)
}

// cliActor is who makes a change from the CLI, for its audit events: the
// connected user, on this host.
func cliActor(env *Env, caller sql.Caller) sql.Actor {
	return sql.Actor{Name: caller.Username, Via: "cli", ClientAddr: hostname(env)}
}

// hostname names the machine the CLI runs on, or "" when unknown.
func hostname(env *Env) string {
	h, err := env.Hostname()
	if err != nil {
		return ""
	}
	return h
}
