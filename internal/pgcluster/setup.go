package pgcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Files Start keeps in the data directory.
const (
	superUserFile     = ".superuser-name"
	superPasswordFile = ".superuser-password"
	// settingsFile is rewritten at every start and included from
	// postgresql.conf, so the port and socket directory can change between
	// starts without editing initdb's file again.
	settingsFile = "pgcluster.conf"
	includeLine  = "include_if_exists = '" + settingsFile + "'"
	// The files of Options.TLS, rewritten at every start.
	tlsCertFile     = "pgcluster-server.crt"
	tlsKeyFile      = "pgcluster-server.key"
	tlsClientCAFile = "pgcluster-client-ca.crt"
)

// socketDirPrefix names the short temporary socket directories used when the
// data directory's path is too long for a Unix socket address.
const socketDirPrefix = "pgcluster-sock-"

// maxSocketPath keeps socket paths inside sun_path (108 bytes on Linux, 104 on
// the BSDs) with a margin.
const maxSocketPath = 100

// initdb creates the cluster in Dir, with the pg_hba.conf lines hba
// before initdb's.
func (c *Cluster) initdb(ctx context.Context, hostAuth string, hba []string) error {
	// Checked before chown, which must not take over somebody's files.
	if entries, err := os.ReadDir(c.Dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("initialize data directory %s: it is not empty and holds no PostgreSQL cluster; choose an empty or new directory", c.Dir)
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := c.run.Chown(c.Dir); err != nil {
		return err
	}
	if err := c.run.MakeTraversable(c.Dir); err != nil {
		return err
	}
	if c.SuperPassword == "" {
		c.SuperPassword = randomPassword()
	}
	// initdb wants an empty data directory, so the password file lives
	// outside it until initdb has read it.
	pwFile, err := os.CreateTemp("", "pgcluster-pw-")
	if err != nil {
		return fmt.Errorf("write superuser password file: %w", err)
	}
	defer os.Remove(pwFile.Name())
	_, err = pwFile.WriteString(c.SuperPassword + "\n")
	if err = errors.Join(err, pwFile.Close()); err != nil {
		return fmt.Errorf("write superuser password file: %w", err)
	}
	if err := c.run.Chown(pwFile.Name()); err != nil {
		return err
	}
	if err := c.run.MakeTraversable(pwFile.Name()); err != nil {
		return err
	}
	err = c.run.Run(ctx, c.log, "initdb",
		"-D", c.Dir,
		"-U", c.SuperUser,
		"--pwfile="+pwFile.Name(),
		"--auth-local=trust",
		"--auth-host="+hostAuth,
		"--encoding=UTF8",
		"--locale=C",
		"--no-sync", // throwaway data: skip the final fsync, which takes seconds
	)
	if err != nil {
		return fmt.Errorf("initialize data directory %s: %w", c.Dir, err)
	}
	if err := c.run.WriteFile(filepath.Join(c.Dir, superUserFile), c.SuperUser+"\n"); err != nil {
		return err
	}
	if err := c.run.WriteFile(filepath.Join(c.Dir, superPasswordFile), c.SuperPassword+"\n"); err != nil {
		return err
	}
	if len(hba) > 0 {
		path := filepath.Join(c.Dir, "pg_hba.conf")
		initdbHBA, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read pg_hba.conf: %w", err)
		}
		// The first line that matches a connection decides.
		content := "# Options.HBA, before initdb's lines.\n" + strings.Join(hba, "\n") + "\n\n" + string(initdbHBA)
		if err := c.run.WriteFile(path, content); err != nil {
			return err
		}
	}
	return nil
}

// loadCredentials reads the superuser name and password an earlier Start
// stored in Dir; missing files leave the values from Options.
func (c *Cluster) loadCredentials() {
	if b, err := os.ReadFile(filepath.Join(c.Dir, superUserFile)); err == nil {
		c.SuperUser = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(c.Dir, superPasswordFile)); err == nil {
		c.SuperPassword = strings.TrimSpace(string(b))
	}
}

// startServer starts the server with pg_ctl. With port 0 it picks a free
// port, and picks again if another process took it before the server bound it.
func (c *Cluster) startServer(ctx context.Context, port int) error {
	if err := c.ensureInclude(); err != nil {
		return err
	}
	if err := c.chooseSocketDir(); err != nil {
		return err
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		c.Port = port
		if port == 0 {
			p, err := FreePort()
			if err != nil {
				return err
			}
			c.Port = p
		}
		if err := c.writeSettings(); err != nil {
			return err
		}
		if err := c.writeTLSFiles(); err != nil {
			return err
		}
		logStart := fileSize(c.LogPath())
		err := c.run.Run(ctx, c.log, "pg_ctl", "-D", c.Dir, "-l", c.LogPath(), "-w", "-t", "120", "start")
		if err == nil {
			return nil
		}
		serverLog := c.serverLogSince(logStart)
		if port == 0 && attempt < attempts && portTaken(serverLog) && ctx.Err() == nil {
			continue
		}
		return fmt.Errorf("start PostgreSQL in %s on port %d: %w%s", c.Dir, c.Port, err, serverLogSection(serverLog))
	}
}

// ensureInclude makes postgresql.conf read the settings file, once.
func (c *Cluster) ensureInclude() error {
	path := filepath.Join(c.Dir, "postgresql.conf")
	conf, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read server settings: %w", err)
	}
	if strings.Contains(string(conf), includeLine) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open server settings: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Throwaway-cluster settings, rewritten by pgcluster at every start.\n%s\n", includeLine)
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("append to server settings: %w", err)
	}
	return nil
}

// chooseSocketDir puts the Unix socket in Dir when the path is short enough,
// else in a new short temporary directory.
func (c *Cluster) chooseSocketDir() error {
	if len(c.Dir)+len("/.s.PGSQL.65535") < maxSocketPath {
		c.SocketDir = c.Dir
		return nil
	}
	dir, err := os.MkdirTemp("", socketDirPrefix)
	if err != nil {
		return fmt.Errorf("create socket directory: %w", err)
	}
	c.SocketDir, c.tempSocket = dir, true
	if err := c.run.Chown(dir); err != nil {
		return err
	}
	return c.run.MakeTraversable(dir)
}

// writeSettings writes the settings file for this start. Durability is
// switched off because the data is disposable and speed matters in tests.
func (c *Cluster) writeSettings() error {
	settings := []string{
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(c.Port),
		"unix_socket_directories = " + ConfString(c.SocketDir),
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"max_connections = 300",
		"shared_buffers = '128MB'",
	}
	if c.tls != nil {
		settings = append(settings, "ssl = on",
			"ssl_cert_file = "+ConfString(tlsCertFile), "ssl_key_file = "+ConfString(tlsKeyFile))
		if len(c.tls.ClientCA) > 0 {
			settings = append(settings, "ssl_ca_file = "+ConfString(tlsClientCAFile))
		}
	}
	settings = append(settings, c.settings...)
	content := "# Written by pgcluster at every start; edits are overwritten.\n" + strings.Join(settings, "\n") + "\n"
	return c.run.WriteFile(filepath.Join(c.Dir, settingsFile), content)
}

// writeTLSFiles writes the files of Options.TLS into Dir, readable by the
// server user only, as the server requires of its key.
func (c *Cluster) writeTLSFiles() error {
	if c.tls == nil {
		return nil
	}
	files := map[string][]byte{tlsCertFile: c.tls.Cert, tlsKeyFile: c.tls.Key}
	if len(c.tls.ClientCA) > 0 {
		files[tlsClientCAFile] = c.tls.ClientCA
	}
	for name, content := range files {
		if err := c.run.WriteFile(filepath.Join(c.Dir, name), string(content)); err != nil {
			return err
		}
	}
	return nil
}

// waitReady waits until the superuser can connect over TCP. pg_ctl -w has
// already waited for startup, so retrying covers only the brief window in
// which the server still refuses connections.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := ping(ctx, c.SuperURL("postgres"))
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		startingUp := errors.As(err, &pgErr) && pgErr.Code == "57P03" // cannot_connect_now
		if errors.As(err, &pgErr) && !startingUp {
			// The server answered with a refusal (such as a wrong
			// password); waiting will not change it.
			return fmt.Errorf("connect to PostgreSQL at 127.0.0.1:%d as %q: %w (check the superuser password stored in %s)",
				c.Port, c.SuperUser, err, filepath.Join(c.Dir, superPasswordFile))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("connect to PostgreSQL at 127.0.0.1:%d as %q: %w%s",
				c.Port, c.SuperUser, err, serverLogSection(c.serverLogSince(-1)))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// readPostmasterPID reads the port (line 4) and first socket directory
// (line 5) of a running server from its postmaster.pid.
func readPostmasterPID(dir string) (port int, socketDir string, err error) {
	path := filepath.Join(dir, "postmaster.pid")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", fmt.Errorf("read port of running server: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 {
		return 0, "", fmt.Errorf("read port of running server: %s has %d lines, want at least 5", path, len(lines))
	}
	port, err = strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return 0, "", fmt.Errorf("read port of running server from %s: %w", path, err)
	}
	return port, strings.TrimSpace(lines[4]), nil
}

// serverLogSince returns the server log written after offset, or its last
// few kilobytes when offset is negative.
func (c *Cluster) serverLogSince(offset int64) string {
	f, err := os.Open(c.LogPath())
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxTail = 4096
	if size := fileSize(c.LogPath()); offset < 0 || size-offset > maxTail {
		offset = max(size-maxTail, 0)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func serverLogSection(log string) string {
	if strings.TrimSpace(log) == "" {
		return ""
	}
	return "\n  server log:" + IndentTail(log)
}

// portTaken recognizes the server's complaint about a port in use.
func portTaken(serverLog string) bool {
	return strings.Contains(serverLog, "Address already in use") ||
		strings.Contains(serverLog, "could not create any TCP/IP sockets")
}

// FreePort asks the kernel for an unused port. Another process may take it
// before the server binds it; startServer retries for that case.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// ConfString quotes a value for postgresql.conf.
func ConfString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
