package server

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/auth-session/auth-session/internal/httpjson"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// maxUsernameLen is PostgreSQL's identifier limit; no role has a longer name.
const maxUsernameLen = 63

type loginResponse struct {
	Session   string `json:"session"`
	Username  string `json:"username"`
	SessionID string `json:"session_id"`
	ExpiresAt string `json:"expires_at"`
}

// handleLogin answers POST /api/v2/login/ with the form fields username and
// password. The database checks the password (see passwordChecker); on
// success the session is created with a session.created event in one
// transaction, and the answer is {"session": value, ...} with a Set-Cookie.
// A missing field is 400; every refusal, whatever the database's reason, is
// the same 401, recorded as a login.failed event with the reason, and
// counted by the throttle. Only a database that cannot be asked gets 503.
func (s *Server) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		username, password, err := loginForm(r)
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			s.metrics.login(loginOutcomeInvalid)
			writeError(w, errLoginFormTooLarge)
			return
		case err != nil:
			s.metrics.login(loginOutcomeInvalid)
			writeError(w, badRequest("invalid form: %s", err))
			return
		case username == "" || password == "":
			s.metrics.login(loginOutcomeInvalid)
			writeError(w, errLoginFormFields)
			return
		}
		// Before anything else about the attempt is looked at, so that a
		// throttled client learns nothing, not even whether a name is valid.
		// The attempt holds its place in the count from here on: it counts
		// as a failure unless it makes a session.
		attempt, err := sql.ReserveLoginAttempt(ctx, s.db, s.policy().LoginLimits, auth.ClientAddr(r), username)
		if err != nil {
			s.metrics.login(loginOutcomeError)
			s.storeUnavailable(w, r, "cannot check the login throttle", err)
			return
		}
		if attempt.Throttled {
			s.loginThrottled(w, r, attempt.RetryAfter)
			return
		}
		if len(username) > maxUsernameLen || !isText(username) || strings.ContainsRune(password, 0) {
			// No such role can exist, and the wire protocol would cut a
			// name or password at a NUL: refuse without asking the
			// database, but record the attempt like any other.
			s.loginFailed(w, r, username, loginOutcomeWrongPassword, "no role can have this name, or the password holds NUL")
			return
		}

		// The role's row as it is before its password is checked: a change
		// of the role meanwhile (its password, say) makes no session.
		roleVersion, err := sql.RoleVersion(ctx, s.db, username)
		if err != nil {
			s.storeUnavailable(w, r, "cannot read role "+strconv.Quote(username), err)
			return
		}

		select {
		case s.logins <- struct{}{}:
		case <-ctx.Done():
			// The client left while waiting its turn.
			s.metrics.login(loginOutcomeError)
			writeError(w, errTooManyLogins)
			return
		}
		err = s.passwords.check(ctx, username, password)
		<-s.logins
		var refused *roleRefused
		switch {
		case errors.Is(err, errPasswordNotChecked):
			s.log.WarnContext(ctx, "password login refused: the database accepts this role without checking a password; "+
				"require scram-sha-256 for it in pg_hba.conf", "username", username)
			s.loginFailed(w, r, username, loginOutcomeRefused, "password not checked by the database")
			return
		case errors.Is(err, errWrongPassword):
			s.loginFailed(w, r, username, loginOutcomeWrongPassword, "wrong password or unknown user")
			return
		case errors.As(err, &refused):
			s.loginFailed(w, r, username, loginOutcomeRefused, refused.Error())
			return
		case err != nil:
			s.metrics.login(loginOutcomeError)
			s.storeError(ctx, "cannot check password of "+strconv.Quote(username), err)
			writeError(w, errDatabaseUnavailable)
			return
		}

		secret, err := auth.NewSecret()
		if err != nil {
			s.metrics.login(loginOutcomeError)
			s.log.ErrorContext(ctx, "cannot make a session secret", "err", err)
			writeError(w, errInternal)
			return
		}
		session, err := s.createSession(r, username, secret, roleVersion, attempt)
		switch {
		case errors.Is(err, sql.ErrUserNotFound), errors.Is(err, sql.ErrUserCannotLogin), errors.Is(err, sql.ErrUserExpired),
			errors.Is(err, sql.ErrRoleChanged):
			// The role changed since its password was checked.
			s.loginFailed(w, r, username, loginOutcomeRefused, err.Error())
			return
		case errors.Is(err, sql.ErrUserLocked):
			// Answered as a wrong password is, and only after the password
			// was checked, so that neither the answer nor its time tells a
			// client the user is locked; the audit trail says it.
			s.metrics.login(loginOutcomeLocked)
			s.refuseLogin(w, r, sql.EventLoginLocked, username, "user is locked")
			return
		case err != nil:
			s.metrics.login(loginOutcomeError)
			s.storeUnavailable(w, r, "cannot create session for "+strconv.Quote(username), err)
			return
		}
		s.metrics.login(loginOutcomeOK)
		noteUser(ctx, session.Username)
		value := auth.EncodeValue(session.ID, secret)
		http.SetCookie(w, s.cookie(value, int(session.ExpiresAt.Sub(session.CreatedAt)/time.Second)))
		httpjson.Write(w, http.StatusOK, loginResponse{
			Session:   value,
			Username:  session.Username,
			SessionID: jsonID(session.ID),
			ExpiresAt: jsonTime(session.ExpiresAt),
		})
	})
}

// createSession inserts the session and its session.created event, and
// gives back the attempt's place in the throttle's count, in one
// transaction; the role must still be at roleVersion (sql.NewSession).
func (s *Server) createSession(r *http.Request, username string, secret []byte, roleVersion int64, attempt sql.LoginAttempt) (sql.Session, error) {
	ctx := r.Context()
	by := sql.Actor{Name: username, Via: "http", ClientAddr: auth.ClientAddr(r), UserAgent: userAgent(r)}
	var limitRevoked int64
	ns := sql.NewSession{
		Username: username, HashedSecret: auth.HashSecret(secret), ExpireAfter: s.cfg.SessionLifetime, RoleVersion: roleVersion,
	}
	opts := sql.LoginOptions{MaxSessions: &s.policy().MaxSessionsPerUser, Throttled: &attempt, LimitRevoked: &limitRevoked}
	session, err := s.store.Login(ctx, ns, by, opts)
	// serve checked --session-lifetime against max-session-lifetime when it
	// started; a cap lowered since then shortens its sessions to the cap.
	var capErr *sql.LifetimeCapError
	if errors.As(err, &capErr) {
		s.log.WarnContext(ctx, "--session-lifetime is longer than the max-session-lifetime setting: the session lasts the cap",
			"session_lifetime", s.cfg.SessionLifetime, "max_session_lifetime", capErr.CapText)
		ns.ExpireAfter = capErr.Cap
		session, err = s.store.Login(ctx, ns, by, opts)
	}
	s.metrics.revocation(revokedBySessionLimit, limitRevoked, err)
	return session, err
}

// loginFailed records a login.failed event, counts the outcome and answers
// the uniform 401. A failure to record is logged, not shown: the answer must
// not differ.
func (s *Server) loginFailed(w http.ResponseWriter, r *http.Request, username string, outcome loginOutcome, reason string) {
	s.metrics.login(outcome)
	s.refuseLogin(w, r, sql.EventLoginFailed, username, reason)
}

// refuseLogin records event (login.failed, login.locked) and answers the
// uniform 401.
func (s *Server) refuseLogin(w http.ResponseWriter, r *http.Request, event, username, reason string) {
	err := sql.RecordEvent(r.Context(), s.db, sql.Event{
		Event: event, Actor: username, Username: username, Via: "http",
		ClientAddr: auth.ClientAddr(r), UserAgent: userAgent(r), Detail: map[string]any{"reason": reason},
	})
	if err != nil {
		s.storeError(r.Context(), "cannot record failed login of "+strconv.Quote(username), err)
	}
	writeError(w, errLoginRefused)
}

// loginThrottled answers 429, the same for every user name, with the
// seconds until the client may try again. The attempt is counted in its
// address's login.throttled event, written within throttledFlushEvery.
func (s *Server) loginThrottled(w http.ResponseWriter, r *http.Request, retryAfter time.Duration) {
	s.metrics.login(loginOutcomeThrottled)
	s.countThrottled(auth.ClientAddr(r), userAgent(r))
	seconds := max(int((retryAfter+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	writeError(w, errLoginThrottled)
}

// loginForm reads username and password from the body, URL-encoded or
// multipart. Fields in the query string are ignored: URLs end up in logs.
func loginForm(r *http.Request) (username, password string, err error) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "multipart/form-data" {
		err = r.ParseMultipartForm(maxBodyBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		return "", "", err
	}
	return r.PostForm.Get("username"), r.PostForm.Get("password"), nil
}

// cookie is the session cookie the server sets: maxAge seconds, or negative
// to delete it.
func (s *Server) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     auth.CookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   !s.cfg.InsecureCookies,
		SameSite: http.SameSiteLaxMode,
	}
}
