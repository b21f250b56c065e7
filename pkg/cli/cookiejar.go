package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	path string
	tmp  *os.File
}

// openCookieJar creates the temporary file next to path, with mode 0600:
// the jar holds a live credential.
func openCookieJar(path string) (*cookieJar, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cookie-jar-*")
	if err != nil {
		return nil, fmt.Errorf("write cookie jar %q: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("write cookie jar %q: %w", path, err)
	}
	return &cookieJar{path: path, tmp: tmp}, nil
}

// abort removes the temporary file; it is a no-op after commit.
func (j *cookieJar) abort() {
	j.tmp.Close()
	os.Remove(j.tmp.Name())
}

// commit writes the session cookie for every cookieJarHosts and moves the
// file into place.
func (j *cookieJar) commit(value string, expiresAt time.Time, secure bool) error {
	var b strings.Builder
	b.WriteString("# Netscape HTTP Cookie File\n# Written by auth-session login. It holds a session credential: keep it private.\n")
	for _, host := range cookieJarHosts {
		// No "#HttpOnly_" prefix: wget would read that line as a comment.
		fmt.Fprintf(&b, "%s\tFALSE\t/\t%s\t%d\t%s\t%s\n",
			host, strings.ToUpper(fmt.Sprint(secure)), expiresAt.Unix(), auth.CookieName, value)
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
