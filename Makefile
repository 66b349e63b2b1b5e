# Keelson: the two commands of the README are `make demo` and `make test`.
GO       ?= go
BIN      ?= ./keelson
export KEELSON_LIBCHDB ?= $(CURDIR)/lib/libchdb.so

.PHONY: demo test test-short build ship setup bench fuzz vet web screenshot
build:
	$(GO) build -o $(BIN) ./cmd/keelson

# The shipboard build: collect, broker, decode and healthcheck only (no
# ClickHouse, API or map page linked), for the ship's small computer.
ship:
	$(GO) build -tags shipboard -o ./keelson-ship ./cmd/keelson

setup:
	scripts/setup.sh lib

# Sets up, builds and runs the all-in-one demo (embedded Kafka and ClickHouse).
demo: setup build
	$(BIN) demo

# The whole test suite, with everything it needs installed by scripts/setup.sh.
test:
	scripts/setup.sh test
	$(GO) vet ./...
	$(GO) vet -tags shipboard ./cmd/keelson
	$(GO) test -count=1 -timeout 40m ./...
	$(GO) test -count=1 -tags shipboard -run 'Shipboard|Collect|Decode|Broker' ./cmd/keelson

# Fast unit tests only (no servers, no embedded ClickHouse).
test-short:
	$(GO) test -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

vet:
	$(GO) vet ./...

# Rebuilds the map page (web/dist, committed and embedded) from web/src with
# the locked npm dependencies. `go test ./web` checks dist matches src.
web:
	cd web && npm ci --no-audit --no-fund && npm run build

# Runs the demo's browser test and saves the map for the README (docs/map.png).
screenshot: setup
	$(GO) test -count=1 -run 'TestDemo$$' ./cmd/keelson -screenshot $(CURDIR)/docs/map.png
