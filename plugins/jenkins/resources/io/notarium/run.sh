set +x
# Runs `notarium` for the library's steps (vars/notarium.groovy sets every NOTARIUM_* variable
# this reads). Thin on purpose: it finds or downloads notarium, turns the inputs into flags and
# runs it; the exit code is the verdict (docs/cli.md), which the Groovy step maps to a word.
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
# The bound credential: the OpenID Connect id token when one is bound (idTokenCredentialsId),
# else the API key (credentialsId); notarium reads either from NOTARIUM_API_KEY. A key file named
# in the environment must not replace it.
if [ -n "${NOTARIUM_ID_TOKEN:-}" ]; then
  NOTARIUM_API_KEY=$NOTARIUM_ID_TOKEN
  notarium_credential="the OpenID Connect id token (idTokenCredentialsId)"
else
  notarium_credential="the API key (credentialsId)"
fi
unset NOTARIUM_ID_TOKEN
if [ -n "${NOTARIUM_API_KEY:-}" ]; then
  export NOTARIUM_API_KEY
  unset NOTARIUM_API_KEY_FILE
  echo "notarium: credential: $notarium_credential"
else
  unset NOTARIUM_API_KEY
  notarium_credential=
fi
[ -n "${NOTARIUM_VERIFIER_KEY:-}" ] || unset NOTARIUM_VERIFIER_KEY

# The notarium release this version of the library downloads when notarium is not on the
# agent's PATH, and the SHA-256 of each of its archives: nothing else is unpacked or run.
# notarium-pins:start (written by scripts/pin from the release's SHA256SUMS; do not edit)
notarium_pinned_version=0.1.0
notarium_pinned_sha256() {
  case "$1" in
    *) echo "" ;;
  esac
}
# notarium-pins:end
notarium_fail() { setup_failed "$1"; }
# notarium-download:start (the same in the three plugins; scripts/pin writes the pins above)
# notarium_download VERSION BASE_URL SHA256 DIR: downloads notarium's CLI archive for this
# machine from BASE_URL (default: the project's release of VERSION, default: the pinned
# version), checks its SHA-256 (SHA256, default: the pinned one) before anything is unpacked,
# unpacks it into DIR and sets notarium_bin. Every failure goes to notarium_fail.
notarium_download() {
  notarium_version=${1:-$notarium_pinned_version}
  notarium_base=${2:-https://github.com/notarium/notarium/releases/download/v$notarium_version}
  notarium_base=${notarium_base%/}
  notarium_want=$(printf '%s' "$3" | tr 'A-F' 'a-f')
  notarium_dir=$4
  notarium_ext=tar.gz
  notarium_exe=notarium
  case "$(uname -m)" in
    x86_64 | amd64) notarium_arch=x86_64 ;;
    aarch64 | arm64) notarium_arch=aarch64 ;;
    *) notarium_fail "notarium is not on PATH and there is no notarium release for $(uname -m) processors: install notarium first" ;;
  esac
  case "$(uname -s)" in
    Linux)
      if ls /lib/ld-musl-* >/dev/null 2>&1; then
        notarium_platform=$notarium_arch-linux-musl
      else
        notarium_platform=$notarium_arch-linux
      fi ;;
    Darwin) notarium_platform=$notarium_arch-macos ;;
    MINGW* | MSYS* | CYGWIN*) notarium_platform=$notarium_arch-windows notarium_ext=zip notarium_exe=notarium.exe ;;
    *) notarium_fail "notarium is not on PATH and there is no notarium release for $(uname -s): install notarium first" ;;
  esac
  notarium_stem=notarium-$notarium_version-$notarium_platform
  notarium_file=$notarium_stem.$notarium_ext
  notarium_url=$notarium_base/$notarium_file
  if [ -z "$notarium_want" ] && [ "$notarium_version" = "$notarium_pinned_version" ]; then
    notarium_want=$(notarium_pinned_sha256 "$notarium_file")
  fi
  if [ -z "$notarium_want" ]; then
    notarium_fail "notarium is not on PATH, and this plugin pins no SHA-256 for $notarium_file (it pins notarium $notarium_pinned_version): give the SHA-256 that the release's SHA256SUMS lists for $notarium_file, or install notarium first"
  fi
  mkdir -p "$notarium_dir" || notarium_fail "cannot create $notarium_dir"
  rm -rf "${notarium_dir:?}/$notarium_stem" "$notarium_dir/$notarium_file.part"
  echo "notarium: downloading $notarium_url" >&2
  case "$notarium_url" in
    file://*) cp "${notarium_url#file://}" "$notarium_dir/$notarium_file.part" ;;
    *)
      if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$notarium_dir/$notarium_file.part" "$notarium_url"
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$notarium_dir/$notarium_file.part" "$notarium_url"
      else
        notarium_fail "notarium is not on PATH, and neither curl nor wget is there to download it"
      fi ;;
  esac || notarium_fail "cannot download $notarium_url"
  if command -v sha256sum >/dev/null 2>&1; then
    notarium_got=$(sha256sum "$notarium_dir/$notarium_file.part" | cut -d' ' -f1)
  else
    notarium_got=$(shasum -a 256 "$notarium_dir/$notarium_file.part" | cut -d' ' -f1)
  fi
  if [ "$notarium_got" != "$notarium_want" ]; then
    rm -f "$notarium_dir/$notarium_file.part"
    notarium_fail "SHA-256 mismatch for $notarium_url: expected $notarium_want, got $notarium_got; nothing was unpacked or run. A mirror must serve the release's files unchanged (compare them with the release's SHA256SUMS); a SHA-256 given to the plugin must be the one SHA256SUMS lists for $notarium_file"
  fi
  mv "$notarium_dir/$notarium_file.part" "$notarium_dir/$notarium_file"
  if [ "$notarium_ext" = zip ]; then
    unzip -q -o "$notarium_dir/$notarium_file" -d "$notarium_dir"
  else
    tar -xzf "$notarium_dir/$notarium_file" -C "$notarium_dir"
  fi || notarium_fail "cannot unpack $notarium_file"
  notarium_bin=$notarium_dir/$notarium_stem/$notarium_exe
  [ -x "$notarium_bin" ] || notarium_fail "$notarium_file holds no $notarium_exe"
}
# notarium-download:end
# notarium: the one on PATH, else the pinned release, checked before it runs.
if command -v notarium >/dev/null 2>&1; then
  notarium=notarium
else
  notarium_download "$NOTARIUM_DOWNLOAD_VERSION" "$NOTARIUM_DOWNLOAD_BASE_URL" \
    "$NOTARIUM_DOWNLOAD_SHA256" "${WORKSPACE_TMP:-$PWD/.notarium-tmp}/notarium-bin"
  notarium=$notarium_bin
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
# The signer policy (authenticate): who must have built the subjects, verified.
[ -z "${NOTARIUM_SIGNER_ISSUER:-}" ] || set -- "$@" --signer-issuer "$NOTARIUM_SIGNER_ISSUER"
[ -z "${NOTARIUM_SIGNER_REPOSITORY:-}" ] || set -- "$@" --signer-repository "$NOTARIUM_SIGNER_REPOSITORY"
[ -z "${NOTARIUM_SIGNER_WORKFLOW:-}" ] || set -- "$@" --signer-workflow "$NOTARIUM_SIGNER_WORKFLOW"
[ -z "${NOTARIUM_SIGNER_REF:-}" ] || set -- "$@" --signer-ref "$NOTARIUM_SIGNER_REF"
if [ "$NOTARIUM_MODE" != authenticate ]; then
  set -- "$@" --ci --receipts "$NOTARIUM_RECEIPTS_DIR"
fi

# The subjects go in on stdin, one a line; `-` tells notarium to read them.
mkdir -p "$NOTARIUM_RECEIPTS_DIR"
code=0
printf '%s\n' "$NOTARIUM_SUBJECTS" | "$notarium" --output json "$NOTARIUM_MODE" "$@" - > "$NOTARIUM_RESULTS" || code=$?
cat "$NOTARIUM_RESULTS"
if [ "$code" = 7 ] && [ -n "$notarium_credential" ] && [ "${notarium_credential#the OpenID}" != "$notarium_credential" ]; then
  echo "notarium: the server refused the id token: its oidc configuration must trust this Jenkins (the credential's issuer and audience), and a rule must grant this job the ledger (docs/oidc.md)" >&2
fi
exit "$code"
