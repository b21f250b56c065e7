package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/sql"
)

// MetricsPath is where the server answers Prometheus' scrapes: on the main
// listener, or on Config.MetricsListener when set.
const MetricsPath = "/metrics"

// metricsNamespace starts the name of every metric of the server's own.
const metricsNamespace = "auth_session"

// requestDurationBuckets span a whoami on an idle server (well under a
// millisecond) to a login waiting for its password check (tens of
// milliseconds, more under load) and a request near the write timeout.
var requestDurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60}

// metrics are a Server's Prometheus metrics, in a registry of its own, so
// that several servers in one process (tests) do not share them. Every
// label takes its values from a short fixed list, never from a request:
// no user name, session id or address. The hot path touches children
// resolved beforehand, without a map lookup. A nil *metrics records
// nothing (Config.DisableMetrics).
type metrics struct {
	registry *prometheus.Registry

	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	// unrouted stands for the requests no route answered.
	unrouted *routeMetrics

	checks       [auth.NumCheckOutcomes]prometheus.Counter
	logins       [numLoginOutcomes]prometheus.Counter
	revoked      [numRevocationPaths]prometheus.Counter
	purged       map[sql.PurgePhase]prometheus.Counter
	purgeRuns    [2]prometheus.Counter // by purgeRunOK, purgeRunFailed
	purgeSuccess prometheus.Gauge
}

// loginOutcome is how an API login ended.
type loginOutcome uint8

const (
	loginOutcomeOK loginOutcome = iota
	// loginOutcomeWrongPassword: the database refused the password, or
	// no role can have the name; an unknown user reads the same.
	loginOutcomeWrongPassword
	// loginOutcomeRefused: the password may be right, but the role may
	// not log in here (a CONNECTION LIMIT, pg_hba.conf, a password the
	// database did not check, the role changed since the check).
	loginOutcomeRefused
	// loginOutcomeLocked: the password was right, the user is locked
	// (auth-session lock).
	loginOutcomeLocked
	// loginOutcomeThrottled: 429, too many failures from the address.
	loginOutcomeThrottled
	// loginOutcomeInvalid: 400 or 413, a form without the fields.
	loginOutcomeInvalid
	// loginOutcomeError: 5xx, the database could not be asked.
	loginOutcomeError
	numLoginOutcomes
)

var loginOutcomeNames = [numLoginOutcomes]string{
	loginOutcomeOK: "ok", loginOutcomeWrongPassword: "wrong_password", loginOutcomeRefused: "refused",
	loginOutcomeLocked: "locked", loginOutcomeThrottled: "throttled", loginOutcomeInvalid: "invalid", loginOutcomeError: "error",
}

// revocationPath is the route by which this server revoked sessions.
type revocationPath uint8

const (
	revokedByLogout         revocationPath = iota // POST /api/v2/logout: the calling session
	revokedOwnSession                             // DELETE /api/v1/auth/sessions/{id}
	revokedLogoutAll                              // POST /api/v1/auth/logout-all
	revokedByAdminID                              // DELETE /api/v1/admin/sessions/{id}
	revokedByAdminUser                            // POST /api/v1/admin/users/{name}/logout
	revokedByAdminSelection                       // POST /api/v1/admin/sessions/revoke
	revokedBySessionLimit                         // a login beyond MaxSessionsPerUser
	numRevocationPaths
)

var revocationPathNames = [numRevocationPaths]string{
	revokedByLogout: "logout", revokedOwnSession: "own_session", revokedLogoutAll: "logout_all",
	revokedByAdminID: "admin_id", revokedByAdminUser: "admin_user", revokedByAdminSelection: "admin_selection",
	revokedBySessionLimit: "session_limit",
}

const (
	purgeRunOK = iota
	purgeRunFailed
)

// newMetrics registers the server's metrics, the Go runtime's and the
// process's, and those of the pools and outage guards of dbs.
func newMetrics(dbs []database) *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	f := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}, labels)
		m.registry.MustRegister(v)
		return v
	}
	m.requests = f("http_requests_total", "HTTP requests answered, by route pattern and status.", "route", "status")
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Name: "http_request_duration_seconds",
		Help:    "Time from a request's arrival to the end of its answer, by route pattern and status.",
		Buckets: requestDurationBuckets,
	}, []string{"route", "status"})
	m.registry.MustRegister(m.durations)
	m.unrouted = m.route("unrouted")

	checks := f("session_checks_total", "Presented session values checked, by outcome (only the first reason a session fails for).", "outcome")
	for o := range auth.NumCheckOutcomes {
		m.checks[o] = checks.WithLabelValues(o.String())
	}
	logins := f("logins_total", "API logins (POST /api/v2/login/), by outcome.", "outcome")
	for o, name := range loginOutcomeNames {
		m.logins[o] = logins.WithLabelValues(name)
	}
	revoked := f("sessions_revoked_total", "Sessions this server revoked, by the route that revoked them (dry runs and sessions revoked before excluded).", "path")
	for p, name := range revocationPathNames {
		m.revoked[p] = revoked.WithLabelValues(name)
	}
	purged := f("purge_deleted_total", "Rows the background purge deleted, by what they were; counted after each committed batch.", "phase")
	m.purged = map[sql.PurgePhase]prometheus.Counter{
		sql.PhaseExpiredSessions: purged.WithLabelValues("expired_sessions"),
		sql.PhaseRevokedSessions: purged.WithLabelValues("revoked_sessions"),
		sql.PhaseIdleSessions:    purged.WithLabelValues("idle_sessions"),
		sql.PhaseEvents:          purged.WithLabelValues("events"),
	}
	runs := f("purge_runs_total", "Runs of the background purge, by result: ok, or failed (the next run continues).", "result")
	m.purgeRuns = [2]prometheus.Counter{purgeRunOK: runs.WithLabelValues("ok"), purgeRunFailed: runs.WithLabelValues("failed")}
	m.purgeSuccess = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "purge_last_success_timestamp_seconds",
		Help: "When the last background purge run that completed ended, in Unix seconds; 0 before the first."})
	m.registry.MustRegister(m.purgeSuccess)

	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&databaseCollector{dbs: dbs})
	return m
}

// handler answers scrapes of the registry.
func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
	})
}

// routeMetrics are the request metrics of one route, their children by
// status made on first use.
type routeMetrics struct {
	m     *metrics
	route string
	// byStatus holds the children of statuses 100 to 599.
	byStatus [500]atomic.Pointer[statusMetrics]
}

type statusMetrics struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// route returns the metrics of the route named pattern.
func (m *metrics) route(pattern string) *routeMetrics {
	if m == nil {
		return nil
	}
	return &routeMetrics{m: m, route: pattern}
}

// observe counts a request answered with status, and its duration.
func (rm *routeMetrics) observe(status int, d time.Duration) {
	i := status - 100
	if i < 0 || i >= len(rm.byStatus) {
		// Not a status net/http writes; not worth a slot.
		code := strconv.Itoa(status)
		rm.m.requests.WithLabelValues(rm.route, code).Inc()
		rm.m.durations.WithLabelValues(rm.route, code).Observe(d.Seconds())
		return
	}
	sm := rm.byStatus[i].Load()
	if sm == nil {
		code := strconv.Itoa(status)
		// Two requests racing here get the same children.
		sm = &statusMetrics{
			requests: rm.m.requests.WithLabelValues(rm.route, code),
			duration: rm.m.durations.WithLabelValues(rm.route, code),
		}
		rm.byStatus[i].Store(sm)
	}
	sm.requests.Inc()
	sm.duration.Observe(d.Seconds())
}

// request counts a request that route answered (nil: none did).
func (m *metrics) request(route *routeMetrics, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == nil {
		route = m.unrouted
	}
	route.observe(status, d)
}

// handle registers h for pattern on mux, its requests counted under the
// pattern, never the path: a path holds ids and names.
func (s *Server) handle(mux *http.ServeMux, pattern string, h http.Handler) {
	rm := s.metrics.route(pattern)
	if rm == nil {
		mux.Handle(pattern, h)
		return
	}
	mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noteRoute(r.Context(), rm)
		h.ServeHTTP(w, r)
	}))
}

// check counts the outcome of a session check (auth.Verifier.OnCheck).
func (m *metrics) check(o auth.CheckOutcome) {
	if o < auth.NumCheckOutcomes {
		m.checks[o].Inc()
	}
}

// login counts an API login's outcome.
func (m *metrics) login(o loginOutcome) {
	if m != nil {
		m.logins[o].Inc()
	}
}

// revocation counts the sessions a revocation by path revoked: none when
// it failed, unless it committed on the primary and only the standbys'
// confirmation is missing (*sql.StandbyError).
func (m *metrics) revocation(path revocationPath, revoked int64, err error) {
	var standbyErr *sql.StandbyError
	if m == nil || revoked <= 0 || (err != nil && !errors.As(err, &standbyErr)) {
		return
	}
	m.revoked[path].Add(float64(revoked))
}

// purgeLoop returns the background purge of opts, reporting its progress
// to m.
func (m *metrics) purgeLoop(opts sql.PurgeLoopOptions) sql.PurgeLoopOptions {
	if m == nil {
		return opts
	}
	opts.Progress = func(p sql.PurgeProgress) {
		if c, ok := m.purged[p.Phase]; ok {
			c.Add(float64(p.Rows))
		}
	}
	opts.Ran = func(_ sql.PurgeResult, err error) {
		if err != nil {
			m.purgeRuns[purgeRunFailed].Inc()
			return
		}
		m.purgeRuns[purgeRunOK].Inc()
		m.purgeSuccess.SetToCurrentTime()
	}
	return opts
}

// purgeJob runs the background purge of opts until ctx is canceled.
func (s *Server) purgeJob(opts sql.PurgeLoopOptions) func(ctx context.Context) {
	opts = s.metrics.purgeLoop(opts)
	if opts.Logger == nil {
		opts.Logger = s.log.With("job", "purge")
	}
	log := opts.Logger
	opts.BeforeRun = func(run *sql.PurgeOptions) {
		policy := s.policy()
		run.EventsOlderThan, run.IdleTimeout = policy.EventsRetention, policy.IdleTimeout
	}
	return func(ctx context.Context) {
		log.Info("purging in the background", "interval", opts.Interval, "older_than", opts.Purge.OlderThan,
			"events_retention", s.policy().EventsRetention)
		if err := sql.RunPurgeLoop(ctx, s.db, opts); err != nil {
			// Config.Purge is checked by the caller; this is a bug.
			log.Error("background purge not started", "err", err)
		}
	}
}
