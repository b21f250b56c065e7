// Package e2e runs the built auth-session binary as a user would, with real
// curl and wget, against a real PostgreSQL. main_test.go builds the binary
// and holds the helpers; the other files hold the tests.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgtest"
	"github.com/auth-session/auth-session/internal/testbin"
)

// binPath is the auth-session binary TestMain builds.
var binPath string

// requiredTools are the programs the tests run besides the binary. The test
// set-up (scripts/install-deps.sh) installs them; without them the suite
// fails rather than skips, so that it never looks green having tested less.
var requiredTools = []string{"curl", "wget"}

func TestMain(m *testing.M) {
	for _, tool := range requiredTools {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: the end-to-end tests need %s on PATH: run scripts/install-deps.sh or apt-get install curl wget\n", tool)
			os.Exit(1)
		}
	}
	testbin.Main(m, "e2e", &binPath)
}

// commandEnv is the environment of every command the tests run: no
// connection settings from the caller's environment, and the binary on PATH
// as auth-session.
func commandEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "AUTH_SESSION_") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PATH="+filepath.Dir(binPath)+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// result is what a command did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs auth-session with args.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runIn(t, "", exec.Command(binPath, args...))
}

// sh runs script with /bin/sh in dir, as a user would type it.
func sh(t *testing.T, dir, script string) result {
	t.Helper()
	return runIn(t, dir, exec.Command("/bin/sh", "-c", script))
}

// runIn runs cmd in dir with commandEnv and the variables cmd.Env already
// holds, which win, for at most two minutes.
func runIn(t *testing.T, dir string, cmd *exec.Cmd) result {
	t.Helper()
	return runInFor(t, dir, cmd, 2*time.Minute)
}

// runInFor is runIn for at most timeout; a command still running then is
// killed and fails the test.
func runInFor(t *testing.T, dir string, cmd *exec.Cmd, timeout time.Duration) result {
	t.Helper()
	var stdout, stderr strings.Builder
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, append(commandEnv(), cmd.Env...), &stdout, &stderr
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() }) //nolint:errcheck
	defer stop()
	err := cmd.Wait()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("%v: killed after %s\nstdout:\n%s\nstderr:\n%s", cmd.Args, timeout, r.stdout, r.stderr)
	}
	if exitErr, ok := err.(*exec.ExitError); ok {
		r.code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return r
}

// site is a migrated database with an admin role for the server and a user
// with a password, both unique to the test.
type site struct {
	dbURL    string // superuser
	adminURL string
	user     string
	password string
}

// initialized is a database that the binary's init set up, which newSite
// copies for each test; the tests of init itself start from pgtest.NewDB.
var initialized = pgtest.NewTemplate("initialized", func(ctx context.Context, conn *pgx.Conn) error {
	cmd := exec.CommandContext(ctx, binPath, "init", "--url", conn.Config().ConnString())
	cmd.Env = commandEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("auth-session init: %w\n%s", err, out)
	}
	return nil
})

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{dbURL: initialized.NewDB(t), password: "pw-" + pgtest.UniqueName("x")}
	admin := pgtest.UniqueName("admin")
	s.user = pgtest.UniqueName("web_user")
	pgtest.MustExec(t, s.dbURL, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'adminpw' IN ROLE admin; CREATE ROLE %s LOGIN PASSWORD '%s'",
		admin, s.user, s.password))
	t.Cleanup(func() {
		// Roles belong to the cluster and outlive the test's database.
		pgtest.MustExec(t, s.dbURL, "DROP ROLE IF EXISTS "+admin+"; DROP ROLE IF EXISTS "+s.user)
	})
	s.adminURL = pgtest.WithUser(s.dbURL, admin, "adminpw")
	return s
}

// query runs a one-row query on the site's database as the superuser.
func (s *site) query(t *testing.T, q string, args []any, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, q, args...).Scan(dest...); err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
}

// serveProc is a running `auth-session serve`.
type serveProc struct {
	url string
	mu  sync.Mutex
	log strings.Builder
}

func (p *serveProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

var servingURL = regexp.MustCompile(`msg="serving HTTP" url=(\S+)`)

// startServe starts serve with args on a free loopback port and waits until
// it serves. At the end of the test it is stopped with SIGTERM, and must
// then shut down cleanly with exit 0.
func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	args = append([]string{"serve", "--http-addr", "127.0.0.1:0"}, args...)
	cmd := exec.Command(binPath, args...)
	cmd.Env = commandEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{}
	found := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			p.mu.Lock()
			p.log.WriteString(lines.Text() + "\n")
			p.mu.Unlock()
			if m := servingURL.FindStringSubmatch(lines.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stderr) //nolint:errcheck
	}()
	exited := make(chan error, 1)
	go func() {
		<-logDone
		exited <- cmd.Wait()
	}()
	select {
	case p.url = <-found:
	case err := <-exited:
		t.Fatalf("serve %v exited before serving (%v):\n%s", args, err, p.logs())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill() //nolint:errcheck
		t.Fatalf("serve %v did not start serving in 30s:\n%s", args, p.logs())
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("serve after SIGTERM: %v; want exit 0\n%s", err, p.logs())
			}
			if !strings.Contains(p.logs(), "msg=stopped") {
				t.Errorf("serve did not log its clean stop:\n%s", p.logs())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			t.Errorf("serve did not stop within 30s of SIGTERM:\n%s", p.logs())
		}
	})
	return p
}

// curlStatus is appended to curl commands so that the status can be checked.
const curlStatus = ` -sS -w '\nHTTP %{http_code}\n'`

func wantStatus(t *testing.T, what string, r result, status int) {
	t.Helper()
	if want := fmt.Sprintf("HTTP %d\n", status); !strings.HasSuffix(r.stdout, want) {
		t.Errorf("%s: want %s\n%s", what, strings.TrimSpace(want), r)
	}
}

// sessionValue returns the value part of a cookie line.
func sessionValue(t *testing.T, cookieLine string) string {
	t.Helper()
	value, ok := strings.CutPrefix(strings.TrimSpace(cookieLine), "session=")
	if !ok {
		t.Fatalf("not a session cookie line: %q", cookieLine)
	}
	value, _, _ = strings.Cut(value, ";")
	return value
}

// ownCluster starts a PostgreSQL of the test's own, for tests that change
// what every database of a cluster shares (roles) or that need its default
// database, and returns its superuser URL. It is removed when the test ends.
func ownCluster(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{StopWithProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove() }) //nolint:errcheck
	return c.SuperURL("postgres")
}
