#!/usr/bin/env bash
# What the container-image tests need (tests/tests/oci.rs, harness in tests/src/registry.rs):
# - Debian's docker-registry (the CNCF distribution registry 2.8), a registry without the OCI
#   1.1 referrers API, run with htpasswd and token authentication;
# - crane (go-containerregistry), whose `crane registry serve` is a registry with the referrers
#   API. distribution v3 (go install .../distribution/v3/cmd/registry@v3.1.2) has no referrers
#   API either, and zot is not served by the Go module proxy.
# Idempotent: installs only what is missing or at another version. Run as root by .ci/run.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

CRANE_VERSION=v0.22.1

if ! command -v docker-registry >/dev/null 2>&1; then
  echo "install-registry: apt-get install docker-registry"
  apt-get update -qq
  # The package's service is never started here: the tests start their own registries.
  apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
fi

have=""
if command -v crane >/dev/null 2>&1; then
  have="$(crane version 2>/dev/null || true)"
fi
if [ "$have" != "$CRANE_VERSION" ]; then
  command -v go >/dev/null 2>&1 || { echo "install-registry: go is missing" >&2; exit 1; }
  echo "install-registry: go install crane@$CRANE_VERSION"
  GOBIN=/usr/local/bin go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
fi

echo "install-registry: $(docker-registry --version); crane $(crane version)"
