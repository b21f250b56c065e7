#!/usr/bin/env bash
# The benchmarks behind `make bench`: builds bin/auth-session, then runs each
# benchmark program under bench/ against the same PostgreSQL. Set
# AUTH_SESSION_TEST_URL to a superuser URL to measure on your own server;
# without it each program starts a throwaway cluster of its own. Every
# program prints a markdown table of its results for the README.
#
# SCALE="100k 1M 10M" runs only bench/scale, which fills a table of each size
# and measures purge, the session check, whoami, the everyday commands and
# list's memory against it, in SCALE_ROUNDS rounds (default 2); without
# SCALE it runs last, at 100k.
#
# RETENTION="1M 10M" runs only bench/retention, which measures partitioning
# the sessions table by day as the retention design against today's table
# in SCALE_ROUNDS rounds (about 11 minutes at 1M with its four fills, 3
# rounds; never part of the default run).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
URL=${AUTH_SESSION_TEST_URL:-}
SCALE=${SCALE:-}
SCALE_ROUNDS=${SCALE_ROUNDS:-2}
RETENTION=${RETENTION:-}

"$GO" build -tags "${BUILD_TAGS:-urfave_cli_no_docs}" -o bin/auth-session ./cmd/auth-session

status=0
bench() {
	local name=$1
	shift
	echo
	echo "## bench/$name"
	echo
	if ! "$GO" run "./bench/$name" "$@"; then
		echo "bench/$name failed" >&2
		status=1
	fi
}

scale() {
	local args=(-bin bin/auth-session -rounds "$SCALE_ROUNDS" -sizes "$1")
	if [ -n "$URL" ]; then args+=(-url "$URL"); fi
	bench scale "${args[@]}"
}
if [ -n "$SCALE" ]; then
	scale "$SCALE"
	exit $status
fi
if [ -n "$RETENTION" ]; then
	args=(-sizes "$RETENTION" -rounds "$SCALE_ROUNDS")
	if [ -n "$URL" ]; then args+=(-url "$URL"); fi
	bench retention "${args[@]}"
	exit $status
fi

# The admin commands against psql: login, logout of 100,000 sessions, list
# of 1,000,000.
if [ -n "$URL" ]; then
	bench cli -bin bin/auth-session -url "$URL"
else
	bench cli -bin bin/auth-session
fi
# The HTTP interface and purge, when their benchmarks are there.
if [ -d bench/whoami ]; then
	if [ -n "$URL" ]; then bench whoami -url "$URL"; else bench whoami; fi
fi
if [ -d bench/purge ]; then
	if [ -n "$URL" ]; then bench purge "$URL"; else bench purge; fi
fi
# Forward authentication through nginx against whoami straight to serve.
if [ -d bench/forwardauth ]; then
	if [ -n "$URL" ]; then bench forwardauth -url "$URL"; else bench forwardauth; fi
fi
# whoami's latency while a purge runs, against the same without it.
if [ -d bench/purgelatency ]; then
	if [ -n "$URL" ]; then bench purgelatency "$URL"; else bench purgelatency; fi
fi
# Every measure of issue 21 on a table of 100,000 sessions.
scale 100k
exit $status
