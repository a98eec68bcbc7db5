#!/usr/bin/env bash
# What the reverse-proxy tests need (tests/tests/reverse_proxy.rs, tests/tests/dashboard.rs,
# tests/tests/operator.rs): Debian's nginx, which the tests run as a process of their own with a
# configuration of their own. The package's service is kept from starting on install (a
# temporary policy-rc.d), so nothing listens on port 80. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  policy=/usr/sbin/policy-rc.d
  made_policy=no
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    made_policy=yes
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nginx-light
  [ "$made_policy" = yes ] && rm -f "$policy"
fi
"$(command -v nginx || echo /usr/sbin/nginx)" -v
