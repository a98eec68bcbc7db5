#!/usr/bin/env bash
# What the release build needs (scripts/release, and the tests that run it: tests/tests/
# release.rs and the plugins' chain tests): zig from PyPI (package ziglang) as the C compiler
# and linker, and cargo-zigbuild from crates.io, which together link the Linux binaries
# against glibc 2.17 (x86_64-unknown-linux-gnu.2.17) so that they run on old runners; objdump
# (binutils) to prove which glibc they need; tar, gzip and zip for the archives. The same
# script runs in .github/workflows/release.yml. Idempotent: installs only what is missing or
# at another version.
#
# Extra Rust targets (musl, aarch64) are added only when asked:
#   NOTARIUM_RELEASE_TARGETS="x86_64-unknown-linux-musl aarch64-unknown-linux-gnu.2.17" .ci/install-release.sh
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

ZIGLANG_VERSION=0.14.1
CARGO_ZIGBUILD_VERSION=0.24.1

python=python3
command -v "$python" >/dev/null 2>&1 || { echo "install-release: python3 is missing" >&2; exit 1; }

if [ "$(uname -s)" = Linux ] && command -v apt-get >/dev/null 2>&1; then
  need=()
  command -v objdump >/dev/null 2>&1 || need+=(binutils)
  command -v zip >/dev/null 2>&1 || need+=(zip)
  command -v tar >/dev/null 2>&1 || need+=(tar)
  command -v gzip >/dev/null 2>&1 || need+=(gzip)
  if [ ${#need[@]} -gt 0 ]; then
    echo "install-release: apt-get install ${need[*]}"
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

pip_version() { "$python" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }
if [ "$(pip_version ziglang)" != "$ZIGLANG_VERSION" ]; then
  echo "install-release: pip install ziglang==$ZIGLANG_VERSION"
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "ziglang==$ZIGLANG_VERSION"
fi

have_zigbuild=$(cargo-zigbuild --version 2>/dev/null | sed -n 's/^cargo-zigbuild //p' || true)
if [ "$have_zigbuild" != "$CARGO_ZIGBUILD_VERSION" ]; then
  echo "install-release: cargo install cargo-zigbuild@$CARGO_ZIGBUILD_VERSION"
  cargo install --locked --quiet "cargo-zigbuild@$CARGO_ZIGBUILD_VERSION"
fi

for target in ${NOTARIUM_RELEASE_TARGETS:-}; do
  target=${target%%.*} # x86_64-unknown-linux-gnu.2.17 is cargo-zigbuild's; rustup knows no glibc suffix
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done

echo "install-release: ziglang $("$python" -m ziglang version), $(cargo-zigbuild --version), $(objdump --version | head -n1)"
