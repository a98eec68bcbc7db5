#!/usr/bin/env bash
# What server/tests/ needs: the README's curl walkthrough runs as a test and uses curl, jq and
# sha256sum (coreutils); server/tests/service.rs runs notariumd under a descriptor limit
# (bash's ulimit, prlimit), in a user and mount namespace with a small tmpfs to fill a real
# disk (unshare, nsenter: util-linux) and on a terminal (script: bsdutils). curl comes from
# .ci/run (7.76 or later, for --fail-with-body: Debian 12 has 7.88). Idempotent: installs only
# what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v sha256sum >/dev/null 2>&1 || need+=(coreutils)
for tool in unshare nsenter prlimit; do
  command -v "$tool" >/dev/null 2>&1 || { need+=(util-linux); break; }
done
command -v script >/dev/null 2>&1 || need+=(bsdutils)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi
echo "$(jq --version), $(sha256sum --version | head -n1), $(unshare --version), $(script --version)"
