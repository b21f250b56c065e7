package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auth-session/auth-session/internal/httpjson"
	"github.com/auth-session/auth-session/pkg/sql"
)

// HeaderName is the request header that may carry a session value instead of
// the cookie.
const HeaderName = "X-Auth-Session"

// DefaultTouchInterval is how stale last_used_at may become before a request
// writes it again.
const DefaultTouchInterval = time.Minute

// UnauthorizedBody is the body of every 401 the middleware writes, whichever
// check failed: ErrUnauthenticated's text as {"error": ...}.
const UnauthorizedBody = `{"error":"a valid authentication cookie is required"}`

// Challenge is the WWW-Authenticate header of every 401 the middleware
// writes.
const Challenge = `Bearer realm="auth-session"`

// ErrUnauthenticated means the request presents no session that is valid
// now. It deliberately does not say which check failed.
var ErrUnauthenticated = errors.New("a valid authentication cookie is required")

// Source says how a request presented its session.
type Source string

// The ways of presenting a session, in the order the middleware looks for them.
const (
	SourceHeader Source = "header" // X-Auth-Session: <value>
	SourceBearer Source = "bearer" // Authorization: Bearer <value>
	SourceCookie Source = "cookie" // Cookie: session=<value>
)

// Identity is the authenticated caller of a request.
type Identity struct {
	Username string
	// UserID is the OID of the role, as recorded when the session was made.
	UserID    int64
	SessionID int64
	ExpiresAt time.Time
	// Source is how the request presented the session. A browser adds
	// cookies to cross-site requests by itself, so state-changing handlers
	// may want a CSRF guard when Source is SourceCookie.
	Source Source
}

type identityKey struct{}

// WithIdentity returns ctx carrying id, as the middleware passes it on.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity the middleware stored in ctx, and false
// when the request did not pass through it.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// Verifier checks the session a request presents against the store. Its
// fields are read-only once it is in use, and it must not be copied then;
// it is safe for concurrent use.
type Verifier struct {
	// DB runs the lookups, usually a *pgxpool.Pool connected as a member of
	// admin, and every write: the touches, which are written in the
	// background (see WaitForTouches).
	DB sql.DBTX
	// ReadDB, when set, runs the lookups instead: a pool on a standby. A
	// session it does not find, which may be a login it has not replayed
	// yet, is looked up in DB, as is every lookup it fails; anything it
	// finds is its answer. That is safe for revocations as far as the
	// standby is synchronous: revocations commit with remote_apply (see
	// pkg/sql), so a revoked session is revoked on the standby before the
	// revocation returns. An asynchronous standby accepts a revoked
	// session for as long as it lags behind.
	ReadDB sql.DBTX
	// OnReadError, when set, is told of every error of ReadDB (the lookup
	// was then asked of DB); nil logs them at warning level.
	OnReadError func(ctx context.Context, err error)
	// TouchInterval is how stale last_used_at may become before a request
	// has it written again; zero means DefaultTouchInterval. The write
	// happens after the request is answered, and is skipped while the
	// table or the session's row is locked.
	TouchInterval time.Duration
	// IdleTimeout, when positive, refuses a session not used for that long,
	// as an expired one is. It should be well above TouchInterval, which is
	// how far last_used_at may lag behind the last use. It is read at the
	// first request; SetIdleTimeout changes it later.
	IdleTimeout time.Duration
	// Log receives why a session was refused (at debug level) and store
	// errors; nil means slog.Default(). It never receives a session value.
	Log *slog.Logger
	// OnStoreError, when set, is told of every error of the store instead
	// of the error being logged: a server that counts the errors of an
	// outage rather than logging each one sets it.
	OnStoreError func(ctx context.Context, msg string, err error)
	// WriteError, when set, answers a request the middleware refuses:
	// status 401 with err wrapping ErrUnauthenticated, or 503 with the
	// store's error. A program that wraps its own handlers answers in its
	// own format here; nil answers JSON: UnauthorizedBody with the
	// Challenge, and {"error":"the session store is unavailable"}. It must
	// not reveal err to the client: the 401s are alike on purpose.
	WriteError func(w http.ResponseWriter, r *http.Request, status int, err error)
	// OnCheck, when set, is told what each check found: once per session
	// value looked up, and once (CheckAbsent) per request that presents
	// none. It runs on the request's goroutine, before the answer: it must
	// be quick. A server counts them in its metrics here.
	OnCheck func(CheckOutcome)
	// OnCredentialsChanged, when set, is called (and must return at once)
	// when a session is refused for good because its role changed since
	// login, or may no longer log in (sql.SessionCheck.EndsForGood): a
	// server runs the sweep that records it (sql.CredentialsChanged) in the
	// background.
	OnCredentialsChanged func()
	// MaxConcurrentLookups bounds the lookup statements running at once;
	// zero means DefaultMaxConcurrentLookups. Requests that arrive while
	// that many run are looked up together by the next statement.
	MaxConcurrentLookups int

	once sync.Once
	// idleTimeout is IdleTimeout, then what SetIdleTimeout set.
	idleTimeout atomic.Int64
	batcher     *lookupBatcher // on DB
	reader      *lookupBatcher // on ReadDB, if set
	toucher     *toucher       // on DB
}

// WaitForTouches returns once the last-used times that requests so far
// asked to write are written, or given up. The touches are written in the
// background, after the requests are answered; a server waits for them
// before it closes its pool.
func (v *Verifier) WaitForTouches() {
	v.init()
	v.toucher.wait()
}

// init makes the batchers and the toucher, once.
func (v *Verifier) init() {
	v.once.Do(func() {
		max := v.MaxConcurrentLookups
		if max <= 0 {
			max = DefaultMaxConcurrentLookups
		}
		v.idleTimeout.Store(int64(v.IdleTimeout))
		v.batcher = &lookupBatcher{db: v.DB, policy: v.checkPolicy, max: max}
		if v.ReadDB != nil {
			v.reader = &lookupBatcher{db: v.ReadDB, policy: v.checkPolicy, max: max}
		}
		v.toucher = newToucher(v.DB, v.touchInterval(), v.touchFailed)
	})
}

// SetIdleTimeout changes IdleTimeout for the lookups that start from now
// on: a server applies a setting changed in the database without a
// restart. It is safe to call while requests are served.
func (v *Verifier) SetIdleTimeout(d time.Duration) {
	v.init()
	v.idleTimeout.Store(int64(d))
}

// checkPolicy is what a lookup starting now measures sessions against.
func (v *Verifier) checkPolicy() sql.CheckPolicy {
	return sql.CheckPolicy{TouchInterval: v.touchInterval(), IdleTimeout: time.Duration(v.idleTimeout.Load())}
}

func (v *Verifier) touchInterval() time.Duration {
	if v.TouchInterval <= 0 {
		return DefaultTouchInterval
	}
	return v.TouchInterval
}

// touchFailed is told of a touch statement that failed. One that met a
// locked table is skipped, as designed: the next request writes it.
func (v *Verifier) touchFailed(err error, sessions int) {
	ctx := context.Background()
	if sql.IsLockTimeout(err) {
		v.logger().DebugContext(ctx, "last-used times not written: the sessions table is locked; a later request writes them", "sessions", sessions)
		return
	}
	v.storeError(ctx, "cannot record session use", fmt.Errorf("touch %d sessions: %w", sessions, err))
}

// ClientAddr is the address r came from, without its port: the host of
// r.RemoteAddr, which a server behind trusted proxies has made the real
// client's before the middleware runs (as pkg/server does). A session
// records it, with the User-Agent, as the address of its last use.
// Forwarding headers are not read here: anyone can send them.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Middleware passes a request to next with its Identity in the context
// (read it with IdentityFrom) when it presents a valid session. Otherwise it
// answers 401 with UnauthorizedBody, the same for every reason, or 503 when
// the store cannot be asked.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Authenticate(r)
		switch {
		case errors.Is(err, ErrUnauthenticated):
			if v.WriteError != nil {
				v.WriteError(w, r, http.StatusUnauthorized, err)
				return
			}
			w.Header().Set("WWW-Authenticate", Challenge)
			httpjson.Error(w, http.StatusUnauthorized, ErrUnauthenticated.Error())
			return
		case err != nil:
			v.storeError(r.Context(), "cannot verify session", err)
			if v.WriteError != nil {
				v.WriteError(w, r, http.StatusServiceUnavailable, err)
				return
			}
			httpjson.Error(w, http.StatusServiceUnavailable, "the session store is unavailable")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// Authenticate returns the identity of the session r presents. It returns an
// error wrapping ErrUnauthenticated when there is none or it is not valid
// now, and another error when the store could not be asked.
//
// Only the first way of presenting a session that r uses is looked at, in
// the order X-Auth-Session, Authorization: Bearer, cookie: a request that
// sends a header means it, while a browser attaches cookies on its own.
// Every session cookie is tried, up to MaxSessionCookies, and the first
// valid one wins: a cookie planted by a sibling domain, which the browser
// may send first, does not lock the user out.
func (v *Verifier) Authenticate(r *http.Request) (Identity, error) {
	values, source := presented(r)
	if source == "" {
		return v.refuse(r, CheckAbsent, 0)
	}
	for _, value := range values {
		id, err := v.authenticate(r, value, source)
		if !errors.Is(err, ErrUnauthenticated) {
			return id, err
		}
	}
	return Identity{}, ErrUnauthenticated
}

// MaxSessionCookies bounds the session cookies of one request that are
// looked up; the rest are ignored.
const MaxSessionCookies = 4

// authenticate returns the identity of one presented session value.
func (v *Verifier) authenticate(r *http.Request, value string, source Source) (Identity, error) {
	sessionID, secret, err := DecodeValue(value)
	if err != nil {
		return v.refuse(r, CheckMalformed, 0)
	}
	check, err := v.lookup(r.Context(), sessionID)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrSessionNotFound) {
		v.told(CheckUnavailable)
		return Identity{}, fmt.Errorf("check session %d: %w", sessionID, err)
	}
	if outcome := refusal(secret, check, found); outcome != CheckValid {
		// A session its role's change ended for good is recorded as
		// revoked by the sweep, which the server runs in the background.
		if outcome == CheckRoleInvalid && check.EndsForGood && v.OnCredentialsChanged != nil {
			v.OnCredentialsChanged()
		}
		return v.refuse(r, outcome, sessionID)
	}
	v.told(CheckValid)
	if check.TouchDue {
		// Written in the background: the answer does not depend on it, and
		// a request must not wait on the locks the write may meet.
		v.toucher.add(sql.Touch{SessionID: sessionID, ClientAddr: ClientAddr(r), UserAgent: r.UserAgent()})
	}
	return Identity{
		Username:  check.Username,
		UserID:    check.UserID,
		SessionID: sessionID,
		ExpiresAt: check.ExpiresAt,
		Source:    source,
	}, nil
}

// refusal returns why the session of check (found false when its id is
// unknown) does not authenticate a request presenting secret, or CheckValid
// when it does. An unknown id takes the path of a wrong secret
// (PresentedSecretMatches), so that the two cost the same here.
func refusal(secret []byte, check sql.SessionCheck, found bool) CheckOutcome {
	matches := PresentedSecretMatches(secret, check.HashedSecret, found)
	switch {
	case !found:
		return CheckUnknown
	case !matches:
		return CheckWrongSecret
	case check.Revoked:
		return CheckRevoked
	case check.Expired:
		return CheckExpired
	case check.Idle:
		return CheckIdle
	case !check.RoleValid:
		return CheckRoleInvalid
	}
	return CheckValid
}

// unknownSessionHash stands in for a stored hash when the id is unknown: of
// the stored size, and the SHA-256 of no secret anyone can find.
var unknownSessionHash [sha256.Size]byte

// refuse tells OnCheck the outcome, logs its reason at debug level and
// returns ErrUnauthenticated.
func (v *Verifier) refuse(r *http.Request, outcome CheckOutcome, sessionID int64) (Identity, error) {
	v.told(outcome)
	if log := v.logger(); log.Enabled(r.Context(), slog.LevelDebug) {
		attrs := []any{"reason", refusalReasons[outcome]}
		if sessionID != 0 {
			attrs = append(attrs, "session_id", sessionID)
		}
		log.DebugContext(r.Context(), "session refused", attrs...)
	}
	return Identity{}, ErrUnauthenticated
}

// told tells OnCheck the outcome of a check, if it listens.
func (v *Verifier) told(outcome CheckOutcome) {
	if v.OnCheck != nil {
		v.OnCheck(outcome)
	}
}

// lookup checks session id on ReadDB when there is one, and on DB when
// ReadDB has not found it or failed.
func (v *Verifier) lookup(ctx context.Context, id int64) (sql.SessionCheck, error) {
	v.init()
	if v.reader != nil {
		check, err := v.reader.lookup(ctx, id)
		switch {
		case err == nil:
			return check, nil
		case ctx.Err() != nil:
			return check, err
		case errors.Is(err, sql.ErrSessionNotFound):
			v.logger().DebugContext(ctx, "session not on the read database; asking the primary", "session_id", id)
		default:
			v.readError(ctx, err)
		}
	}
	return v.batcher.lookup(ctx, id)
}

func (v *Verifier) readError(ctx context.Context, err error) {
	if v.OnReadError != nil {
		v.OnReadError(ctx, err)
		return
	}
	v.logger().WarnContext(ctx, "cannot check a session on the read database; asked the primary", "err", err)
}

func (v *Verifier) storeError(ctx context.Context, msg string, err error) {
	if v.OnStoreError != nil {
		v.OnStoreError(ctx, msg, err)
		return
	}
	v.logger().ErrorContext(ctx, msg, "err", err)
}

func (v *Verifier) logger() *slog.Logger {
	if v.Log != nil {
		return v.Log
	}
	return slog.Default()
}

// presented returns the session values r carries and where they were
// found, or an empty source when it carries none: one value for a header,
// up to MaxSessionCookies for cookies, in the order they were sent.
func presented(r *http.Request) ([]string, Source) {
	if values := r.Header.Values(HeaderName); len(values) > 0 {
		return []string{strings.TrimSpace(values[0])}, SourceHeader
	}
	if authz := r.Header.Get("Authorization"); authz != "" {
		scheme, token, _ := strings.Cut(strings.TrimSpace(authz), " ")
		if strings.EqualFold(scheme, "Bearer") {
			return []string{strings.TrimSpace(token)}, SourceBearer
		}
	}
	var values []string
	for _, c := range r.CookiesNamed(CookieName) {
		if len(values) == MaxSessionCookies {
			break
		}
		values = append(values, c.Value)
	}
	if len(values) == 0 {
		return nil, ""
	}
	return values, SourceCookie
}
