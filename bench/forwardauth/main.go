// Command forwardauth measures forward authentication through the real
// nginx: the rate of requests for an application behind nginx, each checked
// by serve's /api/v1/auth/forward with the configuration of
// docs/forward-auth.md, against authenticated GET /api/v2/whoami straight to
// the server, in the same run, interleaved, at the same concurrency.
//
//	go run ./bench/forwardauth [--url SUPERUSER_URL] [--concurrency 32] [--duration 10s]
//
// Run it from the repository's root, where it finds docs/. Without --url it
// starts a throwaway PostgreSQL; with it, it works in a database of its own
// that it drops at the end. Everything runs on loopback: the server in this
// process, the application a Go handler answering a few bytes, nginx a
// process of its own (worker_processes auto), which also proxies to the app
// without asking serve, for the proxy's own cost.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auth-session/auth-session/bench/internal/benchdb"
	"github.com/auth-session/auth-session/bench/internal/benchmain"
	"github.com/auth-session/auth-session/bench/internal/httpload"
	"github.com/auth-session/auth-session/internal/docconfig"
	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgcluster/ha"
	"github.com/auth-session/auth-session/pkg/auth"
	"github.com/auth-session/auth-session/pkg/server"
	"github.com/auth-session/auth-session/pkg/sql"
)

type options struct {
	url         string
	sessions    int
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	rounds      int
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", os.Getenv("AUTH_SESSION_TEST_URL"), "superuser URL of a PostgreSQL to use; empty starts a throwaway one")
	flag.IntVar(&o.sessions, "sessions", 10000, "sessions to create; the clients spread their requests over them")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent clients in each measurement")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measurement")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured run before each measurement")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds each measurement is split into")
	flag.Parse()
	benchmain.Run("bench/forwardauth", func(ctx context.Context) error { return run(ctx, o) })
}

func run(ctx context.Context, o options) error {
	superURL := o.url
	if superURL == "" {
		fmt.Fprintln(os.Stderr, "starting a throwaway PostgreSQL ...")
		c, err := pgcluster.Start(ctx, pgcluster.Options{StopWithProcess: true})
		if err != nil {
			return err
		}
		defer c.Remove() //nolint:errcheck // best effort at exit
		superURL = c.SuperURL("postgres")
	}
	connCfg, dropDB, err := benchdb.CreateDatabase(ctx, superURL, "bench_forwardauth")
	if err != nil {
		return err
	}
	defer dropDB() //nolint:errcheck // best effort at exit
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return err
	}
	poolCfg.ConnConfig = connCfg
	poolCfg.MaxConns = 16 // serve's default
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := sql.Migrate(ctx, pool, sql.MigrateOptions{}); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	role := "bench_user_" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	if _, err := pool.Exec(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	defer pool.Exec(context.WithoutCancel(ctx), "DROP ROLE IF EXISTS "+role) //nolint:errcheck
	fmt.Fprintf(os.Stderr, "creating %d sessions ...\n", o.sessions)
	_, values, err := benchdb.CreateSessions(ctx, pool, role, o.sessions)
	if err != nil {
		return err
	}

	serveAddr, stopServer, err := httpload.StartServer(ctx, pool, 0)
	if err != nil {
		return err
	}
	defer stopServer()
	appAddr, stopApp, err := startApp()
	if err != nil {
		return err
	}
	defer stopApp()
	proxy, openAddr, err := startNginx(ctx, serveAddr, appAddr)
	if err != nil {
		return err
	}
	defer proxy.Stop()

	direct := httpload.NewClients(serveAddr, o.concurrency)
	defer direct.Close()
	proxied := httpload.NewClients(proxy.Addr, o.concurrency)
	defer proxied.Close()
	open := httpload.NewClients(openAddr, o.concurrency)
	defer open.Close()
	openPage := httpload.GetRequest(openAddr, "/page")
	whoami, forward, page := make([][]byte, len(values)), make([][]byte, len(values)), make([][]byte, len(values))
	for i, v := range values {
		cookie := "Cookie: " + auth.CookieName + "=" + v
		whoami[i] = httpload.GetRequest(serveAddr, "/api/v2/whoami", cookie)
		forward[i] = httpload.GetRequest(serveAddr, server.ForwardAuthPath, cookie)
		page[i] = httpload.GetRequest(proxy.Addr, "/page", cookie)
	}
	workloads := []httpload.Workload{
		{Name: "authenticated `GET /api/v2/whoami` straight to serve", Op: func(_ context.Context, i int) error {
			return direct.Expect(i, whoami[i%len(whoami)], http.StatusOK)
		}},
		{Name: "authenticated `GET " + server.ForwardAuthPath + "` straight to serve", Op: func(_ context.Context, i int) error {
			return direct.Expect(i, forward[i%len(forward)], http.StatusOK)
		}},
		{Name: "authenticated `GET /page` through nginx: `auth_request` to serve, then the app", Op: func(_ context.Context, i int) error {
			return proxied.Expect(i, page[i%len(page)], http.StatusOK)
		}},
		{Name: "`GET /page` through nginx to the app without authentication (the proxy's floor)", Op: func(_ context.Context, i int) error {
			return open.Expect(i, openPage, http.StatusOK)
		}},
	}
	fmt.Fprintf(os.Stderr, "measuring for %v ...\n", time.Duration(len(workloads))*(o.warmup+o.duration))
	rounds := httpload.Rounds{Concurrency: o.concurrency, Warmup: o.warmup, Count: o.rounds, Slice: o.duration / time.Duration(o.rounds)}
	if err := rounds.Measure(ctx, workloads); err != nil {
		return err
	}
	fmt.Printf("%d concurrent clients, %d sessions, pool of 16 connections, %v per measurement in %d interleaved rounds, "+
		"all on loopback, %d CPUs, nginx with the configuration of docs/forward-auth.md.\n\n",
		o.concurrency, o.sessions, o.duration, o.rounds, runtime.NumCPU())
	fmt.Println("| measurement | req/s | p50 | p99 | requests |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: |")
	for _, w := range workloads {
		s := w.Stats(o.duration)
		fmt.Printf("| %s | %.0f | %v | %v | %d |\n",
			w.Name, s.Rate, s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.Requests)
	}
	direct0, viaNginx := workloads[0].Stats(o.duration), workloads[2].Stats(o.duration)
	floor := workloads[3].Stats(o.duration)
	fmt.Printf("\nThrough nginx with forward authentication / whoami straight to serve: **%.2f**; / through nginx without it: **%.2f**.\n",
		viaNginx.Rate/direct0.Rate, viaNginx.Rate/floor.Rate)
	return nil
}

// startApp serves the protected application: a few bytes, with their
// Content-Length, to every request.
func startApp() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3")
		w.Write([]byte("ok\n")) //nolint:errcheck
	})}
	go srv.Serve(ln) //nolint:errcheck
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// startNginx starts nginx with the page's configuration in front of the
// app, asking the server at serveAddr, plus a server block of its own at
// openAddr that proxies to the app without asking.
func startNginx(ctx context.Context, serveAddr, appAddr string) (_ *ha.WebProxy, openAddr string, _ error) {
	var addrs [2]string
	for i := range addrs {
		port, err := pgcluster.FreePort()
		if err != nil {
			return nil, "", err
		}
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", port)
	}
	conf, err := docconfig.Block("docs/forward-auth.md", "nginx",
		"listen 80;", "listen "+addrs[0]+";", "127.0.0.1:8080", serveAddr, "127.0.0.1:3000", appAddr)
	if err != nil {
		return nil, "", errors.Join(err, errors.New("run from the repository's root"))
	}
	conf += fmt.Sprintf("\nserver {\n    listen %s;\n    location / {\n        proxy_pass http://%s;\n    }\n}\n", addrs[1], appAddr)
	p, err := ha.StartNginx(ctx, addrs[0], conf)
	return p, addrs[1], err
}
