# LiteBox-Go developer entry points. `make test` is what CI runs (.ci/run).

GO          ?= go
# staticcheck 2026.2.2 (module version v0.8.2) is the newest release and the
# first that supports go 1.26; 2025.1.1 does not understand this go.mod.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test vet lint fuzz bench clean

all: build

build:
	$(GO) build -o bin/litebox ./cmd/litebox

vet:
	$(GO) vet ./...

# LITEBOX_REQUIRE_ALL=1 turns "gcc/busybox missing" skips into failures, so
# that a CI run cannot pass by skipping the integration tests.
test: export LITEBOX_REQUIRE_ALL = 1
test: vet
	$(GO) test -count=1 -timeout 30m ./...

lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt needed on:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) run $(STATICCHECK) ./...

fuzz:
	$(GO) test -run '^$$' -fuzz=FuzzLoad -fuzztime=60s ./loader

# Medians of repeated native vs sandboxed runs, as a Markdown table.
bench:
	$(GO) run ./bench/cmd/report

clean:
	rm -rf bin
