# auth-session: the two commands a new machine needs are `make demo` and
# `make test`; both install what they need first (scripts/install-deps.sh).
GO        ?= go
BIN       := bin/auth-session
DATA_DIR  ?= $(CURDIR)/.data
# Set to a superuser URL to run the tests or benchmarks on an existing
# server instead of a throwaway cluster.
AUTH_SESSION_TEST_URL ?=
export AUTH_SESSION_TEST_URL

.PHONY: all build install deb deps test demo demo-ha bench vet fuzz docs clean

all: build

# -buildvcs=auto stamps the git revision that --version prints, whatever
# GOFLAGS says, and builds without one outside a checkout. BUILD_TAGS leaves
# out urfave/cli's Markdown and man page writers, which the binary does not
# use (pkg/cli/man.go writes its own), and whose Markdown library's tables
# every command would build at start-up; scripts/deb.sh, the end-to-end
# tests (internal/testbin) and bench/cli build with them too.
BUILD_TAGS := urfave_cli_no_docs
export BUILD_TAGS
build:
	$(GO) build -buildvcs=auto -tags '$(BUILD_TAGS)' -o $(BIN) ./cmd/auth-session

# The binary, its man page and its shell completions, under PREFIX (and
# DESTDIR, for packaging): make install PREFIX=$$HOME/.local
PREFIX  ?= /usr/local
DESTDIR ?=
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/auth-session
	$(BIN) man > $(DESTDIR)$(PREFIX)/share/man/man1/auth-session.1
	$(BIN) completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/auth-session
	$(BIN) completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_auth-session
	$(BIN) completion fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/auth-session.fish

# The Debian package, dist/auth-session_VERSION_ARCH.deb, built with
# dpkg-deb alone: apt-get install ./dist/auth-session_*.deb. DIST,
# DEB_VERSION, GOARCH and SOURCE_DATE_EPOCH change what scripts/deb.sh
# builds (docs/operations.md, "The Debian package").
deb:
	GO=$(GO) scripts/deb.sh

deps:
	@scripts/install-deps.sh

# vet compiles every package it checks, and their dependencies, as the end-
# to-end tests' binary (internal/testbin) and make deb build them: static
# (CGO_ENABLED=0; no file of ours uses cgo), -trimpath, BUILD_TAGS. With an
# empty build cache, as on CI, the three then share one compilation instead
# of making two (about 85 s of CPU on this project's 2-core machine).
vet:
	CGO_ENABLED=0 $(GO) vet -trimpath -tags '$(BUILD_TAGS)' ./...

# The admin page's pure functions are tested with Node's own test runner.
test: deps vet
	node --test pkg/server/jstest/*.test.mjs
	$(GO) test -race -count=1 -timeout 40m ./...

# Every parser of outside input, each briefly: go test fuzzes one target
# per run. FUZZTIME=5m make fuzz for a longer session.
FUZZTIME ?= 10s
FUZZ_TARGETS := \
	pkg/auth:FuzzDecodeValue pkg/auth:FuzzPresented \
	pkg/cli:FuzzParseDuration pkg/cli:FuzzParseSessionID pkg/cli:FuzzParseRoleName \
	pkg/server:FuzzAdminQuery pkg/server:FuzzPath

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) ./$$pkg; \
	done

demo: deps build
	$(BIN) demo --run-story --data-dir $(DATA_DIR)

# The high-availability story: Patroni and etcd with two PostgreSQL nodes,
# haproxy and pgbouncer in front, two serve processes behind haproxy; the
# leader is killed mid-story. It stops everything it started.
demo-ha: deps build
	$(GO) run ./cmd/demo-ha -bin $(BIN)

# The command reference, docs/commands, from the commands' own help;
# pkg/cli's TestCommandDocsAreCurrent fails when it is out of date.
docs:
	$(GO) run ./internal/gendocs

# Every benchmark under bench/, the table-size one (bench/scale) at its
# smallest table; SCALE="100k 1M 10M" runs only that one, filling a table of
# each size, in SCALE_ROUNDS interleaved rounds (docs/benchmarks.md);
# RETENTION="1M 10M" runs only bench/retention, partitioning the sessions
# table by day against today's table, never part of the default run.
SCALE        ?=
SCALE_ROUNDS ?= 2
RETENTION    ?=
bench: deps build
	SCALE="$(SCALE)" SCALE_ROUNDS="$(SCALE_ROUNDS)" RETENTION="$(RETENTION)" scripts/bench.sh

clean:
	rm -rf bin dist
