# gomp — build, check and test. CI runs `make test` (see .ci/run).
#
#   make build       go build ./... and a static bin/gomp
#   make vet         go vet and a gofmt check
#   make test        the peers, vet, then the unit and lab tests (-race) against
#                    a tgtd lab (scripts/lab.sh), the allocation proofs and the
#                    two-path aggregation test without -race, a short fuzz run,
#                    and a summary of passed / failed / skipped tests
#   make test-kernel /dev/nbdN under QEMU (scripts/kernel-lab)
#   make bench-kernel /dev/nbdN vs dm-multipath vs /dev/sdX in that guest
#   make deps-demo | deps-test | deps-kernel | deps-bench
#                    install the Debian packages a target needs (scripts/deps.sh)
#   make lab-up | lab-down | lab-status
#   make fuzz        every Fuzz* target for FUZZTIME (default 60s) each
#   make fuzz-smoke  the same for FUZZ_SMOKE_TIME (default 5s) each
#   make bench       benchmarks with -benchmem
#   make bench-iscsi gomp's iSCSI session vs libiscsi on the lab LUN
#   make bench-nbd   gomp's NBD server vs nbdkit, then bench-stack
#   make bench-stack fio -> gomp attach -> tgtd vs fio -> qemu-nbd -> tgtd
#   make bench-aggregation  two shaped paths vs one
#   make bench-scale 64 null LUNs on 4 portals: attach time, sessions, memory
#                    and goroutines per device, CPU per I/O at 1/8/64 busy
#   make chaos       write-verify under injected path faults, 10 minutes
#   make demo        the main job on the embedded lab target
#
# Lab settings come from GOMP_LAB_CTL / GOMP_LAB_PORT / GOMP_LAB_DIR (see
# scripts/lab.sh). Tests see GOMP_LAB=1 and the GOMP_LAB_* variables of the
# lab's env file.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

GO ?= go
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt
FUZZTIME ?= 60s
FUZZ_SMOKE_TIME ?= 5s
BENCHTIME ?= 5
TEST_TIMEOUT ?= 10m
TESTFLAGS ?=

LAB := bash scripts/lab.sh
SUBMAKE := $(MAKE) --no-print-directory

.PHONY: all build vet lint fmt-check test test-kernel bench-kernel demo deps-demo deps-test deps-kernel deps-bench lab-up lab-down lab-status fuzz fuzz-smoke bench bench-iscsi bench-nbd bench-stack bench-aggregation bench-scale chaos clean

all: build

build:
	$(GO) build ./...
	@if compgen -G 'cmd/gomp/*.go' >/dev/null; then \
		echo "CGO_ENABLED=0 $(GO) build -o bin/gomp ./cmd/gomp"; \
		CGO_ENABLED=0 $(GO) build -o bin/gomp ./cmd/gomp; \
	else \
		echo "build: no Go files in ./cmd/gomp yet; bin/gomp not built"; \
	fi

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

vet: fmt-check lint
	@if [ -z "$$($(GO) list ./... 2>/dev/null)" ]; then echo "vet: no packages yet"; \
	else echo "$(GO) vet ./..."; $(GO) vet ./...; fi

# staticcheck from the Go module proxy (pinned); govulncheck is not run: its
# vulnerability database is not reachable from these machines.
lint:
	$(GO) run $(STATICCHECK) ./...

# gofmt -l over every Go file outside .git, vendor and testdata.
fmt-check:
	@out=$$(find . \( -path ./.git -o -path ./vendor -o -name testdata \) -prune \
		-o -name '*.go' -type f -print0 | xargs -0 -r $(GOFMT) -l) || { \
		echo "$$out"; echo "gofmt failed"; exit 1; }; \
	if [ -n "$$out" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$out"; exit 1; \
	fi

# make test: the peers (scripts/deps.sh test), vet, then with the lab up
#  1. every test with -race (GOMP_LAB=1);
#  2. without -race: the allocation proofs (they skip under -race, where
#     sync.Pool drops items) and TestLabAggregation (GOMP_LAB_NETNS=1: two
#     tbf-shaped paths through network namespaces);
#  3. a short fuzz run;
# then the lab goes down whatever happened, and internal/testsummary prints
# passed / failed / skipped and each skipped test with its reason. A test
# skipped for a missing peer fails the run unless GOMP_ALLOW_SKIP=1 (never
# under CI=true); skips by design (no nbd module in this host kernel, which
# make test-kernel covers) are listed as such. The first failure's exit
# code is kept; the event streams stay in $(TEST_OUT).
TEST_OUT ?= bin/test-results
ALLOCS_RUN ?= Allocs|^TestLabAggregation$$

test: deps-test vet
	@rc=0; keep() { local r=$$?; if [ $$rc -eq 0 ]; then rc=$$r; fi; }; \
	trap '$(LAB) down; exit 130' INT TERM HUP; \
	strict=-strict; if [ "$${GOMP_ALLOW_SKIP:-}" = 1 ] && [ "$${CI:-}" != true ]; then strict=; fi; \
	mkdir -p $(TEST_OUT) bin; rm -f $(TEST_OUT)/*.json; \
	state=$$(mktemp -d /tmp/gomp-test-state.XXXXXX); export GOMP_STATE_DIR=$$state; \
	$(GO) build -o bin/testsummary ./internal/testsummary || exit 1; \
	$(SUBMAKE) lab-up || keep; \
	if [ $$rc -eq 0 ]; then \
		envfile=$$($(LAB) envfile); \
		set -a; . "$$envfile"; set +a; export GOMP_LAB=1; \
		echo "$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...  (GOMP_LAB=1, env from $$envfile)"; \
		$(GO) test -json -race -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./... 2>&1 | \
			tee $(TEST_OUT)/race.json | bin/testsummary stream || keep; \
		echo "GOMP_LAB_NETNS=1 $(GO) test -count=1 -run '$(ALLOCS_RUN)' ./...  (no -race)"; \
		GOMP_LAB_NETNS=1 $(GO) test -json -count=1 -timeout $(TEST_TIMEOUT) -run '$(ALLOCS_RUN)' ./... 2>&1 | \
			tee $(TEST_OUT)/norace.json | bin/testsummary stream || keep; \
		$(SUBMAKE) fuzz-smoke || keep; \
	fi; \
	$(SUBMAKE) lab-down || keep; \
	rm -rf "$$state"; \
	if ls $(TEST_OUT)/*.json >/dev/null 2>&1; then \
		bin/testsummary report $$strict $(TEST_OUT)/*.json || keep; \
	fi; \
	if [ $$rc -ne 0 ]; then echo "make test: FAILED (exit $$rc)"; else echo "make test: ok"; fi; \
	exit $$rc

# The Debian packages each target needs (scripts/deps.sh; quiet when present).
deps-demo deps-test deps-kernel deps-bench:
	@bash scripts/deps.sh $(@:deps-%=%)

# /dev/nbdN in a real kernel: Debian's kernel under QEMU (TCG) with an
# initramfs; see scripts/kernel-lab/run.sh (KLAB_* settings) and guest.conf.
test-kernel: deps-kernel
	bash scripts/kernel-lab/run.sh

# gomp attach's /dev/nbdN vs the classic stack (open-iscsi + dm-multipath)
# vs one /dev/sdX, fio in one boot of that guest, interleaved rounds; see
# scripts/kernel-lab/bench-kernel.sh (ROUNDS, BENCHTIME, BENCH_* settings).
bench-kernel: deps-kernel
	bash scripts/kernel-lab/bench-kernel.sh

# The README's first command: the main job on the embedded lab target.
demo: deps-demo
	bash scripts/demo.sh

lab-up:
	$(LAB) up

lab-down:
	$(LAB) down

lab-status:
	$(LAB) status

fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

fuzz-smoke:
	FUZZTIME=$(FUZZ_SMOKE_TIME) bash scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Two paths through network namespaces, each shaped to 50 MB/s with tc tbf:
# sequential read and write through round-robin and queue-length vs one path.
bench-aggregation: deps-test
	@$(LAB) up >/dev/null; set -a; . "$$($(LAB) envfile)"; set +a; \
	GOMP_LAB=1 GOMP_LAB_NETNS=1 $(GO) test -count=1 -run 'TestLabAggregation' -v ./multipath/; \
	rc=$$?; $(LAB) down >/dev/null; exit $$rc

# One gomp attach of 64 null LUNs on 4 loopback portals of a tgtd of its own
# (control port 2264, 127.22.64.1-4:3260; not the lab's): see bench/scale.
# ROUNDS=N load rounds (default 3), BENCHTIME seconds per load run.
bench-scale: deps-bench
	CGO_ENABLED=0 $(GO) build -o bin/gomp ./cmd/gomp
	$(GO) build -o bin/scale ./bench/scale
	bin/scale -gomp bin/gomp -rounds $${ROUNDS:-3} -time $(BENCHTIME)s

# The chaos test for 10 minutes (GOMP_CHAOS_DURATION overrides): write-verify
# through NBD -> multipath -> tgtd while paths are blackholed, reset and
# killed in tgtd; see internal/chaostest. `make test` runs it for 2 minutes.
chaos: deps-test
	@$(LAB) up >/dev/null; set -a; . "$$($(LAB) envfile)"; set +a; \
	GOMP_LAB=1 GOMP_CHAOS_DURATION=$${GOMP_CHAOS_DURATION:-10m} $(GO) test -race -count=1 -timeout 60m \
		-run '^TestLabChaos$$' -v ./internal/chaostest/; rc=$$?; $(LAB) down >/dev/null; exit $$rc

# The whole stack: fio(nbd) -> gomp attach -> tgtd vs fio(nbd) -> qemu-nbd iscsi:// -> tgtd.
# ROUNDS=N interleaved rounds (default 3), BENCHTIME seconds per run (default 5).
bench-stack: deps-bench
	@$(LAB) up >/dev/null; set -a; . "$$($(LAB) envfile)"; set +a; \
	bash bench/stack/run.sh $(BENCHTIME); rc=$$?; $(LAB) down >/dev/null; exit $$rc

# Issue 5's benchmark in one run: gomp's NBD server (memory backend) vs nbdkit
# memory with fio's nbd engine, then the whole stack (bench-stack).
bench-nbd: deps-bench
	bash bench/nbd/run.sh
	@echo
	@$(SUBMAKE) bench-stack

# gomp's iSCSI session vs libiscsi (iscsi-perf, qemu-img bench) on the lab LUN.
# ROUNDS=N alternating rounds (default 3), BENCHTIME seconds per run (default 5).
bench-iscsi: deps-bench
	@$(LAB) up >/dev/null; set -a; . "$$($(LAB) envfile)"; set +a; \
	bash bench/iscsi/run.sh $(BENCHTIME); rc=$$?; $(LAB) down >/dev/null; exit $$rc

clean:
	rm -rf bin
