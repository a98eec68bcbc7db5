#!/usr/bin/env bash
# What tests/tests/gitlab.rs needs (plugins/gitlab): gitlab-ci-local, pinned to a version that
# runs on the machine's Node.js 20 (4.74 and later need Node 22), and rsync, with which
# gitlab-ci-local's --shell-isolation copies artifacts and caches. git and curl come from
# .ci/run. Idempotent: installs only what is missing or at another version.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

GITLAB_CI_LOCAL_VERSION=4.73.0

need=()
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi

if [ "$(gitlab-ci-local --version 2>/dev/null || true)" != "$GITLAB_CI_LOCAL_VERSION" ]; then
  npm install -g --no-audit --no-fund "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION"
fi
echo "node $(node --version), gitlab-ci-local $(gitlab-ci-local --version), $(rsync --version | head -n1)"
