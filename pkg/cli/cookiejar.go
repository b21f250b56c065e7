package cli

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/auth-session/auth-session/pkg/auth"
)

// cookieJarHosts are the hosts a written cookie jar sends the session to.
// The jar's domain fields must match the URL's host exactly, so the HTTP
// interface's usual local names are both listed.
var cookieJarHosts = []string{"localhost", "127.0.0.1"}

// cookieJar is a Netscape cookie file being written: the format that
// curl --cookie FILE and wget --load-cookies FILE read. It is opened before
// the session is created, so an unwritable path fails before anything is
// written to the database, and renamed into place at the end, so a reader
// never sees half a jar and an existing file with looser permissions is
// replaced rather than reused.
type cookieJar struct {
	path  string
	hosts []string
	tmp   *os.File
}

// openCookieJar creates the temporary file next to path, with mode 0600:
// the jar holds a live credential. The jar will name hosts, or
// cookieJarHosts when there are none.
func openCookieJar(path string, hosts []string) (*cookieJar, error) {
	if len(hosts) == 0 {
		hosts = cookieJarHosts
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cookie-jar-*")
	if err != nil {
		return nil, fmt.Errorf("write cookie jar %q: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("write cookie jar %q: %w", path, err)
	}
	return &cookieJar{path: path, hosts: hosts, tmp: tmp}, nil
}

// abort removes the temporary file; it is a no-op after commit.
func (j *cookieJar) abort() {
	j.tmp.Close()
	os.Remove(j.tmp.Name())
}

// commit writes the session cookie for each of the jar's hosts and moves
// the file into place. A host written .example.com is sent the cookie with
// its subdomains too (the format's second field).
func (j *cookieJar) commit(value string, expiresAt time.Time, secure bool) error {
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
		return fmt.Errorf("write cookie jar %q: %w", j.path, err)
	}
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
	if !hostName.MatchString(name) {
		return nil, usageErrorf("invalid --domain %q: want the host name or IP address of the HTTP interface, such as auth.example.com, .example.com or 10.0.0.5, without scheme, port or path", host)
	}
	return []string{strings.ToLower(host)}, nil
}

// hostName is a DNS name: labels of letters, digits and inner hyphens.
var hostName = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
