package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/pkg/sql"
)

// The roles the demo creates: the server's admin and the user who logs in.
const (
	demoAdmin = "demo_admin"
	demoUser  = "web_user"
)

type demoOptions struct {
	env      *Env
	dataDir  string
	httpAddr string
	runStory bool
}

func demoCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "start a throwaway PostgreSQL and the HTTP interface, to try auth-session",
		Description: "demo, like 'cockroach demo', starts a PostgreSQL of its own on loopback (initdb\n" +
			"and pg_ctl from PATH or /usr/lib/postgresql/*/bin), applies the schema, creates\n" +
			"the admin " + demoAdmin + " and the user " + demoUser + " with passwords, starts the HTTP\n" +
			"interface on a free loopback port and prints how to reach both: its address\n" +
			"leads to the admin page, where " + demoAdmin + " signs in. It stays up until\n" +
			"Ctrl-C, then removes everything it made.\n\n" +
			"With --run-story it instead runs, with this binary and curl, the story\n" +
			"login -> curl whoami (200) -> logout -> curl whoami (401) -> list shows the\n" +
			"session revoked, printing each command and its output, and exits 0 only if\n" +
			"every step went as expected.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data-dir",
				Usage: "keep the database in `DIR` (reused if it is running) instead of a temporary directory that is removed at the end"},
			&cli.StringFlag{Name: "http-addr", Value: "127.0.0.1:0",
				Usage: "`HOST:PORT` of the HTTP interface; port 0 picks a free one"},
			&cli.BoolFlag{Name: "run-story", Usage: "run the login, curl, logout, curl, list story and exit"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			return runCommand(c.Context, env, demoOptions{
				env: env, dataDir: c.String("data-dir"), httpAddr: c.String("http-addr"), runStory: c.Bool("run-story"),
			}, runDemo)
		},
	}
}

func runDemo(ctx context.Context, opts demoOptions) (err error) {
	var story *demoStory
	if opts.runStory {
		// Before anything starts: a missing curl should cost nothing.
		if story, err = newDemoStory(); err != nil {
			return err
		}
	}
	talk := io.Discard
	if opts.env.IO.ErrIsTerminal {
		talk = opts.env.IO.Err
	}
	fmt.Fprintln(talk, "starting PostgreSQL ...")
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: opts.dataDir, StopWithProcess: true})
	if err != nil {
		return fmt.Errorf("start the demo's PostgreSQL: %w", err)
	}
	defer func() {
		if cluster.Reused {
			return // not ours to stop
		}
		fmt.Fprintln(talk, "stopping PostgreSQL and removing what the demo made ...")
		if rmErr := cluster.Remove(); rmErr != nil && err == nil {
			err = fmt.Errorf("clean up the demo's PostgreSQL: %w", rmErr)
		}
	}()

	adminPassword, userPassword := demoPassword(), demoPassword()
	if err := setUpDemoDatabase(ctx, cluster.SuperURL("postgres"), adminPassword, userPassword); err != nil {
		return err
	}
	dbURL := cluster.URL(demoAdmin, adminPassword, "postgres")

	serveCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	logLevel := slog.LevelInfo
	if opts.runStory {
		// The story's own output tells what happens; request lines would
		// only interleave with it.
		logLevel = slog.LevelWarn
	}
	ready := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() {
		served <- runServe(serveCtx, serveOptions{
			env: opts.env, conn: ConnOptions{URL: dbURL}, httpAddr: opts.httpAddr, insecure: true,
			sessionLifetime: time.Hour, touchInterval: time.Minute, maxConns: 8, logLevel: logLevel,
			ready: func(addr net.Addr) { ready <- addr },
		})
	}()
	var httpURL string
	select {
	case addr := <-ready:
		httpURL = "http://" + addr.String()
	case err := <-served:
		return fmt.Errorf("start the demo's HTTP interface: %w", err)
	}
	// Whatever happens next, the server stops before the cluster does.
	defer func() {
		stopServing()
		if serveErr := <-served; serveErr != nil && err == nil {
			err = serveErr
		}
	}()

	out := opts.env.IO.Out
	fmt.Fprintf(out, "auth-session demo: a PostgreSQL and the HTTP interface of its own, on loopback only.\n\n")
	fmt.Fprintf(out, "  --url      %s\n", dbURL)
	fmt.Fprintf(out, "  HTTP       %s\n", httpURL)
	fmt.Fprintf(out, "  %-10s password %s  (signs in to the admin page at %s/)\n", demoAdmin, adminPassword, httpURL)
	fmt.Fprintf(out, "  %-10s password %s\n", demoUser, userPassword)
	if opts.runStory {
		return story.run(ctx, out, dbURL, httpURL)
	}
	printDemoExamples(out, dbURL, httpURL, userPassword)
	if opts.dataDir == "" {
		fmt.Fprintf(out, "\nPress Ctrl-C to stop; everything the demo made is then removed.\n")
	} else {
		fmt.Fprintf(out, "\nPress Ctrl-C to stop; the database stays in %s.\n", cluster.Dir)
	}
	<-ctx.Done()
	return nil
}

func printDemoExamples(w io.Writer, dbURL, httpURL, password string) {
	fmt.Fprintf(w, "\nTry, in another shell:\n")
	for _, line := range []string{
		"export AUTH_SESSION_URL='" + dbURL + "'",
		"auth-session login " + demoUser + " --insecure --only-cookie > cookie.txt",
		"curl --cookie \"$(cat cookie.txt)\" " + httpURL + "/api/v2/whoami",
		"curl -H \"Cookie: $(cat cookie.txt)\" " + httpURL + "/api/v2/whoami",
		"auth-session login " + demoUser + " --insecure --cookie-jar jar.txt",
		"curl --cookie jar.txt " + httpURL + "/api/v2/whoami",
		"wget -qO- --load-cookies jar.txt " + httpURL + "/api/v2/whoami",
		"curl -d username=" + demoUser + " -d password=" + password + " " + httpURL + "/api/v2/login/",
		"auth-session logout " + demoUser,
		"auth-session list",
	} {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintf(w, "\n(curl --cookie FILE reads FILE as a cookie jar, not as the line --only-cookie prints:\n"+
		"pass that line with \"$(cat FILE)\", or write a jar with --cookie-jar.)\n")
}

// setUpDemoDatabase applies the schema and creates the demo's roles, or
// gives them new passwords when a kept data directory has them already.
func setUpDemoDatabase(ctx context.Context, superURL, adminPassword, userPassword string) error {
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		return fmt.Errorf("connect to the demo's PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := sql.Migrate(ctx, conn, sql.MigrateOptions{}); err != nil {
		return fmt.Errorf("initialize schema: %w", err)
	}
	for _, role := range []struct{ name, password string }{{demoAdmin, adminPassword}, {demoUser, userPassword}} {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", role.name).Scan(&exists); err != nil {
			return fmt.Errorf("look up role %s: %w", role.name, err)
		}
		verb := "CREATE"
		if exists {
			verb = "ALTER"
		}
		// DDL takes no parameters; the password is hex, so quoting is safe.
		stmt := fmt.Sprintf("%s ROLE %s LOGIN PASSWORD '%s' VALID UNTIL 'infinity'", verb, role.name, role.password)
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s role %s: %w", verb, role.name, err)
		}
	}
	if _, err := conn.Exec(ctx, "GRANT admin TO "+demoAdmin); err != nil {
		return fmt.Errorf("grant admin to %s: %w", demoAdmin, err)
	}
	return nil
}

func demoPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
