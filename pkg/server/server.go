package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/outage"
	"github.com/auth-session/auth-session/pkg/sql"
)

// Defaults for the zero values of Config.
const (
	// DefaultSessionLifetime matches the default of `auth-session login
	// --expire-after`, which is cockroach's.
	DefaultSessionLifetime = time.Hour
	// DefaultMaxConcurrentLogins bounds the password checks in flight. Each
	// opens up to two connections of its own to the database, outside the
	// pool, so unbounded logins could exhaust max_connections.
	DefaultMaxConcurrentLogins = 8
)

// Limits of the HTTP server.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// maxBodyBytes bounds every request body; the largest the API accepts
	// is a login form.
	maxBodyBytes = 64 << 10
	// shutdownTimeout is how long requests in flight may take to finish
	// once a shutdown begins.
	shutdownTimeout = 10 * time.Second
)

// Config is what a Server needs.
type Config struct {
	// Pool is the store, connected as a superuser or a member of admin. Its
	// host, port and database are also where passwords are checked.
	Pool *pgxpool.Pool
	// Schema holds the tables (serve --schema); empty means
	// sql.DefaultSchema.
	Schema string
	// ReadPool, when set, is a pool on a standby where sessions are
	// checked; every write still goes to Pool (see auth.Verifier.ReadDB).
	ReadPool *pgxpool.Pool
	// ReadOutage is the state of ReadPool's database, installed in its
	// configuration as Outage is in Pool's; nil means one that only counts.
	ReadOutage *outage.Guard
	// Log receives one line per request and the server's own messages;
	// nil means slog.Default().
	Log *slog.Logger
	// SessionLifetime is how long a session made by the API login lasts;
	// zero means DefaultSessionLifetime.
	SessionLifetime time.Duration
	// TouchInterval is how stale last_used_at may become before a request
	// writes it again; zero means auth.DefaultTouchInterval.
	TouchInterval time.Duration
	// PinnedSettings are settings given to this process explicitly (serve's
	// flags and environment variables), by name, each value as
	// auth-session settings set takes it: they win over the database's
	// values (see RefreshSettings). Until RefreshSettings is first called
	// the other settings have their defaults.
	PinnedSettings map[string]string
	// StandbyTimeout bounds how long a revocation waits for the
	// synchronous standbys to apply it (see sql.RevokeOptions.StandbyTimeout); zero means
	// sql.DefaultStandbyTimeout, a negative value no bound. A revocation
	// they do not confirm in time is answered 504, committed on the
	// primary.
	StandbyTimeout time.Duration
	// InsecureCookies leaves the Secure attribute off the cookies the server
	// sets, for plain HTTP (serve --insecure).
	InsecureCookies bool
	// TLS, when set, makes Serve speak HTTPS with its certificates.
	TLS *tls.Config
	// MaxConcurrentLogins bounds password checks in flight; zero means
	// DefaultMaxConcurrentLogins.
	MaxConcurrentLogins int
	// MaxConcurrentLookups bounds the session lookup statements running at
	// once; requests arriving meanwhile are looked up together by the next
	// one. Zero means auth.DefaultMaxConcurrentLookups.
	MaxConcurrentLookups int
	// Outage is the state of the database as the pool's connections find
	// it; install it in the pool's configuration (outage.Guard.Install) so
	// that an outage costs a few connection attempts a second, not one per
	// request. Nil means a Guard that only counts and summarizes the
	// errors of an outage, without holding back connection attempts.
	Outage *outage.Guard
	// ForwardedHeader is the forwarding header the trusted proxies (the
	// setting trusted-proxies) write, which gives the client's address to
	// the throttle, the sessions' recorded address and the logs:
	// HeaderXForwardedFor (the default when empty) or HeaderForwarded.
	ForwardedHeader string
	// ForwardAuth configures the route reverse proxies ask for
	// authentication (ForwardAuthPath); its zero value uses the default
	// header names and no login URL.
	ForwardAuth ForwardAuth
	// Purge, when set, is the background purge of old sessions and events
	// (sql.RunPurgeLoop), run as a background job on Pool, its progress
	// counted in the metrics; a nil Logger means Log with job=purge. Each
	// run purges the events older than the setting events-retention says
	// at the time, whatever Purge.EventsOlderThan is.
	Purge *sql.PurgeLoopOptions
	// BackgroundJobs run next to the HTTP interface from the start of Serve
	// until shutdown begins, when their context is canceled; Serve waits for
	// them to return.
	BackgroundJobs []func(ctx context.Context)
	// DisableMetrics leaves the Prometheus metrics out: no MetricsPath,
	// and nothing counted (serve --metrics=false).
	DisableMetrics bool
	// MetricsListener, when set, is where Serve answers GET MetricsPath,
	// with TLS as the main listener, instead of on the main listener,
	// which then answers it 404 (serve --metrics-addr).
	MetricsListener net.Listener
}

// Server is the HTTP interface. Build it with New.
type Server struct {
	cfg Config
	// store makes every change to sessions (Login, Revoke), on Pool.
	store     *sql.Store
	log       *slog.Logger
	verifier  *auth.Verifier
	passwords *passwordChecker
	// logins holds one token per password check in flight.
	logins    chan struct{}
	throttled throttledTally
	handler   http.Handler
	// db is Config.Pool with its statements in Config.Schema.
	db *sql.Pool
	// metrics is nil with Config.DisableMetrics.
	metrics *metrics
	// sweeper records the sessions whose role changed as revoked.
	sweeper *credentialSweeper
	// settings are the policies in force (see RefreshSettings).
	settings *settings
}

// New builds a Server from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Pool == nil {
		return nil, errors.New("server: Config.Pool is required")
	}
	if err := validateForwardedHeader(cfg.ForwardedHeader); err != nil {
		return nil, err
	}
	settings, err := newSettings(cfg.PinnedSettings)
	if err != nil {
		return nil, fmt.Errorf("server: Config.PinnedSettings: %w", err)
	}
	if cfg.DisableMetrics && cfg.MetricsListener != nil {
		return nil, errors.New("server: Config.MetricsListener is set, but DisableMetrics leaves no metrics to serve there")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.TouchInterval <= 0 {
		cfg.TouchInterval = auth.DefaultTouchInterval
	}
	if cfg.StandbyTimeout == 0 {
		cfg.StandbyTimeout = sql.DefaultStandbyTimeout
	}
	if cfg.MaxConcurrentLogins <= 0 {
		cfg.MaxConcurrentLogins = DefaultMaxConcurrentLogins
	}
	if cfg.Outage == nil {
		cfg.Outage = outage.New(cfg.Log)
	}
	forwardAuth, err := cfg.ForwardAuth.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	cfg.ForwardAuth = forwardAuth
	if cfg.ReadPool != nil && cfg.ReadOutage == nil {
		cfg.ReadOutage = outage.New(cfg.Log.With("pool", "read"))
	}
	db, err := sql.PoolInSchema(cfg.Pool, cfg.Schema)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		store:     sql.NewStore(db),
		db:        db,
		log:       cfg.Log,
		passwords: &passwordChecker{base: cfg.Pool.Config().ConnConfig.Config.Copy(), outage: cfg.Outage},
		logins:    make(chan struct{}, cfg.MaxConcurrentLogins),
		throttled: throttledTally{pending: map[string]*sql.ThrottledLogins{}},
		settings:  settings,
	}
	s.sweeper = &credentialSweeper{s: s}
	s.verifier = &auth.Verifier{
		DB: db, TouchInterval: cfg.TouchInterval, IdleTimeout: settings.current.Load().IdleTimeout, Log: cfg.Log,
		MaxConcurrentLookups: cfg.MaxConcurrentLookups, OnStoreError: s.storeError,
		OnCredentialsChanged: s.sweeper.kick, WriteError: writeRefusal,
	}
	if cfg.ReadPool != nil {
		readDB, err := sql.PoolInSchema(cfg.ReadPool, cfg.Schema)
		if err != nil {
			return nil, err
		}
		s.verifier.ReadDB, s.verifier.OnReadError = readDB, s.readError
	}
	if !cfg.DisableMetrics {
		dbs := []database{{name: "primary", pool: cfg.Pool, guard: cfg.Outage}}
		if cfg.ReadPool != nil {
			dbs = append(dbs, database{name: "read", pool: cfg.ReadPool, guard: cfg.ReadOutage})
		}
		s.metrics = newMetrics(dbs)
		s.verifier.OnCheck = s.metrics.check
	}
	if cfg.Purge != nil {
		s.cfg.BackgroundJobs = append(slices.Clip(cfg.BackgroundJobs), s.purgeJob(*cfg.Purge))
	}
	mux := http.NewServeMux()
	s.routes(mux)
	// Cross-origin state changes are refused on every route by the
	// standard library's check of Sec-Fetch-Site and Origin; clients that
	// send neither, such as curl, pass.
	crossOrigin := http.NewCrossOriginProtection()
	crossOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errCrossOrigin)
	}))
	s.handler = s.realClient(s.logRequests(strictTransportSecurity(limitBodies(crossOrigin.Handler(refuseMalformedInput(mux))))))
	return s, nil
}

// Handler returns the whole HTTP interface, with request logging, for use
// with any http.Server or httptest.Server.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Serve answers requests on ln, the metrics on Config.MetricsListener if
// set, and runs the background jobs and the refresh of the settings
// (RefreshSettings, every SettingsRefreshInterval), until ctx is canceled;
// then it stops
// accepting connections, lets requests in flight finish for a while, waits
// for the jobs, writes the throttled logins it counted and returns nil. It
// returns an error when serving fails for another reason.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	listeners := []net.Listener{ln}
	servers := []*http.Server{s.httpServer(s.handler)}
	if s.cfg.MetricsListener != nil && s.metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET "+MetricsPath, s.metrics.handler(s.log))
		listeners = append(listeners, s.cfg.MetricsListener)
		servers = append(servers, s.httpServer(mux))
	}

	jobsCtx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	var jobs sync.WaitGroup
	for _, job := range append(s.cfg.BackgroundJobs, s.sweeper.loop, s.refreshSettingsLoop) {
		jobs.Go(func() { job(jobsCtx) })
	}

	served := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			var err error
			if s.cfg.TLS != nil {
				// The certificates are in TLSConfig already.
				err = srv.ServeTLS(listeners[i], "", "")
			} else {
				err = srv.Serve(listeners[i])
			}
			if !errors.Is(err, http.ErrServerClosed) {
				err = fmt.Errorf("serve HTTP on %s: %w", listeners[i].Addr(), err)
			}
			served <- err
		}()
	}

	var err error
	select {
	case err = <-served:
		// One server failed: the others stop too.
		for _, srv := range servers {
			srv.Close()
		}
	case <-ctx.Done():
		s.log.Info("shutting down: finishing requests in flight", "timeout", shutdownTimeout)
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		for _, srv := range servers {
			if shutdownErr := srv.Shutdown(shutdownCtx); shutdownErr != nil && err == nil {
				err = fmt.Errorf("shut down HTTP server: %w", shutdownErr)
			}
		}
		<-served // http.ErrServerClosed, once Shutdown has begun
	}
	for range len(servers) - 1 {
		<-served
	}
	stopJobs()
	jobs.Wait()
	// No request is left to ask for a sweep.
	s.sweeper.wait()
	s.flushAllThrottled()
	// The last-used times of the last requests, before the pool closes.
	s.verifier.WaitForTouches()
	return err
}

// httpServer is an HTTP server of handler with the server's limits.
func (s *Server) httpServer(handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		TLSConfig:         s.cfg.TLS,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// hstsMaxAge is how long a browser that reached the server over TLS keeps
// to HTTPS for it: a year, as HSTS preload lists ask.
const hstsMaxAge = "max-age=31536000"

// strictTransportSecurity tells browsers that reached the server over TLS
// to use nothing else for it; over plain HTTP the header means nothing and
// is left out.
func strictTransportSecurity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", hstsMaxAge)
		}
		next.ServeHTTP(w, r)
	})
}

// limitBodies bounds every request body to maxBodyBytes.
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// every calls fn each interval until ctx is canceled: the loop of a
// background job.
func every(ctx context.Context, interval time.Duration, fn func()) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			fn()
		}
	}
}
