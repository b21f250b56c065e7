package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// commandExamples end each command's help. They run as printed against a
// database where init has run and web_user is a role that may log in, with
// AUTH_SESSION_URL set (e2e TestHelpExamples runs every one).
var commandExamples = map[string][]string{
	"init": {
		"# create or upgrade the schema and the admin role, as a superuser",
		"auth-session init",
		"# keep the tables in the application's own schema",
		"auth-session init --schema app_auth",
	},
	"login": {
		"# mint a session for web_user and print its cookie",
		"auth-session login web_user",
		"# a session of 4 hours 30 minutes, only its cookie line, for curl --cookie \"$(cat cookie.txt)\"",
		"auth-session login web_user --expire-after 4h30m --only-cookie > cookie.txt",
		"# the bare value, for Authorization: Bearer or X-Auth-Session",
		"auth-session login web_user --only-value",
		"# a cookie jar for curl -b and wget --load-cookies, for the host the HTTP interface runs on",
		"auth-session login web_user --cookie-jar jar.txt --domain auth.example.com",
	},
	"logout": {
		"# revoke every session of web_user",
		"auth-session logout web_user",
		"# see what logging everyone out would revoke, without revoking it",
		"auth-session logout --all --dry-run",
		"# log out the users listed in a file, one per line, with a reason for the audit trail",
		"echo web_user > users.txt && auth-session logout --users-from users.txt --reason 'password reset'",
		"# an incident: everyone but the members of admin, also their logins in flight",
		"auth-session logout --all --except-role admin --yes --reason 'incident 42'",
		"# everyone, when the signing key or the database was exposed",
		"auth-session logout --all --yes --reason 'signing key rotated'",
	},
	"list": {
		"# every session, oldest first",
		"auth-session list",
		"# web_user's active sessions as JSON, for jq",
		"auth-session list --user web_user --state active --format json",
		"# sessions that expired in the last day, as CSV",
		"auth-session list --expired-within 24h --format csv",
		"# who is logged in: one row per user, most active first",
		"auth-session list --summary",
		"# web_user's sessions with the address and User-Agent they logged in from, as CSV",
		"auth-session list --user web_user --wide --format csv",
	},
	"show": {
		"# one session by the id list prints (here web_user's newest), with its client",
		"auth-session show \"$(auth-session list --user web_user --desc --limit 1 --format tsv --no-headers | cut -f2)\"",
	},
	"lookup": {
		"# whose session a cookie is: it is read from standard input, never from an argument",
		"auth-session login web_user --only-cookie | auth-session lookup",
		"# a cookie found in a ticket or a log, kept in a file, as JSON",
		"auth-session login web_user --only-cookie > leaked.txt && auth-session lookup --format json < leaked.txt",
		"# a curl cookie jar",
		"auth-session login web_user --cookie-jar jar.txt && auth-session lookup < jar.txt",
	},
	"revoke": {
		"# revoke the session of a leaked cookie, read from standard input",
		"auth-session login web_user --only-cookie | auth-session revoke --cookie - --yes --reason 'leaked in a ticket'",
		"# what revoking web_user's sessions older than an hour would revoke",
		"auth-session revoke --user web_user --created-before 1h --dry-run",
		"# revoke one session by the id list prints (here web_user's newest)",
		"auth-session revoke --yes \"$(auth-session list --user web_user --desc --limit 1 --format tsv --no-headers | cut -f2)\"",
		"# revoke every session from a network, without asking, with a reason",
		"auth-session revoke --ip 203.0.113.0/24 --yes --reason 'stolen laptop'",
	},
	"lock": {
		"# lock web_user out for a day after a suspected compromise: its sessions end, and it gets no new one",
		"auth-session lock web_user --for 1d --reason 'suspected compromise'",
	},
	"locks": {
		"# who is locked, by whom, why and until when",
		"auth-session locks",
	},
	"unlock": {
		"# let web_user log in again",
		"auth-session unlock web_user --reason 'password reset'",
	},
	"throttle": {
		"# the addresses, and the user names at an address, that the API's login throttles now",
		"auth-session throttle show",
		"# let an office behind one address try again after a mistyped password storm",
		"auth-session throttle clear --ip 203.0.113.7",
	},
	"events": {
		"# the audit trail of web_user over the last hour",
		"auth-session events --user web_user --since 1h",
		"# one session's history",
		"auth-session events --session 917162776906956801",
		"# the last 10 minutes, then every new event as it commits, one JSON line each, until Ctrl-C",
		"auth-session events --follow --since 10m --format ndjson",
	},
	"purge": {
		"# count what a purge would delete",
		"auth-session purge --dry-run",
		"# delete sessions dead for a week, and audit events older than 90 days",
		"auth-session purge --older-than 7d --events-retention 90d",
	},
	"settings": {
		"# every setting, its value and where the value comes from",
		"auth-session settings",
		"# keep sessions of a role whose password changes, as before (recorded in the audit trail)",
		"auth-session settings set end-sessions-on-credential-change false",
		"# back to the default: sessions end with their credentials",
		"auth-session settings reset end-sessions-on-credential-change",
	},
	"serve": {
		"# plain HTTP on loopback (a proxy in front terminates TLS)",
		"auth-session serve --insecure --http-addr 127.0.0.1:8080",
		"# checking sessions on the standby at $STANDBY_URL, writing to the primary",
		"auth-session serve --insecure --http-addr 127.0.0.1:8081 --read-url \"$STANDBY_URL\"",
	},
	"demo": {
		"# a PostgreSQL and the HTTP interface of its own, the whole story end to end",
		"auth-session demo --run-story --data-dir ./demo-data",
	},
	"completion": {
		"# bash completion for your user, where bash-completion loads it",
		"mkdir -p ~/.local/share/bash-completion/completions && auth-session completion bash > ~/.local/share/bash-completion/completions/auth-session",
		"# fish",
		"mkdir -p ~/.config/fish/completions && auth-session completion fish > ~/.config/fish/completions/auth-session.fish",
	},
	"man": {
		"# write the manual page; read it with man -l auth-session.1 (make install installs it)",
		"auth-session man > auth-session.1",
	},
	"version": {
		"# the version, and the git revision the binary was built from",
		"auth-session version",
	},
}

// helpWithExamples is urfave/cli's command help ending with an EXAMPLES
// section: its commands have no field for one.
func helpWithExamples(examples []string) string {
	if len(examples) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(cli.CommandHelpTemplate, "\n"))
	b.WriteString("\n\nEXAMPLES:\n")
	// A template's delimiters would be read as actions. Built here, once
	// per command, as every command's help is at start-up.
	literal := strings.NewReplacer("{{", `{{"{{"}}`, "}}", `{{"}}"}}`)
	for _, line := range examples {
		if !strings.HasPrefix(line, "#") {
			line = "$ " + line
		}
		b.WriteString("   " + literal.Replace(line) + "\n")
	}
	return b.String()
}
