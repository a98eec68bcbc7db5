#!/usr/bin/env bash
# What tests/tests/jenkins.rs needs (plugins/jenkins): Debian's groovy (2.4, the line Jenkins
# embeds) with the default JRE (its start script looks for /usr/lib/jvm/default-java), and
# npm-groovy-lint, pinned to a version that runs on the machine's Node.js 20 (17 and later need
# Node 22). Idempotent: installs only what is missing or at another version.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

NPM_GROOVY_LINT_VERSION=16.2.0

need=()
command -v groovy >/dev/null 2>&1 || need+=(groovy)
[ -e /usr/lib/jvm/default-java ] || need+=(default-jre-headless)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}"
fi

# `npm ls` exits 1 when the package is not installed: that is an answer here, not an error
# (with pipefail it would end the script on a clean machine).
installed=$( (npm ls -g --depth=0 --json npm-groovy-lint 2>/dev/null || true) \
  | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' | head -n1)
if [ "$installed" != "$NPM_GROOVY_LINT_VERSION" ]; then
  npm install -g --no-audit --no-fund "npm-groovy-lint@$NPM_GROOVY_LINT_VERSION"
fi
echo "$(groovy --version), npm-groovy-lint $NPM_GROOVY_LINT_VERSION"
