package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auth-session/auth-session/internal/pgcluster"
	"github.com/auth-session/auth-session/internal/pgcluster/ha"
	"github.com/auth-session/auth-session/internal/pgtest"
)

// replicated is a primary with a streaming hot standby, both real
// PostgreSQL servers of the test's own, with a database set up for
// auth-session through the URL that lists both.
type replicated struct {
	primary, standby *pgcluster.Cluster
	super            string // superuser URL listing both servers, read-write
	admin            string // the admin role's URL listing both servers
	adminPassword    string // its password
	user, password   string // a role with a password
}

// hostsURL is a URL of database on every cluster, in order, as user, with
// target_session_attrs.
func hostsURL(clusters []*pgcluster.Cluster, user, password, database, attrs string) string {
	addrs := make([]string, len(clusters))
	for i, c := range clusters {
		addrs[i] = c.Addr()
	}
	return ha.HostsURL(addrs, user, password, database, attrs)
}

// startReplicated starts a primary and a standby, synchronous or not. With
// sync, every commit on the primary waits for the standby to have it on
// disk (synchronous_commit on), as a deployment that must lose no login
// would run; pgcluster's default, off, would not wait.
func startReplicated(t *testing.T, sync bool) *replicated {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var settings []string
	if sync {
		settings = []string{"synchronous_commit = on"}
	}
	primary, err := pgcluster.Start(ctx, pgcluster.Options{Settings: settings, StopWithProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Remove() }) //nolint:errcheck
	standby, err := ha.StartStandby(ctx, primary, ha.StandbyOptions{Sync: sync, Settings: settings, StopWithProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Remove() }) //nolint:errcheck

	both := []*pgcluster.Cluster{primary, standby}
	rep := &replicated{primary: primary, standby: standby,
		super: hostsURL(both, primary.SuperUser, primary.SuperPassword, "app", "read-write"),
		user:  "web_user", password: "pw-" + pgtest.UniqueName("x")}
	pgtest.MustExec(t, primary.SuperURL("postgres"), "CREATE DATABASE app")
	if r := run(t, "init", "--url", rep.super); r.code != 0 {
		t.Fatalf("init: %s", r)
	}
	// A password of its own: these tests run beside others whose servers
	// may take a port this cluster freed, and must be refused there.
	rep.adminPassword = "adminpw-" + pgtest.UniqueName("x")
	pgtest.MustExec(t, primary.SuperURL("app"), fmt.Sprintf(
		"CREATE ROLE web_admin LOGIN PASSWORD '%s' IN ROLE admin; CREATE ROLE web_user LOGIN PASSWORD '%s'; CREATE ROLE gone_user LOGIN",
		rep.adminPassword, rep.password))
	rep.admin = hostsURL(both, "web_admin", rep.adminPassword, "app", "read-write")
	return rep
}

// hit is one request of the load and its answer.
type hit struct {
	// at is when the request was sent, answered when its answer came.
	at, answered time.Time
	status       int
}

// whoami sends one authenticated whoami and returns its status.
func whoami(client *http.Client, base, cookie string) int {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v2/whoami", nil)
	req.Header.Set("Cookie", strings.TrimSpace(cookie))
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	resp.Body.Close()
	return resp.StatusCode
}

// formLogin logs in through the HTTP interface and returns the status and,
// on 200, the session cookie.
func formLogin(client *http.Client, base, user, password string) (int, string) {
	resp, err := client.PostForm(base+"/api/v2/login/", url.Values{"username": {user}, "password": {password}})
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body) //nolint:errcheck
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			return resp.StatusCode, "session=" + c.Value
		}
	}
	return resp.StatusCode, ""
}

// TestFailover kills the primary under authenticated load and promotes the
// standby, with the real servers, through a URL that lists both.
func TestFailover(t *testing.T) {
	t.Parallel()
	for _, synchronous := range []bool{false, true} {
		name := map[bool]string{false: "async", true: "sync"}[synchronous]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rep := startReplicated(t, synchronous)
			live, revoked := seedFailover(t, rep.admin, rep.user)
			srv := startServe(t, "--url", rep.admin, "--insecure")
			f := startFailoverLoad(srv.url, live, revoked, rep.user, rep.password)

			time.Sleep(1500 * time.Millisecond)
			crashed := time.Now()
			if err := rep.primary.Crash(); err != nil {
				t.Fatal(err)
			}
			// pg_ctl stop -m immediate -w returns once the server is gone;
			// until then a backend may still answer.
			gone := time.Now()
			time.Sleep(time.Second)
			// pg_ctl promote -w returns once it sees the promotion done,
			// polling: the server may answer writes a little before.
			promoting := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := rep.standby.Promote(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			promoted := time.Now()
			time.Sleep(3 * time.Second)
			f.finish()

			firstOK := f.check(t, srv, crashed, synchronous)
			if h, ok := f.okBetween(gone, promoting); ok {
				t.Errorf("a request sent %v before the promotion began, when the primary was gone, was answered 200 %v before it, from a server that was not there",
					promoting.Sub(h.at), promoting.Sub(h.answered))
			}
			checkRecoveryLogged(t, srv, promoting)
			t.Logf("%s: unavailable for %v (crash to first 200; promoted by hand 1s after the crash), first 200 %v after the promotion",
				name, firstOK.Sub(crashed).Round(time.Millisecond), firstOK.Sub(promoted).Round(time.Millisecond))
			checkCommandsRecover(t, srv, rep.admin, rep.user)
		})
	}
}

// seedFailover logs in sessions of user (live) and one of gone_user that is
// then logged out (revoked), through the commands.
func seedFailover(t *testing.T, adminURL, user string) (live []string, revoked string) {
	t.Helper()
	for range 8 {
		r := run(t, "login", user, "--url", adminURL, "--only-cookie")
		if r.code != 0 {
			t.Fatalf("login: %s", r)
		}
		live = append(live, r.stdout)
	}
	r := run(t, "login", "gone_user", "--url", adminURL, "--only-cookie")
	if r.code != 0 {
		t.Fatalf("login: %s", r)
	}
	if r := run(t, "logout", "gone_user", "--url", adminURL); r.code != 0 {
		t.Fatalf("logout: %s", r)
	}
	return live, r.stdout
}

// failoverLoad is authenticated whoami load on live and revoked cookies
// and a stream of API logins, recording every answer.
type failoverLoad struct {
	stop    chan struct{}
	workers sync.WaitGroup
	mu      sync.Mutex
	hits    map[string][]hit // by the kind of cookie: live, revoked, login
	minted  []string         // cookies of the API logins that answered 200
}

func (f *failoverLoad) record(kind string, h hit) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits[kind] = append(f.hits[kind], h)
}

func (f *failoverLoad) of(kind string) []hit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hit(nil), f.hits[kind]...)
}

func startFailoverLoad(base string, live []string, revoked, user, password string) *failoverLoad {
	f := &failoverLoad{hits: map[string][]hit{}, stop: make(chan struct{})}
	worker := func(kind string, next func(i int) string) {
		f.workers.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-f.stop:
					return
				default:
				}
				sent := time.Now()
				status := whoami(client, base, next(i))
				f.record(kind, hit{at: sent, answered: time.Now(), status: status})
			}
		})
	}
	for w := range 3 {
		worker("live", func(i int) string { return live[(i+w)%len(live)] })
	}
	worker("revoked", func(int) string { return revoked })
	f.workers.Go(func() {
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-f.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			sent := time.Now()
			status, cookie := formLogin(client, base, user, password)
			f.record("login", hit{at: sent, answered: time.Now(), status: status})
			if status == http.StatusOK {
				f.mu.Lock()
				f.minted = append(f.minted, cookie)
				f.mu.Unlock()
			}
		}
	})
	return f
}

// okBetween returns a live whoami sent after from and answered 200 before
// to, if there is one. A request sent before to may be answered 200 after
// it: it waited for a connection that the promotion then gave it.
func (f *failoverLoad) okBetween(from, to time.Time) (hit, bool) {
	for _, h := range f.of("live") {
		if h.at.After(from) && h.answered.Before(to) && h.status == http.StatusOK {
			return h, true
		}
	}
	return hit{}, false
}

func (f *failoverLoad) finish() {
	close(f.stop)
	f.workers.Wait()
}

// check asserts what must hold through a failover that began at crashed,
// and returns when the first 200 came after the outage began. With
// synchronous replication no revoked session may be accepted and no login
// that answered 200 may be lost.
func (f *failoverLoad) check(t *testing.T, srv *serveProc, crashed time.Time, synchronous bool) time.Time {
	t.Helper()
	// The outage begins with the first failure after the crash (a request
	// in flight may still have been answered); it ends with the first 200
	// after that.
	var outageBegan, firstOK time.Time
	for _, h := range f.of("live") {
		switch {
		case !h.at.After(crashed):
		case outageBegan.IsZero() && h.status != http.StatusOK:
			outageBegan = h.at
		case !outageBegan.IsZero() && h.status == http.StatusOK && (firstOK.IsZero() || h.at.Before(firstOK)):
			firstOK = h.at
		}
	}
	for _, kind := range []string{"live", "revoked", "login"} {
		counts := map[int]int{}
		for _, h := range f.of(kind) {
			counts[h.status]++
			if h.status != 200 && h.status != 401 && h.status != 503 {
				t.Errorf("%s: status %d at %v after the crash; want 200, 401 or 503", kind, h.status, h.at.Sub(crashed).Round(time.Millisecond))
			}
		}
		t.Logf("%s: answers by status %v", kind, counts)
		wantNone := map[string]int{"live": 401, "revoked": 200}[kind]
		if wantNone != 0 && counts[wantNone] > 0 && (synchronous || kind == "live") {
			t.Errorf("%s cookie answered %d %d times; want never", kind, wantNone, counts[wantNone])
		}
	}
	switch {
	case outageBegan.IsZero():
		t.Fatalf("no request failed after the crash: was the primary crashed?")
	case firstOK.IsZero():
		t.Fatalf("no 200 after the crash:\n%s", srv.logs())
	}
	client := &http.Client{Timeout: 5 * time.Second}
	lost := 0
	for _, c := range f.minted {
		if whoami(client, srv.url, c) != http.StatusOK {
			lost++
		}
	}
	t.Logf("%d API logins answered 200, %d of them lost in the failover", len(f.minted), lost)
	if synchronous && lost > 0 {
		t.Errorf("%d of %d sessions that an API login returned were lost with synchronous replication", lost, len(f.minted))
	}
	if len(f.minted) == 0 {
		t.Errorf("no API login succeeded during the test")
	}
	return firstOK
}

// checkCommandsRecover runs commands through the URL after a failover:
// they find the new primary by themselves.
func checkCommandsRecover(t *testing.T, srv *serveProc, adminURL, user string) {
	t.Helper()
	if r := run(t, "list", "--url", adminURL, "--user", user, "--format", "tsv"); r.code != 0 {
		t.Errorf("list after the failover: %s", r)
	}
	r := run(t, "login", user, "--url", adminURL, "--only-cookie")
	if r.code != 0 {
		t.Errorf("login after the failover: %s", r)
		return
	}
	if got := whoami(&http.Client{Timeout: 5 * time.Second}, srv.url, r.stdout); got != http.StatusOK {
		t.Errorf("whoami with a cookie minted after the failover: %d; want 200", got)
	}
}

var recoveryLine = regexp.MustCompile(`(?m)^time=(\S+) .*msg="database available again"`)

// checkRecoveryLogged checks that serve logged the end of the outage once a
// primary could be there, from ready on. (An end logged earlier is not an
// error here: a connection begun before the crash can complete during it.)
func checkRecoveryLogged(t *testing.T, srv *serveProc, ready time.Time) {
	t.Helper()
	// serve logs to the millisecond.
	ready = ready.Truncate(time.Millisecond)
	for _, m := range recoveryLine.FindAllStringSubmatch(srv.logs(), -1) {
		at, err := time.Parse(time.RFC3339, m[1])
		if err != nil {
			t.Fatalf("serve's log line time=%s: %v", m[1], err)
		}
		if !at.Before(ready) {
			return
		}
	}
	t.Errorf("serve did not log the database available again after %s:\n%s",
		ready.UTC().Format(time.RFC3339Nano), serveEvents(srv.logs()))
}

// serveEvents is serve's log without its request lines.
func serveEvents(logs string) string {
	var events []string
	for _, line := range strings.Split(logs, "\n") {
		if line != "" && !strings.Contains(line, `msg="http request"`) {
			events = append(events, line)
		}
	}
	return strings.Join(events, "\n")
}
