#!/usr/bin/env bash
# What the PostgreSQL store's tests need (ledger/tests/postgres.rs, tests/tests/postgres.rs, the
# shared suites run on both stores): Debian's postgresql package, whose initdb and postgres the
# tests run as processes of their own, each on a private cluster in a temporary directory on
# 127.0.0.1 (ledger/src/test_postgres.rs). The package's own cluster is kept from starting on
# install (a temporary policy-rc.d), so nothing listens on port 5432. PostgreSQL refuses to run
# as root: when the tests run as root they run it as the unprivileged user made here.
# Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }

if ! have_pg; then
  policy=/usr/sbin/policy-rc.d
  made_policy=no
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    made_policy=yes
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql
  [ "$made_policy" = yes ] && rm -f "$policy"
fi

if ! id notarium-pg >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin notarium-pg
fi

initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)
echo "install-postgres: $("$initdb" --version); test clusters run as $(id -un notarium-pg) when root"
