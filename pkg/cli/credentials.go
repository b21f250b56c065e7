package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/auth-session/auth-session/pkg/sql"
)

// endChangedCredentials records as revoked, with their reason and an event
// per user, the sessions whose role changed since their login (see
// sql.CredentialsChanged), before list, show, revoke and (under an idle
// timeout, when it may delete live sessions) purge read the sessions: what
// they show agrees with what serve refuses, even where no serve has
// presented them yet. The session check refuses those sessions
// whether or not this ran, so a failure is a warning, not the command's
// end, unless the command was interrupted (Ctrl-C): then it stops as
// interrupted. A read-only server (a standby) is left as it is, as is
// everything during a dry run.
func endChangedCredentials(ctx context.Context, env *Env, db sql.DB, caller sql.Caller, command string, skip bool) error {
	if skip || caller.ReadOnly {
		return nil
	}
	res, err := sql.NewStore(db).Revoke(ctx, sql.CredentialsChanged(),
		sql.RevokeOptions{By: cliActor(env, caller), StandbyTimeout: sql.DefaultStandbyTimeout}, nil)
	var standby *sql.StandbyError
	switch {
	case errors.Is(err, sql.ErrInterrupted):
		return cancelled{command: command, interrupted: true}
	case errors.As(err, &standby):
		fmt.Fprintf(env.IO.Err, "warning: ending the sessions whose role changed since login: %v\n", err)
		return nil
	case err != nil:
		fmt.Fprintf(env.IO.Err, "warning: cannot record the sessions whose role changed since login as revoked (serve refuses them all the same): %v\n", err)
		return nil
	}
	if res.Revoked > 0 && env.IO.ErrIsTerminal {
		fmt.Fprintf(env.IO.Err, "ended %s of %s whose role changed since login (see auth-session events)\n",
			plural(res.Revoked, "session", "sessions"), plural(res.Users, "user", "users"))
	}
	return nil
}
