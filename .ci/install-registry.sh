#!/usr/bin/env bash
# What the container-image tests need (tests/tests/oci.rs, harness in tests/src/registry.rs):
# - Debian's docker-registry (the CNCF distribution registry 2.8), a registry without the OCI
#   1.1 referrers API, run with htpasswd and token authentication and over TLS;
# - notarium-referrers-registry (tests/referrers-registry): go-containerregistry's registry
#   package with its referrers API switched on. No installable registry has the API:
#   distribution v3.1.2 (go install .../distribution/v3/cmd/registry) lacks it, `crane
#   registry serve` serves the same package with it off, zot is not on the Go module proxy.
# Idempotent: apt installs only what is missing; go build reuses its cache.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

if ! command -v docker-registry >/dev/null 2>&1; then
  echo "install-registry: apt-get install docker-registry"
  apt-get update -qq
  # The package's service is never started here: the tests start their own registries.
  apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
fi

command -v go >/dev/null 2>&1 || { echo "install-registry: go is missing" >&2; exit 1; }
(cd tests/referrers-registry && go build -trimpath -o /usr/local/bin/notarium-referrers-registry .)

echo "install-registry: $(docker-registry --version); notarium-referrers-registry (go-containerregistry $(sed -n 's/^require github.com\/google\/go-containerregistry //p' tests/referrers-registry/go.mod))"
