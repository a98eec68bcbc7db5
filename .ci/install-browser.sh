#!/usr/bin/env bash
# What the dashboard's browser tests (tests/tests/dashboard.rs) need: Debian's chromium at
# /usr/bin/chromium, Node.js with npm, and playwright-core as pinned in
# tests/browser/package-lock.json. playwright-core never downloads a browser: the tests launch
# the system's chromium. Idempotent: installs only what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core
fi

# playwright-core only; no browser download, no audit or funding chatter.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
want=$(node -p "require('./tests/browser/package-lock.json').packages['node_modules/playwright-core'].version")
have=$(node -p "try { require('./tests/browser/node_modules/playwright-core/package.json').version } catch { '' }")
if [ "$want" != "$have" ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "$(/usr/bin/chromium --version 2>/dev/null | head -n1), node $(node --version), playwright-core $(node -p "require('./tests/browser/node_modules/playwright-core/package.json').version")"
