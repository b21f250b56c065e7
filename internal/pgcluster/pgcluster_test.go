package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// mustStart starts a cluster and removes it when the test ends.
func mustStart(t *testing.T, opts Options) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("cluster in %s on port %d ready after %v (reused: %v)", c.Dir, c.Port, time.Since(began).Round(time.Millisecond), c.Reused)
	t.Cleanup(func() {
		if err := c.Remove(); err != nil {
			t.Errorf("Remove: %v", err)
		}
	})
	return c
}

// connectErr connects to url and runs a query, returning what went wrong.
func connectErr(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

func TestBinDir(t *testing.T) {
	dir, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"initdb", "pg_ctl"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("BinDir() = %s, without %s: %v", dir, name, err)
		}
	}
}

func TestStartSCRAM(t *testing.T) {
	t.Parallel()
	c := mustStart(t, Options{})

	if c.SuperUser != DefaultSuperUser || c.SuperPassword == "" {
		t.Errorf("superuser = %q with password %q, want %q with a random password", c.SuperUser, c.SuperPassword, DefaultSuperUser)
	}
	if err := connectErr(c.SuperURL("postgres")); err != nil {
		t.Fatalf("connect with the superuser password: %v", err)
	}
	err := connectErr(c.URL(c.SuperUser, "wrong", "postgres"))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Errorf("connect with a wrong password: err = %v, want SQLSTATE 28P01 (invalid_password)", err)
	}

	if err := c.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Remove, stat %s: err = %v, want not exist", c.Dir, err)
	}
	if err := connectErr(c.SuperURL("postgres")); err == nil {
		t.Error("after Remove, the server still accepts connections")
	}
}

func TestStartTrust(t *testing.T) {
	t.Parallel()
	c := mustStart(t, Options{HostAuth: AuthTrust, SuperUser: "admin", SuperPassword: "s3cret"})

	if c.SuperUser != "admin" || c.SuperPassword != "s3cret" {
		t.Errorf("superuser = %q/%q, want admin/s3cret", c.SuperUser, c.SuperPassword)
	}
	if err := connectErr(c.URL("admin", "wrong", "postgres")); err != nil {
		t.Errorf("trust auth: connect with a wrong password: %v", err)
	}
	if err := connectErr(c.URL("admin", "", "postgres")); err != nil {
		t.Errorf("trust auth: connect without a password: %v", err)
	}
}

func TestStartReusesRunningDir(t *testing.T) {
	t.Parallel()
	// A path with a space and a quote checks the quoting in settings files
	// and command lines.
	dir := filepath.Join(t.TempDir(), "data dir'x")
	first := mustStart(t, Options{Dir: dir, SuperPassword: "first-pass"})
	if first.Reused {
		t.Error("first Start reported Reused")
	}

	second := mustStart(t, Options{Dir: dir})
	if !second.Reused {
		t.Error("second Start on a running Dir did not report Reused")
	}
	if second.Port != first.Port || second.SuperPassword != "first-pass" || second.SocketDir != first.SocketDir {
		t.Errorf("reused cluster = port %d, password %q, socket dir %q; want %d, %q, %q",
			second.Port, second.SuperPassword, second.SocketDir, first.Port, "first-pass", first.SocketDir)
	}
	if err := connectErr(second.SuperURL("postgres")); err != nil {
		t.Fatalf("connect to reused cluster: %v", err)
	}

	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := connectErr(first.SuperURL("postgres")); err == nil {
		t.Fatal("after Stop, the server still accepts connections")
	}
	if err := first.Stop(); err != nil {
		t.Errorf("Stop on a stopped cluster: %v", err)
	}

	// A stopped cluster is started again, keeping its data and password.
	third := mustStart(t, Options{Dir: dir})
	if third.Reused || third.SuperPassword != "first-pass" {
		t.Errorf("restart: Reused = %v, password %q; want false, %q", third.Reused, third.SuperPassword, "first-pass")
	}
	if err := connectErr(third.SuperURL("postgres")); err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	if err := third.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		t.Errorf("Remove deleted a data directory it did not create: %v", err)
	}
}

func TestStartLongDirUsesShortSocketDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), strings.Repeat("long-name-", 10))
	c := mustStart(t, Options{Dir: dir})
	if c.SocketDir == c.Dir || len(c.SocketDir) >= maxSocketPath-len("/.s.PGSQL.65535") {
		t.Errorf("socket dir = %q for data dir of %d bytes, want a short temporary one", c.SocketDir, len(c.Dir))
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.SocketDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Stop, stat socket dir: err = %v, want not exist", err)
	}
}

func TestStartRejectsUnknownHostAuth(t *testing.T) {
	if _, err := Start(context.Background(), Options{HostAuth: "md5"}); err == nil {
		t.Error("Start with HostAuth md5 succeeded, want an error")
	}
}

// helperEnv makes the test binary act as a process that starts a cluster with
// StopWithProcess and exits without cleaning up.
const helperEnv = "PGCLUSTER_TEST_HELPER"

func TestStopWithProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "1" {
		c, err := Start(context.Background(), Options{StopWithProcess: true})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Printf("%s\n%s\n", c.Dir, c.SuperURL("postgres"))
		os.Exit(0) // as a panicking or killed test binary would: no Remove
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopWithProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	dir, url, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")

	deadline := time.Now().Add(30 * time.Second)
	for {
		_, statErr := os.Stat(dir)
		connErr := connectErr(url)
		if errors.Is(statErr, os.ErrNotExist) && connErr != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after its process exited, data dir %s: stat err = %v; connect err = %v", dir, statErr, connErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestURL(t *testing.T) {
	c := &Cluster{Port: 5433, SuperUser: "postgres", SuperPassword: "p@ss/word:1"}
	tests := []struct {
		name                     string
		user, password, database string
		want                     string
	}{
		{"plain", "web", "pw", "app", "postgres://web:pw@127.0.0.1:5433/app?sslmode=disable"},
		{"no password", "web", "", "app", "postgres://web@127.0.0.1:5433/app?sslmode=disable"},
		{"escaped", "we b@x", "a:b/c?d", "my db", "postgres://we%20b%40x:a%3Ab%2Fc%3Fd@127.0.0.1:5433/my%20db?sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.URL(tt.user, tt.password, tt.database)
			if got != tt.want {
				t.Errorf("URL() = %s, want %s", got, tt.want)
			}
			cfg, err := pgconn.ParseConfig(got)
			if err != nil {
				t.Fatalf("pgconn.ParseConfig(%s): %v", got, err)
			}
			if cfg.User != tt.user || cfg.Password != tt.password || cfg.Database != tt.database || cfg.Port != 5433 {
				t.Errorf("parsed back as %s:%s/%s port %d", cfg.User, cfg.Password, cfg.Database, cfg.Port)
			}
		})
	}
	cfg, err := pgconn.ParseConfig(c.SuperURL("postgres"))
	if err != nil || cfg.Password != c.SuperPassword {
		t.Errorf("SuperURL password parsed as %q (err %v), want %q", cfg.Password, err, c.SuperPassword)
	}
}

func TestStartRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Start on a non-empty non-cluster dir: err = %v, want one saying it is not empty", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "keep.txt")); statErr != nil {
		t.Errorf("Start touched the existing file: %v", statErr)
	}
}

func TestStartOnTakenPortFailsAndCleansUp(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	c, err := Start(context.Background(), Options{Port: port})
	if err == nil {
		c.Remove()
		t.Fatalf("Start on taken port %d succeeded", port)
	}
	if !strings.Contains(err.Error(), "Address already in use") {
		t.Errorf("error does not quote the server log: %v", err)
	}
	dir := regexp.MustCompile(`/\S*pgcluster-\d+`).FindString(err.Error())
	if dir == "" {
		t.Fatalf("error does not name the data directory: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Start left %s behind (stat err = %v)", dir, err)
	}
}
