# LiteBox-Go developer entry points. `make test` is what CI runs (.ci/run).

GO          ?= go
# staticcheck 2026.2.2 (module version v0.8.2) is the newest release and the
# first that supports go 1.26; 2025.1.1 does not understand this go.mod.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test vet lint fuzz fuzz-guest bench bench-image bench-density soak syscalls-doc compat compat-net engines oci-validation clean

all: build

build:
	$(GO) build -o bin/litebox ./cmd/litebox
	$(GO) build -ldflags "-X main.gitCommit=$$(git rev-parse HEAD 2>/dev/null)" -o bin/litebox-runtime ./cmd/litebox-runtime

vet:
	$(GO) vet ./...

# LITEBOX_REQUIRE_ALL=1 turns "gcc/busybox missing" skips into failures, so
# that a CI run cannot pass by skipping the integration tests.
test: export LITEBOX_REQUIRE_ALL = 1
test: vet
	$(GO) test -count=1 -timeout 30m ./...
	# The integration suite once more on the portable platform (the run
	# above used the default, systrap where the host allows it).
	LITEBOX_PLATFORM=ptrace $(GO) test -count=1 -timeout 30m ./tests/

lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt needed on:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) run $(STATICCHECK) ./...

fuzz:
	$(GO) test -run '^$$' -fuzz=FuzzLoad -fuzztime=60s ./loader

# A guest that forges the systrap slots from racing threads, for a minute
# (make test runs it for 8 s).
fuzz-guest: export LITEBOX_REQUIRE_ALL = 1
fuzz-guest:
	LITEBOX_FUZZ_GUEST_SECONDS=60 $(GO) test -count=1 -run '^TestEscapeSlotFuzz$$' -v -timeout 10m ./tests/

# The soak test (tests/soak_test.go, a few minutes, not part of `make
# test`): guests churning through execs, forks, threads and audited refused
# syscalls, each ended by --timeout, while litebox's host fds, threads and
# RSS are sampled; once per platform. LITEBOX_SOAK_SECONDS sets each run's
# length (default 20).
soak: export LITEBOX_SOAK = 1
soak:
	$(GO) test -count=1 -timeout 60m -run '^TestSoak$$' -v ./tests/
	LITEBOX_PLATFORM=ptrace $(GO) test -count=1 -timeout 60m -run '^TestSoak$$' -v ./tests/

# Medians of repeated native vs sandboxed runs, as a Markdown table.
bench:
	$(GO) run ./bench/cmd/report -json bench/results.json -png bench/results.png

# The image rows alone (issue 13; bench/README.md, "Image rows"): python3
# from a Debian image against the host view, first and second start of the
# image, memory per sandbox with 20 on one image. The image is built once
# per machine into the test cache (/var/cache/litebox-tests).
bench-image:
	$(GO) run ./bench/cmd/report -rows python_startup,image,image_memory

# The density rows alone (issue 15; bench/README.md, "Density rows"): N idle
# python3 sandboxes at once per system, memory and start latency, about a minute.
bench-density:
	$(GO) run ./bench/cmd/report -rows density

# docs/syscalls.md: every syscall number, whether the shim implements it and
# which integration tests exercise it. Each guest run of the tests appends
# the syscalls it used to a per-test file in a temporary directory (litebox's
# hidden --trace-syscalls), and the generator turns those into the table.
# LITEBOX_REQUIRE_ALL=1 as in `make test`: a skipped test would silently
# vanish from the tests column. Failing tests still exercised syscalls (and
# the implemented column does not depend on them), so the document is written
# anyway and the target then fails with the tests' status.
syscalls-doc: export LITEBOX_REQUIRE_ALL = 1
syscalls-doc:
	@trace="$$(mktemp -d)" || exit 1; trap 'rm -rf "$$trace"' EXIT; \
	LITEBOX_SYSCALL_TRACE_DIR="$$trace" $(GO) test -count=1 -timeout 30m ./tests/; status=$$?; \
	$(GO) run ./shim/linux/cmd/syscalldoc -trace-dir "$$trace" -o docs/syscalls.md || exit 1; \
	if [ $$status -ne 0 ]; then \
		echo "syscalls-doc: wrote docs/syscalls.md, but integration tests failed (above)" >&2; \
	fi; \
	exit $$status

# CPython's regression tests (Debian's libpython3.11-testsuite) natively and
# under litebox on both platforms (tools/compat; two module runs at a time,
# about half an hour on an idle machine): prints the table of counts and
# differing cases, writes bin/compat/results.{json,md} and the logs, and
# refreshes the generated section of docs/compatibility.md. A platform run
# that differs from native in a way tests/compat/known.go does not classify
# is run once more, alone, before it is reported (-retry). Slow modules get
# their own regrtest timeout (compat.ModuleTimeouts). COMPAT_FLAGS passes
# further flags, e.g. COMPAT_FLAGS='-modules test_os,test_io -configs
# native,ptrace'; COMPAT_PARALLEL=1 runs one module at a time (slower, less
# sensitive to load). A fast subset (TestCompatSubset) is part of `make test`.
COMPAT_PARALLEL ?= 2
compat:
	$(GO) run ./tools/compat -doc docs/compatibility.md -parallel $(COMPAT_PARALLEL) $(COMPAT_FLAGS)

# compat-net: the same for issue 12's socket modules (compat.NetModules:
# test_socket, test_asyncio, test_epoll, test_selectors, test_socketserver),
# a set of its own; its table is bin/compat-net/results.md (no docs section).
compat-net:
	$(GO) run ./tools/compat -set net -parallel $(COMPAT_PARALLEL) $(COMPAT_FLAGS)

# engines: the long set of the engine tests (issue 14; tests/engines_test.go):
# Podman (-t, exec, stop/kill, ps, -p, binds, --user, the Debian fixture
# image), containerd's ctr, runc's state/kill behaviours and a
# dockerd of the test's own, all through litebox-runtime, once per platform.
# The tests start their services themselves (containerd and dockerd with
# roots, state and sockets under a temp dir; Podman with its own --root and
# --runroot) and need the engines .ci/run installs. `make test` runs only
# TestPodmanRun's first cases and TestContainerdRun (about 20 s).
engines: export LITEBOX_REQUIRE_ALL = 1
engines: export LITEBOX_ENGINES = long
engines:
	$(GO) test -count=1 -timeout 20m -run 'TestPodman|TestContainerd|TestDocker' -v ./tests/
	LITEBOX_PLATFORM=ptrace $(GO) test -count=1 -timeout 20m -run 'TestPodman|TestContainerd|TestDocker' -v ./tests/

# The OCI runtime-tools validation programs (runtime-tools v0.9.0 from the Go
# module proxy, built in a temporary directory, a minute) run against
# bin/litebox-runtime, one at a time (about a minute), as root: the programs
# use the runtime's default --root. OCI_VALIDATION_RUNTIMES adds runtimes for
# reference, e.g. OCI_VALIDATION_RUNTIMES='bin/litebox-runtime /usr/sbin/runc'.
# Prints a table of TAP counts per program; the logs go to bin/oci-validation/.
# A report, not a gate (docs/oci.md, "runtime-tools validation"); not part of
# `make test`.
OCI_VALIDATION_RUNTIMES ?= bin/litebox-runtime
oci-validation: build
	OUT=bin/oci-validation tools/ocivalidation/run.sh $(OCI_VALIDATION_RUNTIMES)

clean:
	rm -rf bin
