package cli

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The connection settings come from --url (or AUTH_SESSION_URL), the
// --host, --port, --sql-user and --database flags, --certs-dir, and libpq's
// environment.
// As with libpq, the flags are written into the connection string itself
// rather than patched into the parsed configuration: that way the password
// file is searched for the host, port, user and database that will really
// be used. pgconn applies URL query parameters and later keywords over
// earlier parts.

// setting is one keyword of a connection string and its value.
type setting struct{ key, value string }

// connString returns o.URL with the flags' overrides written into it.
func (o ConnOptions) connString() string {
	return appendSettings(o.URL, []setting{
		{"host", o.Host}, {"port", o.Port}, {"user", o.User}, {"dbname", o.Database},
	})
}

// appendSettings writes settings into the connection string s, a URL or
// keyword/value pairs, after what it says; empty values are left out.
func appendSettings(s string, settings []setting) string {
	if isURL(s) {
		sep := "?"
		if strings.Contains(s, "?") {
			sep = "&"
		}
		for _, kv := range settings {
			if kv.value != "" {
				s += sep + kv.key + "=" + url.QueryEscape(kv.value)
				sep = "&"
			}
		}
		return s
	}
	for _, kv := range settings {
		if kv.value != "" {
			s += " " + kv.key + "='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(kv.value) + "'"
		}
	}
	return strings.TrimSpace(s)
}

// certsDirSettings are the TLS settings a certificate directory in
// CockroachDB's layout gives a connection as user: sslrootcert ca.crt,
// sslcert client.USER.crt, sslkey client.USER.key and sslmode=verify-full.
// A missing file is a usage error that names it; with ifClientCert, a
// directory without client.USER.crt gives no settings (nil) instead.
func certsDirSettings(dir, user string, ifClientCert bool) ([]setting, error) {
	ca := filepath.Join(dir, "ca.crt")
	cert := filepath.Join(dir, "client."+user+".crt")
	key := filepath.Join(dir, "client."+user+".key")
	if _, err := os.Stat(cert); ifClientCert && errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	for _, f := range []string{ca, cert, key} {
		_, err := os.Stat(f)
		if err == nil {
			continue
		}
		problem := fmt.Sprintf("has no %s", filepath.Base(f))
		if !errors.Is(err, os.ErrNotExist) {
			problem = fmt.Sprintf("%s: %v", filepath.Base(f), errors.Unwrap(err))
		}
		return nil, usageErrorf("--certs-dir %s %s (%s): to connect as database user %q it needs ca.crt (the CA of the server's certificate), "+
			"client.%s.crt and client.%s.key, as CockroachDB names them", shellQuote(dir), problem, f, user, user, user)
	}
	return []setting{{"sslmode", "verify-full"}, {"sslrootcert", ca}, {"sslcert", cert}, {"sslkey", key}}, nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// sslModes are the sslmode values libpq and pgx accept.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// checkConnSettings names the part of the connection settings that cannot
// work, and says what is accepted: the scheme, a port, sslmode, and the
// files sslrootcert, sslcert and sslkey name. pgx's own message would do
// neither, and it quotes the URL, password masking being best effort on
// malformed input.
func checkConnSettings(o ConnOptions) error {
	if scheme, _, ok := strings.Cut(o.URL, "://"); ok && !isURL(o.URL) && !strings.ContainsAny(scheme, " =") {
		return usageErrorf("invalid connection URL: scheme %q: want postgres:// or postgresql://", scheme)
	}
	if o.Port != "" {
		if err := checkPort("--port", o.Port); err != nil {
			return err
		}
	}
	for _, env := range []string{"PGPORT", "PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY"} {
		if v, ok := os.LookupEnv(env); ok {
			if err := checkSetting(env, strings.ToLower(strings.TrimPrefix(env, "PG")), v); err != nil {
				return err
			}
		}
	}
	if !isURL(o.URL) {
		return nil
	}
	// The hosts are read from the text, as net/url refuses a URL with
	// several of them or a port that is not a number before saying which.
	_, rest, _ := strings.Cut(o.URL, "://")
	head, query, _ := strings.Cut(rest, "?")
	hosts := head[strings.LastIndex(head, "@")+1:] // after any user:password@
	hosts, _, _ = strings.Cut(hosts, "/")
	for _, hostPort := range strings.Split(hosts, ",") {
		if i := strings.LastIndex(hostPort, ":"); i >= 0 && !strings.HasSuffix(hostPort, "]") {
			if err := checkPort("connection URL: port", hostPort[i+1:]); err != nil {
				return err
			}
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return usageErrorf("invalid connection URL: malformed query string: %v", err)
	}
	for key, values := range q {
		for _, v := range values {
			if err := checkSetting("connection URL: "+key, key, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSetting checks one setting named key, shown to the user as what.
func checkSetting(what, key, value string) error {
	switch key {
	case "port":
		for _, p := range strings.Split(value, ",") {
			if err := checkPort(what, p); err != nil {
				return err
			}
		}
	case "sslmode":
		if !slices.Contains(sslModes, value) {
			return usageErrorf("invalid %s %q: want %s or %s", what, value,
				strings.Join(sslModes[:len(sslModes)-1], ", "), sslModes[len(sslModes)-1])
		}
	case "sslrootcert", "sslcert", "sslkey":
		if value == "" || key == "sslrootcert" && value == "system" {
			return nil
		}
		if _, err := os.Stat(value); err != nil {
			reason := err.Error()
			if errors.Is(err, os.ErrNotExist) {
				reason = "no such file"
			}
			return usageErrorf("invalid %s %q: %s; give the path of a PEM file", what, value, reason)
		}
	}
	return nil
}

func checkPort(what, value string) error {
	if value == "" {
		return nil
	}
	if n, err := strconv.ParseUint(value, 10, 16); err != nil || n == 0 {
		return usageErrorf("invalid %s %q: want a TCP port number, 1 to 65535", what, value)
	}
	return nil
}

// parseConfigError is pgx's reason for refusing the connection settings,
// without the connection string it quotes.
func parseConfigError(connString string, err error) error {
	reason := "want postgres://user:password@host:port/database?sslmode=disable|require|verify-full"
	// pgx quotes fragments of a keyword/value string it cannot read, which
	// may be a mistyped password: such a reason is not shown.
	if inner := errors.Unwrap(err); inner != nil && !strings.Contains(inner.Error(), connString) &&
		!strings.Contains(inner.Error(), `"`) {
		reason = inner.Error()
	}
	if u, perr := url.Parse(connString); perr == nil {
		if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(reason, pw) {
			reason = "want postgres://user:password@host:port/database?sslmode=disable|require|verify-full"
		}
	}
	return usageError{err: fmt.Errorf("invalid connection settings (--url, AUTH_SESSION_URL or PG* environment): %s", reason)}
}
