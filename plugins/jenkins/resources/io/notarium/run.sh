set +x
# Runs `notarium` for the library's steps (vars/notarium.groovy sets every NOTARIUM_* variable
# this reads). Thin on purpose: it finds or downloads notarium, turns the inputs into flags and
# runs it; the exit code is the verdict (DESIGN.md §6), which the Groovy step maps to a word.
# Jenkins runs `sh` steps with -x: tracing is off above, so that no expanded value is printed.
set -u

setup_failed() {
  echo "notarium: $1" >&2
  exit 64
}
# No result file afterwards tells the step that notarium never ran; one of an earlier call
# must not pass for this one's.
rm -f "$NOTARIUM_RESULTS"

# Where verified checkpoints are kept between builds: outside the workspace, in the agent
# user's state directory unless the step names another.
NOTARIUM_STATE_DIR=${NOTARIUM_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/notarium}
export NOTARIUM_STATE_DIR
[ -n "${NOTARIUM_API_KEY:-}" ] || unset NOTARIUM_API_KEY
[ -n "${NOTARIUM_VERIFIER_KEY:-}" ] || unset NOTARIUM_VERIFIER_KEY

# notarium: the one on PATH, else the pinned release, checked before it runs.
if command -v notarium >/dev/null 2>&1; then
  notarium=notarium
else
  url=$NOTARIUM_DOWNLOAD_URL
  want=$NOTARIUM_DOWNLOAD_SHA256
  [ -n "$url" ] || setup_failed "notarium is not on PATH and no notariumUrl is set"
  [ -n "$want" ] || setup_failed "notariumUrl needs notariumSha256"
  bin_dir="${WORKSPACE_TMP:-$PWD/.notarium-tmp}/notarium-bin"
  mkdir -p "$bin_dir"
  notarium="$bin_dir/notarium"
  echo "notarium: downloading $url"
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$notarium.part" "$url" || setup_failed "download failed: $url"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$notarium.part" "$url" || setup_failed "download failed: $url"
  else
    setup_failed "notarium is not on PATH, and neither curl nor wget is there to download it"
  fi
  if command -v sha256sum >/dev/null 2>&1; then
    got=$(sha256sum "$notarium.part" | cut -d' ' -f1)
  else
    got=$(shasum -a 256 "$notarium.part" | cut -d' ' -f1)
  fi
  if [ "$got" != "$want" ]; then
    rm -f "$notarium.part"
    setup_failed "checksum mismatch for $url: expected $want, got $got; not running it"
  fi
  chmod +x "$notarium.part"
  mv "$notarium.part" "$notarium"
fi

# Inputs to flags: one item a line (the Groovy step joined them); the shell expands no globs
# here, notarium does.
set -f
set --
old_ifs=$IFS
IFS='
'
for a in $NOTARIUM_ATTRIBUTES; do
  set -- "$@" --attr "$a"
done
for s in $NOTARIUM_SIGNERS; do
  set -- "$@" --signer "$s"
done
IFS=$old_ifs
set +f
if [ "$NOTARIUM_MODE" != authenticate ]; then
  set -- "$@" --ci --receipts "$NOTARIUM_RECEIPTS_DIR"
fi

# The subjects go in on stdin, one a line; `-` tells notarium to read them.
mkdir -p "$NOTARIUM_RECEIPTS_DIR"
code=0
printf '%s\n' "$NOTARIUM_SUBJECTS" | "$notarium" --output json "$NOTARIUM_MODE" "$@" - > "$NOTARIUM_RESULTS" || code=$?
cat "$NOTARIUM_RESULTS"
exit "$code"
