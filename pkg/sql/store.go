package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DB is the database a Store runs on: a *pgxpool.Pool (serve) or one
// *pgx.Conn (a command).
type DB interface {
	DBTX
	TxBeginner
}

// Store is the session store. Its methods that change sessions are whole
// operations: each runs its own transaction, retried on serialization
// failures, and writes the change's audit event in it, so a caller cannot
// do half of one.
type Store struct {
	db DB
}

// NewStore returns the store on db.
func NewStore(db DB) *Store { return &Store{db: db} }

// LoginOptions are the choices of Store.Login beyond the session itself.
type LoginOptions struct {
	// MaxSessions, when positive, keeps the user at that many live
	// sessions: the least recently used beyond it are revoked in the same
	// transaction, each with a session.revoked event whose reason is
	// ReasonSessionLimit; the new session is always kept. 0 sets no limit;
	// nil applies the setting max-sessions-per-user, which the login reads
	// in a statement it makes anyway.
	MaxSessions *int
	// Throttled, when set, is the login throttle's attempt this login
	// answers: it is given back in the same transaction (see
	// giveBackLoginAttempt), so that it does not count as a failure.
	Throttled *LoginAttempt
	// BeforeCommit, when set, runs once the session is made, before the
	// commit; an error rolls the login back. It runs again when the
	// transaction is retried.
	BeforeCommit func(Session) error
	// LimitRevoked, when set, receives how many sessions MaxSessions
	// revoked, once the login committed (for a server's metrics).
	LimitRevoked *int64
}

// Login mints a session for ns.Username, its audit info that of by, and
// records its session.created event, in one transaction. It returns
// ErrUserNotFound, ErrUserCannotLogin or ErrUserExpired when the role does
// not qualify, having written nothing.
func (s *Store) Login(ctx context.Context, ns NewSession, by Actor, opts LoginOptions) (Session, error) {
	var session Session
	var limitRevoked int64
	err := runInTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		if session, limitRevoked, err = login(ctx, tx, ns, by, opts.MaxSessions); err != nil {
			return err
		}
		if opts.Throttled != nil {
			if err := giveBackLoginAttempt(ctx, tx, *opts.Throttled); err != nil {
				return err
			}
		}
		if opts.BeforeCommit != nil {
			return opts.BeforeCommit(session)
		}
		return nil
	})
	if err == nil && opts.LimitRevoked != nil {
		*opts.LimitRevoked = limitRevoked
	}
	return session, err
}

// RevokeOptions say who revokes, why, and how.
type RevokeOptions struct {
	// By is who revokes, for the audit events.
	By Actor
	// Reason, when not empty, is recorded with each audit event.
	Reason string
	// DryRun does all of it, calls each for every row, and rolls back.
	DryRun bool
	// KeepSession, with OfUsers, is a session of theirs to leave (the
	// caller's own, for logout-all ?keep_current); 0 keeps none.
	KeepSession int64
	// Lock, with OfUsers, also locks the users (see LockSpec), in the same
	// transaction, with a user.locked event each.
	Lock *LockSpec
	// StandbyTimeout bounds the commit's wait for the synchronous
	// standbys to apply the revocation; zero or less waits as long as it
	// takes. Past the bound, Revoke returns a *StandbyError: committed on
	// the primary, not yet applied on the standby.
	StandbyTimeout time.Duration
	// Attempt, when set, is called at the start of each attempt of the
	// transaction, before each is: a transaction retried on a
	// serialization failure calls each again from its first row, so a
	// caller that gathers the rows starts over here.
	Attempt func()
	// BeforeCommit, when set, is called once each has been called for every
	// row, before the commit (or a dry run's rollback); an error rolls the
	// revocation back.
	BeforeCommit func() error
}

// Revoke revokes the sessions t picks, in one transaction, and records its
// audit events in it: a session.revoked event per session for ByIDs and
// OwnSession, a user.logged_out event per user for OfUsers and Everyone, a
// sessions.revoked event per user for Matching, each with opts.Reason; a
// sessions.revoked event per user with the sessions' own reasons for
// CredentialsChanged. The commit waits for the synchronous standbys (see
// opts.StandbyTimeout). For CredentialsChanged, one statement outside the
// transaction first asks whether the sweep would revoke anything
// (sweepDue); when not, no transaction begins, and neither opts.Attempt
// nor opts.BeforeCommit is called.
//
// When each is not nil it is called for every session picked, revoked now
// or before, in the order t says. The transaction is retried on
// serialization failures, and each is then called again for the rows of the
// new attempt (see opts.Attempt): a caller that prints them must hold them
// until Revoke returns. An error from each rolls the revocation back.
//
// A context cancelled before the commit was sent ends Revoke with an error
// that is ErrInterrupted: nothing was revoked. A session id that is not
// found is a *SessionNotFoundError, and nothing is revoked.
func (s *Store) Revoke(ctx context.Context, t Target, opts RevokeOptions, each func(RevokedSession) error) (RevokeResult, error) {
	if err := t.check(opts); err != nil {
		return RevokeResult{}, err
	}
	if t.kind == targetCredentials {
		if due, err := isSweepDue(ctx, s.db); err != nil || !due {
			return RevokeResult{}, interruption(ctx, err)
		}
	}
	var res RevokeResult
	committing := false
	err := runRevocation(ctx, s.db, opts.StandbyTimeout, func(tx pgx.Tx) error {
		committing = false
		if opts.Attempt != nil {
			opts.Attempt()
		}
		var err error
		if res, err = revokeIn(ctx, tx, t, opts, each); err != nil {
			return err
		}
		if opts.BeforeCommit != nil {
			if err := opts.BeforeCommit(); err != nil {
				return err
			}
		}
		if opts.DryRun {
			return errDryRun
		}
		committing = true
		return nil
	})
	switch {
	case err == nil:
		return res, nil
	case opts.DryRun && errors.Is(err, errDryRun):
		return res, nil
	case !committing:
		return res, interruption(ctx, err)
	}
	// Once the commit is under way, an interruption's outcome is the
	// database's to say, and err stands.
	return res, err
}

// interruption is err, or, when err is ctx's cancellation before anything
// was committed, an error that is ErrInterrupted too.
func interruption(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	return err
}
