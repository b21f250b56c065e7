package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/outage"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

// Defaults of serve's flags.
const (
	defaultHTTPAddr        = "127.0.0.1:8080"
	defaultSessionLifetime = "1h"
	defaultTouchInterval   = "1m"
	defaultMaxConns        = 16
)

type serveOptions struct {
	env             *Env
	conn            ConnOptions
	readURL         string
	httpAddr        string
	certsDir        string
	insecure        bool
	sessionLifetime time.Duration
	// sessionLifetimeText is --session-lifetime as given, for messages.
	sessionLifetimeText string
	touchInterval       time.Duration
	standbyTimeout      time.Duration
	// pinned are the settings given as flags (see serveSettings), which
	// win over the database's.
	pinned          map[string]string
	maxConns        int32
	logLevel        slog.Level
	forwardAuth     server.ForwardAuth
	forwardedHeader string
	// metrics is false with --metrics=false; metricsAddr is --metrics-addr.
	metrics     bool
	metricsAddr string
	// purge is the background purge, nil when --purge-interval is 0.
	purge *sql.PurgeLoopOptions
	// ready, when set, is called with the address served once the server
	// accepts connections.
	ready func(addr net.Addr)
}

func serveCommand(env *Env) *cli.Command {
	flags := append(connFlagsCertsDir("serve HTTPS with the certificate and key in `DIR`/node.crt and DIR/node.key; "+
		"when DIR also holds client.USER.crt for the database user USER, connect with it, client.USER.key and ca.crt (sslmode=verify-full)"),
		notSQLUserFlag(""),
		&cli.StringFlag{Name: "read-url", EnvVars: []string{"AUTH_SESSION_READ_URL"},
			Usage: "check sessions on the standby at `URL` (it may list several, as postgres://h1,h2/db?target_session_attrs=standby); " +
				"logins, touches and revocations still go to --url, which must be the primary"},
		&cli.StringFlag{Name: "http-addr", Value: defaultHTTPAddr,
			Usage: "`HOST:PORT` the HTTP interface listens on; port 0 picks a free one"},
		&cli.BoolFlag{Name: "insecure",
			Usage: "serve plain HTTP, and set cookies without the Secure attribute; for loopback and tests"},
		&cli.StringFlag{Name: "session-lifetime", Value: defaultSessionLifetime,
			Usage: "lifetime of sessions made by POST /api/v2/login/, such as 90m or 8h (units: " + durationUnits + ")"},
		&cli.StringFlag{Name: "touch-interval", Value: defaultTouchInterval,
			Usage: "write a session's last_used_at at most this often"},
		idleTimeoutFlag("refuse a session not used for `DURATION`, as an expired one; longer than --touch-interval; 0 for off"),
		standbyTimeoutFlag(),
		settingFlag(sql.SettingMaxSessionsPerUser, "an API login beyond `N` live sessions of its user revokes the least recently used; 0 for no limit",
			"AUTH_SESSION_MAX_SESSIONS_PER_USER"),
		&cli.IntFlag{Name: "max-conns", Value: defaultMaxConns,
			Usage: "most connections the server's pool opens to the database"},
		&cli.StringFlag{Name: "log-level", Value: "info",
			Usage: "least level logged to stderr: debug (also says why each session was refused), info, warn or error"},
	)
	flags = append(flags, loginLimitsFlags()...)
	flags = append(flags, forwardAuthFlags()...)
	flags = append(flags, trustedProxiesFlags()...)
	flags = append(flags, metricsFlags()...)
	flags = append(flags, servePurgeFlags()...)
	return &cli.Command{
		Name:  "serve",
		Usage: "run the HTTP interface that the session cookies authenticate to",
		Description: "serve answers HTTP requests authenticated by the sessions in system.web_sessions:\n" +
			"the session cookie, an X-Auth-Session header or Authorization: Bearer.\n\n" +
			"  GET  /api/v2/whoami    the caller's username, session id and expiry\n" +
			"  POST /api/v2/login/    form fields username and password; the database checks the password\n" +
			"  POST /api/v2/logout/   revoke the calling session\n" +
			"  GET  /health           200 when the database answers, 503 when not\n" +
			"  GET  " + server.MetricsPath + "          Prometheus metrics, without per-user data (or on --metrics-addr)\n" +
			"  /api/v1/auth/...       the caller's own sessions: list, revoke one, log out all\n" +
			"  " + server.ForwardAuthPath + "   for nginx, Caddy, Traefik: 200 naming the user in a header, or 401\n" +
			"  /api/v1/admin/...      every session, for members of admin\n" +
			"  GET  /admin/sessions   the admin web page\n\n" +
			"Connect as a superuser or a member of admin, to a database where 'auth-session init'\n" +
			"has run. Give --certs-dir for HTTPS, or --insecure for plain HTTP. It stops cleanly\n" +
			"on SIGINT or SIGTERM. In the background it purges long-dead sessions and old\n" +
			"audit events, as the purge command does, every --purge-interval, in batches of\n" +
			strconv.Itoa(sql.BackgroundPurgeBatch) + " rows paced by --purge-pace.\n\n" +
			"The policies (the idle timeout, the session limit, the login throttle, the\n" +
			"events retention, the trusted proxies) are settings kept in the database\n" +
			"(auth-session settings): serve reads them at start and every " + server.SettingsRefreshInterval.String() + " after, so a\n" +
			"change reaches it at most that late, without a restart. Their flags, given (or\n" +
			"their environment variables set), win over the database's values for this\n" +
			"process; serve logs each value and where it came from: flag, database or\n" +
			"default.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			opts, err := serveOptionsFromFlags(c, env)
			if err != nil {
				return err
			}
			return runCommand(c.Context, env, opts, runServe)
		},
	}
}

func serveOptionsFromFlags(c *cli.Context, env *Env) (serveOptions, error) {
	opts := serveOptions{
		env: env, conn: connFromFlags(c), readURL: c.String("read-url"), httpAddr: c.String("http-addr"),
		certsDir: c.String(flagCertsDir), insecure: c.Bool("insecure"),
	}
	// For the database, the directory's client certificate is optional.
	opts.conn.certsIfClientCert = true
	switch {
	case opts.certsDir == "" && !opts.insecure:
		return opts, usageErrorf("serve needs --certs-dir DIR (with node.crt and node.key) for HTTPS, or --insecure for plain HTTP")
	case opts.certsDir != "" && opts.insecure:
		return opts, usageErrorf("--certs-dir and --insecure exclude each other: choose HTTPS or plain HTTP")
	}
	if err := checkListenAddr("http-addr", opts.httpAddr); err != nil {
		return opts, err
	}
	if err := metricsFromFlags(c, &opts); err != nil {
		return opts, err
	}
	var err error
	opts.sessionLifetimeText = c.String("session-lifetime")
	if opts.sessionLifetime, err = parseDuration("session-lifetime", c.String("session-lifetime"), time.Second); err != nil {
		return opts, err
	}
	if opts.standbyTimeout, err = standbyTimeoutFromFlags(c); err != nil {
		return opts, err
	}
	if opts.touchInterval, err = parseDuration("touch-interval", c.String("touch-interval"), time.Second); err != nil {
		return opts, err
	}
	if opts.pinned, err = pinnedFromFlags(c, serveSettings...); err != nil {
		return opts, err
	}
	if idle, ok := opts.pinned[flagIdleTimeout]; ok {
		// Checked by pinnedFromFlags already.
		if d, _ := sql.ParseDurationOrZero(idle, 0); d > 0 && opts.touchInterval >= d {
			return opts, usageErrorf("--touch-interval %s must be shorter than --idle-timeout %s: last_used_at lags up to --touch-interval behind a session's last use",
				c.String("touch-interval"), c.String(flagIdleTimeout))
		}
	}
	maxConns := c.Int("max-conns")
	if maxConns < 1 || maxConns > 1000 {
		return opts, usageErrorf("invalid --max-conns %d: want 1 to 1000", maxConns)
	}
	opts.maxConns = int32(maxConns)
	if opts.forwardAuth, err = forwardAuthFromFlags(c); err != nil {
		return opts, err
	}
	if opts.forwardedHeader, err = forwardedHeaderFromFlag(c); err != nil {
		return opts, err
	}
	if err := opts.logLevel.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return opts, usageErrorf("invalid --log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	purge, err := servePurgeOptions(c.String(flagPurgeInterval), c.String(flagPurgeOlderThan), c.String(flagPurgePace))
	if err != nil {
		return opts, err
	}
	if purge.Interval > 0 {
		opts.purge = &purge
	}
	return opts, nil
}

// checkListenAddr refuses a value of flag that is not HOST:PORT with a
// port from 0 to 65535.
func checkListenAddr(flag, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf("invalid --%s %q: want HOST:PORT, such as 127.0.0.1:8080", flag, addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil {
		return usageErrorf("invalid --%s %q: port %q is not 0 to 65535 (0 picks a free port)", flag, addr, port)
	} else if n == 0 && port != "0" {
		return usageErrorf("invalid --%s %q: write port 0 as 0", flag, addr)
	}
	return nil
}

func runServe(ctx context.Context, opts serveOptions) error {
	// Deferred first, so it writes the lines of every other deferred step.
	logOut := newLogWriter(opts.env.IO.Err)
	defer logOut.Close()
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: opts.logLevel}))
	var tlsConfig *tls.Config
	if !opts.insecure {
		var err error
		if tlsConfig, err = loadNodeCert(opts.certsDir); err != nil {
			return err
		}
	}

	guard := outage.New(log)
	pool, err := openPool(ctx, opts.conn, opts.maxConns, guard, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	caller, err := checkPool(ctx, pool, opts.conn.Schema)
	if err != nil {
		return err
	}
	if caller.ReadOnly {
		return readOnlyError(fmt.Sprintf("--url (%s)", describeTarget(pool.Config().ConnConfig)))
	}
	db, err := sql.PoolInSchema(pool, opts.conn.Schema)
	if err != nil {
		return err
	}
	if err := sql.CheckLifetime(ctx, db, opts.sessionLifetime); err != nil {
		return lifetimeError("--session-lifetime", opts.sessionLifetimeText, err)
	}
	var readPool *pgxpool.Pool
	var readGuard *outage.Guard
	if opts.readURL != "" {
		readGuard = outage.New(log.With("pool", "read"))
		if readPool, err = openReadPool(ctx, opts.readURL, opts.conn.CertsDir, opts.conn.Schema, opts.maxConns, readGuard, log); err != nil {
			return err
		}
		defer readPool.Close()
	}

	var metricsLn net.Listener
	if opts.metricsAddr != "" {
		if metricsLn, err = listen(flagMetricsAddr, opts.metricsAddr); err != nil {
			return err
		}
		// Serve closes it; an error before Serve leaves it to this.
		defer metricsLn.Close()
	}
	srv, err := server.New(server.Config{
		Pool:            pool,
		ReadPool:        readPool,
		ReadOutage:      readGuard,
		Log:             log,
		SessionLifetime: opts.sessionLifetime,
		TouchInterval:   opts.touchInterval,
		StandbyTimeout:  opts.standbyTimeout,
		PinnedSettings:  opts.pinned,
		InsecureCookies: opts.insecure,
		TLS:             tlsConfig,
		Outage:          guard,
		ForwardAuth:     opts.forwardAuth,
		ForwardedHeader: opts.forwardedHeader,
		Schema:          opts.conn.Schema,
		Purge:           backgroundPurge(opts),
		DisableMetrics:  !opts.metrics,
		MetricsListener: metricsLn,
	})
	if err != nil {
		return err
	}
	// Before the first request, which they apply to; this logs each
	// setting's value and origin.
	if err := srv.RefreshSettings(ctx); err != nil {
		return err
	}
	ln, err := listen("http-addr", opts.httpAddr)
	if err != nil {
		return err
	}
	scheme := "https"
	if opts.insecure {
		scheme = "http"
	}
	if metricsLn != nil {
		log.Info("serving metrics", "url", scheme+"://"+metricsLn.Addr().String()+server.MetricsPath)
	}
	log.Info("serving HTTP", "url", scheme+"://"+ln.Addr().String(), "db_user", caller.Username,
		"schema_version", caller.SchemaVersion, "session_lifetime", opts.sessionLifetime)
	if opts.ready != nil {
		opts.ready(ln.Addr())
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// listen opens the listener of flag's addr, or says why it cannot.
func listen(flag, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, hintError{msg: fmt.Sprintf("listen on %s: %s", addr, listenReason(err)),
			hint: "choose another address with --" + flag + ", or stop the process using it"}
	}
	return ln, nil
}

// serveSettings are the settings serve applies that have a flag of serve.
var serveSettings = append([]string{sql.SettingIdleTimeout, sql.SettingMaxSessionsPerUser, sql.SettingEventsRetention, sql.SettingTrustedProxies},
	loginLimitsSettings...)

// loginLimitsSettings are the login throttle's, which serve applies and
// throttle show reads by.
var loginLimitsSettings = []string{sql.SettingLoginFailLimit, sql.SettingLoginFailLimitPerAddress, sql.SettingLoginFailWindow}

// loginLimitsFlags are the flags of loginLimitsSettings.
func loginLimitsFlags() []cli.Flag {
	return []cli.Flag{
		settingFlag(sql.SettingLoginFailLimit,
			"after `N` failed logins of one user from one client address within --login-fail-window, that pair gets 429; 0 for no such limit"),
		settingFlag(sql.SettingLoginFailLimitPerAddress,
			"after `N` failed logins from one client address, of any users, within --login-fail-window, it gets 429; 0 for no such limit"),
		settingFlag(sql.SettingLoginFailWindow,
			"a failed login counts against its address for `D`; 0 turns the login throttle off"),
	}
}

// openPool makes the server's connection pool, its connection attempts
// held back by guard during an outage. It connects once first, so that an
// unreachable database is reported as such before anything else, and to
// choose the statement mode: pgx's prepared statements on a direct
// connection, none behind a pooler (PoolerQueryExecMode), unless the URL
// chooses.
func openPool(ctx context.Context, o ConnOptions, maxConns int32, guard *outage.Guard, log *slog.Logger) (*pgxpool.Pool, error) {
	connCfg, err := o.Config()
	if err != nil {
		return nil, err
	}
	// The first connection also settles whether search_path can be set at
	// connect (see connectConfig) for the pool's connections, and the
	// password typed at its prompt, if any, is theirs too.
	conn, err := o.connectAsking(ctx, connCfg)
	if err != nil {
		return nil, err
	}
	pooled, err := behindPooler(ctx, conn)
	conn.Close(ctx)
	if err != nil {
		return nil, err
	}
	if !o.setsExecMode() {
		if pooled {
			connCfg.DefaultQueryExecMode = PoolerQueryExecMode
			log.Info("connected through a connection pooler: not keeping prepared statements", "query_exec_mode", PoolerQueryExecMode)
		} else {
			connCfg.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
		}
	}
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("configure connection pool: %w", err)
	}
	poolCfg.ConnConfig = connCfg
	poolCfg.MaxConns = maxConns
	poolCfg.MaxConnIdleTime = 5 * time.Minute
	guard.Install(poolCfg)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("configure connection pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, connectError{cfg: connCfg, err: err}
	}
	return pool, nil
}

// openReadPool opens the pool of --read-url and checks it as the main one:
// its user must be an admin and its schema current. That it is a standby is
// not required: any server with the same data will do.
func openReadPool(ctx context.Context, readURL, certsDir, schema string, maxConns int32, guard *outage.Guard, log *slog.Logger) (*pgxpool.Pool, error) {
	pool, err := openPool(ctx, ConnOptions{URL: readURL, CertsDir: certsDir, certsIfClientCert: true, noPasswordFlags: true}, maxConns, guard, log.With("pool", "read"))
	if err != nil {
		return nil, fmt.Errorf("--read-url: %w", err)
	}
	if _, err := checkPool(ctx, pool, schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("--read-url: %w", err)
	}
	return pool, nil
}

// checkPool runs the preflight checks on one of the pool's connections: the
// schema is current and the pool's user is an admin.
func checkPool(ctx context.Context, pool *pgxpool.Pool, schema string) (sql.Caller, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return sql.Caller{}, connectError{cfg: pool.Config().ConnConfig, err: err}
	}
	defer conn.Release()
	db, err := sql.InSchema(conn.Conn(), schema)
	if err != nil {
		return sql.Caller{}, err
	}
	return checkCaller(ctx, db)
}

// loadNodeCert loads DIR/node.crt and DIR/node.key, as cockroach names them.
func loadNodeCert(dir string) (*tls.Config, error) {
	certFile, keyFile := filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, hintError{msg: fmt.Sprintf("load TLS certificate from --certs-dir %q: %v", dir, err),
			hint: "the directory must hold node.crt (PEM certificate chain) and node.key (PEM private key); use --insecure for plain HTTP"}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// listenReason reduces a listen error to its cause, such as "address
// already in use".
func listenReason(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		msg := opErr.Err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			return msg[i+2:]
		}
		return msg
	}
	return err.Error()
}

// Flags of serve's background purge.
const (
	flagPurgeInterval  = "purge-interval"
	flagPurgeOlderThan = "purge-older-than"
	flagPurgePace      = "purge-pace"

	defaultPurgeInterval = "1h"
	// defaultPurgePace keeps the background purge busy at most half the
	// time: bench/purgelatency measured the whoami p99 during an unpaced
	// purge at over twice the idle p99 on 2 CPUs.
	defaultPurgePace = "1"
	// minPurgeInterval: a run reads the database clock and walks two
	// indexes even when there is nothing to delete, so running back to back
	// costs without purging anything sooner.
	minPurgeInterval = time.Second
	// purgeJitter spreads each wait over ±10% of the interval, so that
	// servers started together do not purge together.
	purgeJitter = 0.1
)

func servePurgeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagPurgeInterval, Value: defaultPurgeInterval,
			Usage: "purge old sessions and audit events in the background about every `D` (±10%), as the purge command does; 0 turns it off"},
		olderThanFlag(flagPurgeOlderThan),
		paceFlag(flagPurgePace, defaultPurgePace),
		eventsRetentionFlag(),
	}
}

// servePurgeOptions parses the flags' values as the purge command parses
// its own; every value is checked, also when the interval turns the purge
// off, so that a typo fails now rather than when someone turns it on. The
// events retention is a setting (see serveSettings), which the server
// applies to each run.
func servePurgeOptions(interval, olderThan, pace string) (sql.PurgeLoopOptions, error) {
	opts := sql.PurgeLoopOptions{Jitter: purgeJitter, Purge: sql.PurgeOptions{Batch: sql.BackgroundPurgeBatch}}
	var err error
	if opts.Interval, err = parseDurationOrZero(flagPurgeInterval, interval, minPurgeInterval, "turn the background purge off"); err != nil {
		return opts, err
	}
	if opts.Purge.OlderThan, err = parseDuration(flagPurgeOlderThan, olderThan, time.Second); err != nil {
		return opts, err
	}
	if opts.Purge.Pace, err = parsePace(flagPurgePace, pace); err != nil {
		return opts, err
	}
	return opts, nil
}

// backgroundPurge is serve's background purge, which the server runs until
// shutdown, with the idle timeout and events retention it applies at each
// run (see server.Server); nil when opts.purge is nil. The loop
// logs one line per run with its counts, never a session's secret or id.
func backgroundPurge(opts serveOptions) *sql.PurgeLoopOptions {
	if opts.purge == nil {
		return nil
	}
	loop := *opts.purge
	loop.Purge.Audit = sql.PurgeAudit{Via: "serve", ClientAddr: hostname(opts.env)}
	return &loop
}
