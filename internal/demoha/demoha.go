// Package demoha is `make demo-ha`: the high-availability story end to end
// on one machine, with the real programs. Patroni runs two PostgreSQL nodes
// over etcd; haproxy sends PostgreSQL connections to the node Patroni calls
// the leader; pgbouncer pools them in transaction mode; two `auth-session
// serve` processes use pgbouncer, and haproxy balances HTTP between them. A
// cookie is minted and used through the balancer, the leader is killed,
// Patroni promotes the replica, the cookie still works, a logout revokes
// it. Every step prints its command and output, and Run stops everything
// it started.
package demoha

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgcluster/ha"
)

// Run runs the story with the auth-session binary bin, printing to out.
func Run(ctx context.Context, out io.Writer, bin string) (err error) {
	var cleanups []func()
	defer func() {
		fmt.Fprintln(out, "\n# cleaning up: stopping serve, haproxy, pgbouncer, Patroni and etcd")
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	say("# 1. etcd, and two Patroni nodes running PostgreSQL: the first bootstraps, the second copies it")
	etcd, err := ha.StartEtcd(ctx)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, etcd.Stop)
	superPassword := randomWord()
	opts := ha.PatroniOptions{Scope: "demo-ha", Etcd: etcd, SuperUser: "postgres", SuperPassword: superPassword, Sync: true}
	var nodes []*ha.PatroniNode
	for _, name := range []string{"node1", "node2"} {
		n, err := ha.StartPatroni(ctx, opts, name)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, n.Stop)
		nodes = append(nodes, n)
		if _, err := ha.WaitForCluster(ctx, nodes, 2*time.Minute); err != nil {
			return err
		}
	}
	leader, err := ha.WaitForCluster(ctx, nodes, 2*time.Minute)
	if err != nil {
		return err
	}
	say("etcd at %s; %s", etcd.ClientAddr, roles(ctx, nodes))

	say("\n# 2. haproxy in front of PostgreSQL (to the node whose Patroni answers /primary), pgbouncer in transaction mode in front of it")
	pgLB, err := ha.StartHAProxy(ctx, ha.Frontend{CheckPath: "/primary", Backends: []ha.Backend{
		{Addr: nodes[0].Addr(), CheckAddr: fmt.Sprintf("127.0.0.1:%d", nodes[0].APIPort)},
		{Addr: nodes[1].Addr(), CheckAddr: fmt.Sprintf("127.0.0.1:%d", nodes[1].APIPort)},
	}})
	if err != nil {
		return err
	}
	cleanups = append(cleanups, pgLB.Stop)
	host, port := splitAddr(pgLB.Addrs[0])
	bouncer, err := ha.StartBouncer(ctx, ha.BouncerOptions{Host: host, Port: port, Mode: ha.PoolTransaction,
		AuthUser: "postgres", AuthPassword: superPassword})
	if err != nil {
		return err
	}
	cleanups = append(cleanups, bouncer.Stop)
	superURL := bouncer.URL("postgres", superPassword, "postgres")
	adminURL := bouncer.URL("web_admin", "adminpw", "postgres")
	say("PostgreSQL through haproxy at %s, pgbouncer at 127.0.0.1:%d", pgLB.Addrs[0], bouncer.Port)

	dir, err := os.MkdirTemp("", "auth-session-demo-ha-")
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	sh := shell{out: out, dir: dir, env: append(os.Environ(), "AUTH_SESSION_URL="+adminURL,
		"PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))}

	say("\n# 3. the schema and the roles, through pgbouncer (AUTH_SESSION_URL names pgbouncer; init's is the superuser's)")
	asSuper := sh
	asSuper.env = append(append([]string(nil), sh.env...), "AUTH_SESSION_URL="+superURL)
	if _, err := asSuper.run(ctx, "auth-session init", 0); err != nil {
		return err
	}
	if err := createRoles(ctx, superURL); err != nil {
		return err
	}
	say("created roles web_admin (IN ROLE admin) and web_user")

	say("\n# 4. two serve processes, through pgbouncer, and haproxy balancing HTTP between them")
	var serveAddrs []string
	for range 2 {
		addr, stop, err := startServe(ctx, bin, adminURL, dir)
		if err != nil {
			return err
		}
		cleanups = append(cleanups, stop)
		serveAddrs = append(serveAddrs, addr)
	}
	webLB, err := ha.StartHAProxy(ctx, ha.Frontend{HTTP: true, CheckPath: "/health", Backends: []ha.Backend{
		{Addr: serveAddrs[0]}, {Addr: serveAddrs[1]},
	}})
	if err != nil {
		return err
	}
	cleanups = append(cleanups, webLB.Stop)
	balancer := "http://" + webLB.Addrs[0]
	say("serve at %s and %s; the balancer at %s", serveAddrs[0], serveAddrs[1], balancer)
	whoami := `curl -sS -w '\nHTTP %{http_code}\n' --cookie "$(cat cookie.txt)" ` + balancer + "/api/v2/whoami"

	say("\n# 5. mint a cookie, and use it through the balancer (each request may reach either serve)")
	if _, err := sh.run(ctx, "auth-session login web_user --only-cookie > cookie.txt", 0); err != nil {
		return err
	}
	for range 2 {
		if err := sh.want(ctx, whoami, "HTTP 200"); err != nil {
			return err
		}
	}

	say("\n# 6. kill the leader, %s: Patroni killed, its PostgreSQL stopped at once, as a lost machine", leader.Name)
	killed := time.Now()
	if err := leader.Kill(); err != nil {
		return err
	}
	say("\n# 7. watch the failover: Patroni promotes the replica once the leader's lock expires in etcd")
	for {
		status, err := sh.quiet(ctx, `curl -s -m 3 -o /dev/null -w '%{http_code}' --cookie "$(cat cookie.txt)" `+balancer+"/api/v2/whoami")
		if err != nil {
			return err
		}
		answer := status
		if status == "000" {
			answer = "no answer within 3s"
		}
		say("t+%4.1fs  %s  whoami through the balancer: %s", time.Since(killed).Seconds(), roles(ctx, nodes), answer)
		if status == "200" {
			break
		}
		if time.Since(killed) > 2*time.Minute {
			return errors.New("no failover within two minutes")
		}
		time.Sleep(time.Second)
	}

	// whoami can answer from the new leader while it is still finishing
	// its recovery (Patroni's /primary says yes once it holds the lock),
	// and a logout then would meet a read-only server.
	if err := waitWritable(ctx, superURL, killed); err != nil {
		return err
	}
	say("t+%4.1fs  %s  PostgreSQL through pgbouncer accepts writes", time.Since(killed).Seconds(), roles(ctx, nodes))

	say("\n# 8. the cookie still works after the failover")
	if err := sh.want(ctx, whoami, "HTTP 200"); err != nil {
		return err
	}
	say("\n# 9. log out, and the cookie is refused, through either serve")
	if _, err := sh.run(ctx, "auth-session logout web_user", 0); err != nil {
		return err
	}
	for range 2 {
		if err := sh.want(ctx, whoami, "HTTP 401"); err != nil {
			return err
		}
	}
	say("\nThe story went as expected: the cookie worked through the balancer before and after the leader died, and not after the logout.")
	return nil
}

// shell runs the story's commands through /bin/sh and prints them as a
// terminal would.
type shell struct {
	out io.Writer
	dir string
	env []string
}

func (s shell) exec(ctx context.Context, command string) (string, int, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir, cmd.Env = s.dir, s.env
	output, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return string(output), exitErr.ExitCode(), nil
	}
	return string(output), 0, err
}

// run prints and runs command, which must exit with code.
func (s shell) run(ctx context.Context, command string, code int) (string, error) {
	fmt.Fprintf(s.out, "$ %s\n", command)
	output, got, err := s.exec(ctx, command)
	s.out.Write([]byte(output)) //nolint:errcheck
	if err == nil && got != code {
		err = fmt.Errorf("%q exited with %d; want %d", command, got, code)
	}
	return output, err
}

// want prints and runs command, whose output must end with suffix.
func (s shell) want(ctx context.Context, command, suffix string) error {
	output, err := s.run(ctx, command, 0)
	if err == nil && !strings.HasSuffix(strings.TrimSpace(output), suffix) {
		err = fmt.Errorf("%q printed %q; want it to end with %q", command, output, suffix)
	}
	return err
}

// quiet runs command without printing it, and returns its output.
func (s shell) quiet(ctx context.Context, command string) (string, error) {
	output, _, err := s.exec(ctx, command)
	return strings.TrimSpace(output), err
}

func roles(ctx context.Context, nodes []*ha.PatroniNode) string {
	var parts []string
	for _, n := range nodes {
		role := n.Role(ctx)
		if role == "" {
			role = "down"
		}
		parts = append(parts, fmt.Sprintf("%s %-7s", n.Name, role))
	}
	return strings.Join(parts, "  ")
}

// waitWritable waits until the server behind superURL is out of recovery,
// at most two minutes after killed.
func waitWritable(ctx context.Context, superURL string, killed time.Time) error {
	cfg, err := pgx.ParseConfig(superURL)
	if err != nil {
		return err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol // pgbouncer in transaction mode
	for {
		var inRecovery bool
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
			conn.Close(context.Background())
		}
		if err == nil && !inRecovery {
			return nil
		}
		if time.Since(killed) > 2*time.Minute {
			return fmt.Errorf("the new leader still cannot write two minutes after the old one died (last error: %v)", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func createRoles(ctx context.Context, superURL string) error {
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, `CREATE ROLE web_admin LOGIN PASSWORD 'adminpw' IN ROLE admin`)
	if err == nil {
		_, err = conn.Exec(ctx, `CREATE ROLE web_user LOGIN PASSWORD 'userpw'`)
	}
	return err
}

// startServe starts `bin serve` on a free port and waits until it answers.
func startServe(ctx context.Context, bin, dbURL, dir string) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr = ln.Addr().String()
	ln.Close()
	logFile, err := os.Create(filepath.Join(dir, "serve-"+strings.ReplaceAll(addr, ":", "-")+".log"))
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "serve", "--url", dbURL, "--insecure", "--http-addr", addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return "", nil, err
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt) //nolint:errcheck
		cmd.Wait()                       //nolint:errcheck
		logFile.Close()
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(logFile.Name())
			return "", nil, fmt.Errorf("serve did not listen on %s in 30s:\n%s", addr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func splitAddr(addr string) (string, int) {
	host, port, _ := net.SplitHostPort(addr)
	var n int
	fmt.Sscan(port, &n) //nolint:errcheck
	return host, n
}

func randomWord() string {
	return fmt.Sprintf("demo%x", time.Now().UnixNano())
}
