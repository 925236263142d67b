# cronguard — see README.md. `make demo` and `make test` work on a fresh
# Debian machine: missing Debian packages are installed (as root) or named.
SHELL := /bin/bash
# Go from PATH, else where the Go tarball installs it.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/cronguard
# VERSION sorts as Debian compares versions (a bare git hash does not:
# 98c7d1e sorts below 4a1fd38): the latest tag, as git describe gives it
# (v1.2.0, v1.2.0-3-gHASH: 1.2.0+3+gHASH in the .deb), else
# 0.0~gitYYYYMMDDhhmmss.HASH from the commit's time in UTC, which sorts
# below any tag. `make version` prints it.
VERSION ?= $(shell if git describe --tags --abbrev=0 >/dev/null 2>&1; then git describe --tags --dirty; \
  else TZ=UTC git log -1 --format='0.0~git%cd.%h' --date=format-local:%Y%m%d%H%M%S 2>/dev/null; fi || echo 0.0~dev)
LDFLAGS := -s -w -X github.com/cronguard/cronguard/internal/cli.Version=$(VERSION)
DEB_PACKAGES := zookeeper lintian systemd perl gcc libc6-dev
ZK_JAR := /usr/share/java/zookeeper.jar

.PHONY: all build test soak demo deps clean vet version

all: build

# CGO_ENABLED=0: a static binary skips ld.so and libc at every start (about
# 3 ms of each cron run, measured in BENCHMARKS.md); zkhosts names then go
# through Go's own resolver (/etc/hosts and DNS; not NSS modules like LDAP).
export CGO_ENABLED := 0

# The C shim (supervise/cshim), which cronguard starts the job through when
# it finds it next to itself: static, so it skips ld.so at every run, with
# Debian's hardening flags. internal/shimtest builds it with the same flags
# for the tests (a test keeps the two lists equal). The strip drops the
# compiler's .comment that static libc brings (as dh_strip does).
CC ?= cc
SHIM_CFLAGS := -std=c11 -O2 -Wall -Wextra -Werror -fstack-protector-strong -D_FORTIFY_SOURCE=2 -static -s -Wl,-z,relro,-z,now

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cronguard
	$(GO) build -trimpath -ldflags '-s -w' -o bin/cronguard-ping ./cmd/cronguard-ping
	$(CC) $(SHIM_CFLAGS) -o bin/cronguard-shim supervise/cshim/cronguard-shim.c
	strip --remove-section=.comment bin/cronguard-shim

# deps installs what the build and the tests need from Debian when it is
# missing: ZooKeeper (run as a plain process by the tests, never as a
# service), lintian (the packages must be lintian-clean), systemd
# (systemd-analyze checks the generated timers; systemd is not run), perl
# (the reference for switchman's behaviour), gcc and libc6-dev (the C shim,
# static).
deps:
	@if [ ! -f $(ZK_JAR) ] || ! command -v java >/dev/null 2>&1 || ! command -v lintian >/dev/null 2>&1 || ! command -v systemd-analyze >/dev/null 2>&1 \
	    || ! command -v perl >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1 || [ ! -f /usr/include/stdio.h ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing $(DEB_PACKAGES) with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES); \
	  else \
	    echo "missing Debian packages; run: sudo apt-get install -y --no-install-recommends $(DEB_PACKAGES)" >&2; exit 1; \
	  fi; \
	fi

vet:
	$(GO) vet ./...

version:
	@echo '$(VERSION)'

# CRONGUARD_REQUIRE_ZK and _TOOLS make a missing ZooKeeper or lintian a
# test failure, not a skip.
test: deps
	$(GO) vet ./...
	CRONGUARD_REQUIRE_ZK=1 CRONGUARD_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout 25m ./...

# soak: the partition proof with 200 randomized trials (make test runs 20).
soak: deps
	CRONGUARD_REQUIRE_ZK=1 CRONGUARD_SOAK_TRIALS=200 $(GO) test -count=1 -timeout 60m -run 'TestE2E_PartitionNeverRunsTwice' -v ./cmd/cronguard/ | grep -E 'margin|^(---|ok|FAIL|PASS)'

demo: deps build
	@./scripts/demo.sh

clean:
	rm -rf bin

# bench: what cronguard costs per cron run, measured against /bin/true,
# `flock FILE true` and a python3-kazoo lock-then-exec script in the same
# run; stop latency, memory, ZooKeeper requests per run and under 1-500
# concurrent wrappers; the issue's targets met or missed. Starts its own
# ZooKeepers on loopback; about 4 minutes. Not part of `make test`. The
# figures of record are in BENCHMARKS.md. BENCH_FLAGS=-quick for a smoke run.
BENCH_FLAGS ?=
.PHONY: bench
bench: deps build
	@if ! /usr/bin/python3 -c 'import kazoo' 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing python3-kazoo with apt-get (the kazoo baseline)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-kazoo \
	      || echo "could not install python3-kazoo: the kazoo baseline will be skipped" >&2; \
	  else \
	    echo "python3-kazoo is missing (the kazoo baseline will be skipped); run: sudo apt-get install -y --no-install-recommends python3-kazoo" >&2; \
	  fi; \
	fi
	$(GO) build -o bin/cronguard-bench ./bench
	bin/cronguard-bench -cronguard $(BIN) -go $(GO) $(BENCH_FLAGS)

# deb: cronguard's own .deb, in bin/: cronguard, the cronguard-package
# helper (in /usr/lib/cronguard; `cronguard package` runs it), man pages
# (a page per command, cronguard-metadata(5)), bash, zsh and fish
# completions, /etc/logrotate.d/cronguard, the README and the example
# config (also /etc/cronguard/config.json.example). cronguard-package writes it with
# nfpm, which cronguard itself never links (every cron run would pay for it).
# The maintainer comes from DEBFULLNAME/DEBEMAIL.
.PHONY: deb
deb: deps build
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cronguard-package ./cmd/cronguard-package
	bin/cronguard-package self --binary $(BIN) --packager bin/cronguard-package --pinger bin/cronguard-ping --shim bin/cronguard-shim --version '$(VERSION)' --readme README.md --out bin
