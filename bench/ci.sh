#!/usr/bin/env bash
# CI for bench/, which is its own Go module (the peers it benchmarks are
# never dependencies of the library), so the repository's `go vet ./...`
# and `go test ./...` do not reach it. This builds, vets, lints and tests
# it: the conformance test builds every benchmark server (and the C
# reference, when gcc is present) and checks each speaks hello and echo
# as simple-server does. It does not run the benchmark (see run.sh).
set -euo pipefail
cd "$(dirname "$0")"

echo "== bench: gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== bench: go build"
go build ./...

echo "== bench: go vet"
go vet ./...

echo "== bench: staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== bench: shell syntax"
bash -n run.sh http.sh relay.sh lib.sh

echo "== bench: tests"
go test ./...
