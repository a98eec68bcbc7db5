#!/usr/bin/env bash
# Builds the fuzz targets and runs them (docs/fuzzing.md).
#
#   fuzz/run.sh smoke [SECONDS]        every target for SECONDS (default 5) each: what .ci/run does
#   fuzz/run.sh run TARGET [SECONDS]   one target for SECONDS (default 600), corpus grown in
#                                      $FUZZ_WORK/corpus/TARGET, findings in $FUZZ_WORK/artifacts
#   fuzz/run.sh merge TARGET           folds $FUZZ_WORK/corpus/TARGET into fuzz/corpus/TARGET,
#                                      minimised: the fewest inputs that keep every edge reached
#   fuzz/run.sh list                   the targets
#
# smoke and run read the committed corpora (fuzz/corpus/TARGET), never write them: new inputs go to
# $FUZZ_WORK (default: a temporary directory, removed after a smoke run). A run stops at its
# first finding and exits non-zero; the input is in $FUZZ_WORK/artifacts/TARGET/.
# Builds with cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP=1 lets it pass its -Z
# flags), without a sanitizer (the code is safe Rust: the checks look for panics and broken
# properties) and with debug assertions, so that an overflow is a finding.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
build=(cargo fuzz build --fuzz-dir targets --sanitizer none --debug-assertions)

targets() { cargo fuzz list --fuzz-dir targets; }

run_one() {
  local target=$1 seconds=$2 work=$3
  mkdir -p "$work/corpus/$target" "$work/artifacts/$target"
  cargo fuzz run --fuzz-dir targets --sanitizer none --debug-assertions "$target" \
    "$work/corpus/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$target/" 2>&1 |
    { grep -E '^(#[0-9]+.*(INITED|DONE)|stat::|==[0-9]+==|SUMMARY|.*panicked|thread .* panicked|Test unit written)' || true; }
  # grep hides libFuzzer's progress lines; the exit status is libFuzzer's (a finding: not 0).
  local status=("${PIPESTATUS[@]}")
  return "${status[0]}"
}

case "${1:-}" in
  list) targets ;;
  smoke)
    seconds=${2:-5}
    work=${FUZZ_WORK:-$(mktemp -d)}
    start=$(date +%s)
    "${build[@]}"
    echo "fuzz: built every target in $(( $(date +%s) - start ))s"
    failed=()
    for t in $(targets); do
      echo "== $t (${seconds}s)"
      run_one "$t" "$seconds" "$work" || failed+=("$t")
    done
    if [ -z "${FUZZ_WORK:-}" ]; then rm -rf "$work"; fi
    if [ ${#failed[@]} -gt 0 ]; then
      echo "fuzz: findings in ${failed[*]}" >&2
      exit 1
    fi
    echo "fuzz: every target ran ${seconds}s without a finding"
    ;;
  run)
    target=${2:?usage: fuzz/run.sh run TARGET [SECONDS]}
    seconds=${3:-600}
    work=${FUZZ_WORK:-$(mktemp -d)}
    echo "fuzz: work directory $work"
    "${build[@]}" "$target"
    run_one "$target" "$seconds" "$work"
    ;;
  merge)
    target=${2:?usage: fuzz/run.sh merge TARGET}
    grown=${FUZZ_WORK:?set FUZZ_WORK to the work directory of the run}/corpus/$target
    merged=$(mktemp -d)
    "${build[@]}" "$target"
    # Set cover over edges only (no hit counts): the committed corpora stay small, and every
    # edge a run reached is kept.
    cargo fuzz run --fuzz-dir targets --sanitizer none --debug-assertions "$target" \
      "$merged" "corpus/$target" "$grown" -- -set_cover_merge=1 -use_counters=0 2>&1 |
      grep -E '^MERGE-OUTER: [0-9]+ new files' || true
    rm -rf "corpus/$target"
    mv "$merged" "corpus/$target"
    chmod 755 "corpus/$target"
    echo "fuzz: corpus/$target: $(find "corpus/$target" -type f | wc -l) inputs, $(du -sh --apparent-size "corpus/$target" | cut -f1)"
    ;;
  *)
    sed -n '2,13p' "$here/run.sh" >&2
    exit 64
    ;;
esac
