#!/usr/bin/env bash
# Installs what the tests, the demo and the benchmarks need on a bare Debian
# machine that has only Go: PostgreSQL's server binaries, curl and wget for
# the end-to-end tests, Node, npm and Python for the clients' tests,
# Chromium for the admin page's browser test, and the programs production
# runs around PostgreSQL, which the pooler, failover and load-balancer tests
# start for real: pgbouncer, Patroni, etcd and haproxy; nginx and Caddy, which
# the forward-authentication tests put in front of an upstream;
# systemd-analyze, which checks the systemd unit in deploy/, and groff and
# man, which check the manual page (man the one the Debian package installs).
# Nothing is installed when everything is already there.
set -euo pipefail

need=()
have_pg() {
	command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
have_pg || need+=(postgresql)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v wget >/dev/null 2>&1 || need+=(wget)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
command -v patroni >/dev/null 2>&1 || need+=(patroni)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
# Node runs the admin page's unit tests (node --test, Node 18 or later) and
# the TypeScript client's, built with the compiler npm installs (e2e
# TestClients); python3 runs the Python client's.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# groff checks the manual page that auth-session man writes.
command -v groff >/dev/null 2>&1 || need+=(groff-base)
# systemd-analyze checks deploy/auth-session.service.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# make deb needs dpkg-deb only (dpkg is essential); e2e TestDebianPackage
# reads the installed manual page with man.
command -v man >/dev/null 2>&1 || need+=(man-db)
if [ "${AUTH_SESSION_SKIP_BROWSER:-}" = "" ]; then
	command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "missing: ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
	exit 1
fi
echo "installing: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's packages start services of their own where they can (etcd on
# 2379, pgbouncer on 6432, haproxy, nginx and Caddy on 80); the tests start
# their own on free ports, so stop them.
for svc in etcd pgbouncer haproxy nginx caddy; do
	if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
# Debian's postgresql package starts a cluster of its own; the project runs
# throwaway clusters instead, so stop it to free the port and the CPU.
if command -v pg_lsclusters >/dev/null 2>&1; then
	pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
		pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
	done
fi
