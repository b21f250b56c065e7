package cli

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/internal/lazyregexp"
	"github.com/auth-session/auth-session/pkg/auth"
)

// cookieJarHosts are the hosts a written cookie jar sends the session to.
// The jar's domain fields must match the URL's host exactly, so the HTTP
// interface's usual local names are both listed.
var cookieJarHosts = []string{"localhost", "127.0.0.1"}

// cookieJar is a Netscape cookie file being written: the format that
// curl --cookie FILE and wget --load-cookies FILE read. It is opened before
// the session is created, so a path that is a directory or in a directory
// that cannot be written fails before anything is written to the database.
// login writes it inside the session's transaction, before the commit, so a
// jar that cannot be written after all rolls the session back: no session is
// left whose cookie nobody has. It is written to a temporary file renamed
// into place, so a reader never sees half a jar and an existing file with
// looser permissions is replaced rather than reused.
type cookieJar struct {
	path  string
	hosts []string
	// tmp is the temporary file the next write fills; nil once renamed.
	tmp *os.File
	// written is set once the jar is in place at path.
	written bool
}

// openCookieJar checks path and creates the temporary file next to it, with
// mode 0600: the jar holds a live credential. The jar will name hosts, or
// cookieJarHosts when there are none.
func openCookieJar(path string, hosts []string) (*cookieJar, error) {
	if len(hosts) == 0 {
		hosts = cookieJarHosts
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, usageErrorf("invalid --cookie-jar %q: a directory; want the name of a file to write, such as %q",
			path, filepath.Join(path, "jar.txt"))
	}
	j := &cookieJar{path: path, hosts: hosts}
	if err := j.createTemp(); err != nil {
		return nil, err
	}
	return j, nil
}

func (j *cookieJar) createTemp() error {
	tmp, err := os.CreateTemp(filepath.Dir(j.path), ".cookie-jar-*")
	if err != nil {
		return fmt.Errorf("write cookie jar %q: %w", j.path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write cookie jar %q: %w", j.path, err)
	}
	j.tmp = tmp
	return nil
}

// abort removes the temporary file, if any is left.
func (j *cookieJar) abort() {
	if j.tmp != nil {
		j.tmp.Close()
		os.Remove(j.tmp.Name())
		j.tmp = nil
	}
}

// unwrite removes the jar written for a session whose transaction then
// failed: its cookie would authenticate nothing.
func (j *cookieJar) unwrite() {
	if j.written {
		os.Remove(j.path)
		j.written = false
	}
}

// write writes the session cookie for each of the jar's hosts and moves the
// file into place. It may be called again, for a retried transaction. A host
// written .example.com is sent the cookie with its subdomains too (the
// format's second field).
func (j *cookieJar) write(value string, expiresAt time.Time, secure bool) error {
	if j.tmp == nil {
		if err := j.createTemp(); err != nil {
			return err
		}
	}
	var b strings.Builder
	b.WriteString("# Netscape HTTP Cookie File\n# Written by auth-session login. It holds a session credential: keep it private.\n")
	for _, host := range j.hosts {
		subdomains := strings.HasPrefix(host, ".")
		// No "#HttpOnly_" prefix: wget would read that line as a comment.
		fmt.Fprintf(&b, "%s\t%s\t/\t%s\t%d\t%s\t%s\n",
			host, netscapeBool(subdomains), netscapeBool(secure), expiresAt.Unix(), auth.CookieName, value)
	}
	_, err := j.tmp.WriteString(b.String())
	if cerr := j.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(j.tmp.Name(), j.path)
	}
	if err != nil {
		os.Remove(j.tmp.Name())
		j.tmp = nil
		return fmt.Errorf("write cookie jar %q: %w", j.path, err)
	}
	j.tmp = nil
	j.written = true
	return nil
}

func netscapeBool(b bool) string { return strings.ToUpper(fmt.Sprint(b)) }

// jarHostsFromFlags reads --domain: a host name or IP address, with a
// leading dot for its subdomains too, without scheme, port or path.
func jarHostsFromFlags(c *cli.Context) ([]string, error) {
	host := c.String("domain")
	if host == "" {
		return nil, nil
	}
	if c.String("cookie-jar") == "" {
		return nil, usageErrorf("--domain names the host in the --cookie-jar file: give --cookie-jar FILE too")
	}
	name := strings.TrimPrefix(host, ".")
	if ip, err := netip.ParseAddr(name); err == nil {
		if strings.HasPrefix(host, ".") {
			return nil, usageErrorf("invalid --domain %q: an IP address has no subdomains; write it without the dot", host)
		}
		return []string{ip.String()}, nil
	}
	if !hostName().MatchString(name) {
		return nil, usageErrorf("invalid --domain %q: want the host name or IP address of the HTTP interface, such as auth.example.com, .example.com or 10.0.0.5, without scheme, port or path", host)
	}
	return []string{strings.ToLower(host)}, nil
}

// hostName is a DNS name: labels of letters, digits and inner hyphens.
var hostName = lazyregexp.New(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
