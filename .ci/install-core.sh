#!/usr/bin/env bash
# What core's outside checks need (core/tests/status_index.rs): Go's reference signed-note and
# C2SP checkpoint parsers (golang.org/x/mod, transparency-dev/formats), downloaded by name
# through the Go module proxy into the module cache, so that the test itself runs offline.
# python3 (the independent status-index verifier) is preinstalled. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || { echo "install-core: go is missing" >&2; exit 1; }
(cd core/tests/independent/go-checkpoint && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download)
echo "install-core: $(go version); go-checkpoint modules in $(go env GOMODCACHE)"
