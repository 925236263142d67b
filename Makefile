# cronguard — see README.md. `make demo` and `make test` work on a fresh
# Debian machine: missing Debian packages are installed (as root) or named.
SHELL := /bin/bash
GO ?= go
BIN := bin/cronguard
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/cronguard/cronguard/internal/cli.Version=$(VERSION)
DEB_PACKAGES := zookeeper
ZK_JAR := /usr/share/java/zookeeper.jar

.PHONY: all build test soak demo deps clean vet

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cronguard

# deps installs ZooKeeper (Debian's package, run as a plain process by the
# tests, never as a service) when it is missing.
deps:
	@if [ ! -f $(ZK_JAR) ] || ! command -v java >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing $(DEB_PACKAGES) with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES); \
	  else \
	    echo "ZooKeeper is missing; run: sudo apt-get install -y --no-install-recommends $(DEB_PACKAGES)" >&2; exit 1; \
	  fi; \
	fi

vet:
	$(GO) vet ./...

# CRONGUARD_REQUIRE_ZK makes a missing ZooKeeper a test failure, not a skip.
test: deps
	$(GO) vet ./...
	CRONGUARD_REQUIRE_ZK=1 $(GO) test -count=1 -timeout 20m ./...

# soak: the partition proof with 200 randomized trials (make test runs 20).
soak: deps
	CRONGUARD_REQUIRE_ZK=1 CRONGUARD_SOAK_TRIALS=200 $(GO) test -count=1 -timeout 60m -run 'TestE2E_PartitionNeverRunsTwice' -v ./cmd/cronguard/ | grep -E 'margin|^(---|ok|FAIL|PASS)'

demo: deps build
	@./scripts/demo.sh

clean:
	rm -rf bin
