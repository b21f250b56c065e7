# auth-session: the two commands a new machine needs are `make demo` and
# `make test`; both install what they need first (scripts/install-deps.sh).
GO        ?= go
BIN       := bin/auth-session
DATA_DIR  ?= $(CURDIR)/.data
# Set to a superuser URL to run the tests or benchmarks on an existing
# server instead of a throwaway cluster.
AUTH_SESSION_TEST_URL ?=
export AUTH_SESSION_TEST_URL

.PHONY: all build deps test demo demo-ha bench vet fuzz clean

all: build

# -buildvcs=auto stamps the git revision that --version prints, whatever
# GOFLAGS says, and builds without one outside a checkout.
build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/auth-session

deps:
	@scripts/install-deps.sh

vet:
	$(GO) vet ./...

test: deps vet
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

bench: deps build
	scripts/bench.sh

clean:
	rm -rf bin
