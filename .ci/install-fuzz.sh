#!/usr/bin/env bash
# cargo-fuzz, for the short fuzz run of every target in .ci/run (docs/fuzzing.md). libFuzzer
# itself comes with the libfuzzer-sys crate (built from source with the C++ compiler); the
# targets build on the stable toolchain with RUSTC_BOOTSTRAP=1 for cargo-fuzz's -Z flags.
# Idempotent.
set -euo pipefail

want=0.13
if command -v cargo-fuzz >/dev/null 2>&1 && cargo fuzz --version | grep -q " $want"; then
  exit 0
fi
command -v c++ >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq g++; }
cargo install cargo-fuzz --locked --version "~$want"
