# Madoguchi — the two commands a newcomer needs:
#   make dev    bring up the whole stack on this machine
#   make test   run every test (what CI runs, via .ci/run)

SHELL := /bin/bash
export PATH := $(CURDIR)/bin:$(PATH)
export GOFLAGS ?= -buildvcs=false
# The Go toolchain every build and test uses: the newest patch release, which
# fixes the standard-library vulnerabilities govulncheck finds in older ones.
# The go command fetches it from the module proxy once (~76 MB) and caches it;
# this overrides a machine's GOTOOLCHAIN=local.
export GOTOOLCHAIN := go1.26.10
MODULES := proto law platform services workflows cmd
# Every package of the workspace's modules (tools/* are separate modules).
PKGS := madoguchi.dev/...

.PHONY: dev test deps tools proto proto-check vet unit e2e build tidy-check clean

## dev: run PostgreSQL, NATS, Temporal (UI :8233), the form (:8080), bridge, worker and holders
dev: deps tools build
	./bin/madoguchi dev

## test: every check and every test, on real servers (started when missing)
test: deps tools proto-check vet deploy-check vulncheck
	go test -count=1 -race -timeout 20m $(PKGS)

## deps: Debian packages the project needs on a fresh machine
deps:
	@scripts/ensure-deps

## tools: pinned tools from tools/*/go.mod, built into bin/ (not committed)
tools: bin/temporal bin/buf bin/protoc-gen-go bin/mailpit bin/govulncheck bin/indexdb

bin/temporal: tools/temporal/go.mod tools/temporal/go.sum
	cd tools/temporal && GOWORK=off go build -o ../../bin/ tool
	@touch $@
bin/mailpit: tools/mailpit/go.mod tools/mailpit/go.sum
	cd tools/mailpit && GOWORK=off go build -o ../../bin/ tool
	@touch $@
bin/buf: tools/buf/go.mod tools/buf/go.sum
	cd tools/buf && GOWORK=off go build -o ../../bin/ tool
	@touch $@
bin/protoc-gen-go: tools/protoc-gen-go/go.mod tools/protoc-gen-go/go.sum
	cd tools/protoc-gen-go && GOWORK=off go build -o ../../bin/ tool
	@touch $@
bin/govulncheck: tools/govulncheck/go.mod tools/govulncheck/go.sum
	cd tools/govulncheck && GOWORK=off go build -o ../../bin/ golang.org/x/vuln/cmd/govulncheck
	@touch $@
bin/indexdb: tools/govulncheck/go.mod tools/govulncheck/go.sum
	cd tools/govulncheck && GOWORK=off go build -o ../../bin/ golang.org/x/vulndb/cmd/indexdb
	@touch $@

build:
	go build -o bin/madoguchi ./cmd/madoguchi

## proto: regenerate proto/gen from proto/dsr/v1/*.proto
proto: bin/buf bin/protoc-gen-go
	cd proto && buf lint && buf generate

## proto-check: fail when proto/gen is stale (or the protos break lint)
proto-check: bin/buf bin/protoc-gen-go
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	  cd proto && buf lint && buf generate -o $$tmp && \
	  if ! diff -r $$tmp/gen gen >/dev/null; then \
	    echo "proto/gen is stale: run 'make proto' and commit the result" >&2; diff -r $$tmp/gen gen | head -20 >&2; exit 1; fi
	@echo "proto-check: generated code is current"

vet:
	@test -z "$$(gofmt -l $(MODULES))" || { echo "gofmt needed:"; gofmt -l $(MODULES); exit 1; }
	go vet $(PKGS)

unit:
	go test -count=1 $$(go list $(PKGS) | grep -v -e /e2e -e /chaos -e /bench)

e2e: tools
	go test -count=1 -v ./cmd/e2e/

clean:
	rm -rf bin .dev test-output

## deploy-check: validate deploy/ offline — kustomize renders, kubeconform (strict, schemas from the
## pinned Kubernetes OpenAPI + committed CRDs), deployment rules, compose, Dockerfile; tools pinned in
## tools/deploycheck/go.mod and built into bin/
.PHONY: deploy-check
deploy-check:
	cd tools/deploycheck && GOWORK=off go build -o ../../bin/ tool
	./bin/deploycheck -root .

## bench: performance figures side by side with bare baselines (docs/performance.md): one stack,
## four measurements, a table on stdout and test-output/bench.json; then the microbenchmarks.
## Not part of `make test`. Knobs: make bench BENCH_FLAGS='-e2e-n 200 -park-n 10000 -timeout 60m'
.PHONY: bench
bench: tools build
	go run ./cmd/bench $(BENCH_FLAGS); s=$$?; \
	  go test -run='^$$' -bench=. -benchmem ./cmd/bench/ madoguchi.dev/services/intake && exit $$s

## chaos: the fault-injection tests alone (also part of `make test`): kill -9 of the intake, the
## relay, the worker and the dispatcher at their worst moments, NATS and PostgreSQL restarts, a
## holder down past its SLA, poison on every subject; each checks every request completed exactly once.
.PHONY: chaos
chaos: deps tools
	go test -count=1 -timeout 20m ./cmd/chaos/

## vulncheck: govulncheck over every workspace module, offline. The database is the OSV data of
## golang.org/x/vulndb at the version pinned in tools/govulncheck/go.mod (bump it to refresh),
## indexed into .cache/vulndb once per version. Fails when our code calls a vulnerable function.
VULNDB := $(CURDIR)/.cache/vulndb
.PHONY: vulncheck vulndb
vulncheck: bin/govulncheck vulndb
	@rc=0; for m in $(MODULES); do echo "== govulncheck $$m"; \
	  (cd $$m && govulncheck -db file://$(VULNDB) ./...) || rc=1; done; exit $$rc

vulndb: bin/indexdb
	@cd tools/govulncheck && v=$$(GOWORK=off go list -m -f '{{.Version}}' golang.org/x/vulndb) && \
	  if [ "$$(cat $(VULNDB)/.version 2>/dev/null)" != "$$v" ]; then \
	    echo "vulndb: indexing golang.org/x/vulndb@$$v into $(VULNDB)" && \
	    GOWORK=off go mod download golang.org/x/vulndb && \
	    osv=$$(GOWORK=off go list -m -f '{{.Dir}}' golang.org/x/vulndb)/data/osv && \
	    rm -rf $(VULNDB) $(VULNDB).tmp && \
	    ../../bin/indexdb -vulns $$osv -out $(VULNDB).tmp && \
	    echo $$v > $(VULNDB).tmp/.version && mv $(VULNDB).tmp $(VULNDB); fi
