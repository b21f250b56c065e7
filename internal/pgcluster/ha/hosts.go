package ha

import (
	"net/url"
	"strings"
)

// HostsURL returns a connection URL of database on the servers at addrs
// (HOST:PORT each), tried in order, as user, keeping the first that matches
// targetSessionAttrs ("read-write", "any", "standby", ...).
func HostsURL(addrs []string, user, password, database, targetSessionAttrs string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: strings.Join(addrs, ","),
		Path: "/" + database, RawQuery: "sslmode=disable&target_session_attrs=" + targetSessionAttrs}
	return u.String()
}
