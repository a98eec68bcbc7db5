#!/usr/bin/env bash
# The steps of action.yml that run shell: `prepare` names what the later steps share (the
# state's cache keys and the receipts artifact); `run` maps the action's inputs (INPUT_*
# variables) to the notarium CLI, runs it once with --output json, and turns its JSON document
# into the step's outputs, a job summary table and annotations. The verdict is the CLI's exit
# code; this script only translates it (on-unreachable: warn turns exit 6 into a warning). It
# holds no ledger logic: hashing, proofs and the verified-checkpoint state are all the CLI's.
#
# The credential: the job's OpenID Connect ID token when the job may request one
# (ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN, set by `permissions: id-token: write`) and the
# oidc input is true, else the api-key input. Either reaches notarium only as NOTARIUM_API_KEY
# in its environment (never on a command line) and is masked before anything could print it.
#
# `run` exits non-zero only when it cannot run notarium at all (bad inputs, a download whose
# SHA-256 does not match); otherwise the action's last step exits with the verdict, after the
# receipts and the state are saved.
set -euo pipefail

# The notarium release this version of the action downloads when notarium is not on PATH,
# and the SHA-256 of each of its archives: nothing else is unpacked or run.
# notarium-pins:start (written by scripts/pin from the release's SHA256SUMS; do not edit)
notarium_pinned_version=0.1.0
notarium_pinned_sha256() {
  case "$1" in
    *) echo "" ;;
  esac
}
# notarium-pins:end

out="${GITHUB_OUTPUT:-/dev/null}"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"

die() { # MESSAGE: an annotation, and no notarium run
  printf '::error title=Notarium::%s\n' "$(escape_data "$1")"
  {
    echo "status=usage"
    echo "exit-code=64"
    echo "verdict=64"
  } >>"$out"
  exit 64
}

# Workflow command escaping (message data, and property values).
escape_data() { local s=${1//%/%25}; s=${s//$'\r'/%0D}; printf '%s' "${s//$'\n'/%0A}"; }

# Prints the items of a newline- or comma-separated list, one a line, trimmed, empties dropped.
split_list() {
  local item
  printf '%s\n' "$1" | tr ',' '\n' | while IFS= read -r item; do
    item="${item#"${item%%[![:space:]]*}"}"
    item="${item%"${item##*[![:space:]]}"}"
    [ -n "$item" ] && printf '%s\n' "$item"
  done
  return 0
}

# The SHA-256 of standard input, as hex.
sha256_stdin() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi | cut -c1-64
}

# --- prepare ------------------------------------------------------------------------------
if [ "${1:-run}" = prepare ]; then
  # One cache scope per server and ledger: ledger names can be prefixes of each other
  # (default, default-eu), and restore-keys match by prefix; a fixed-length hash of both
  # cannot be a prefix of another's.
  scope=$(printf '%s\n%s\n' "${INPUT_SERVER:-}" "${INPUT_LEDGER:-default}" | sha256_stdin | cut -c1-16)
  prefix="notarium-state-${RUNNER_OS:-Linux}-$scope-"
  run="${GITHUB_RUN_ID:-0}-${GITHUB_RUN_ATTEMPT:-1}"
  nonce=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  {
    echo "state-dir=${INPUT_STATE_DIR:-${RUNNER_TEMP:-/tmp}/notarium-state}"
    echo "cache-key=$prefix$run"
    echo "cache-restore-prefix=$prefix"
    # Cache entries are immutable: every save gets a key of its own.
    echo "cache-save-key=$prefix$run-${GITHUB_JOB:-job}-$nonce"
    # Matrix legs share the job id; the nonce keeps their artifacts apart.
    echo "artifact-name=${INPUT_ARTIFACT_NAME:-notarium-receipts-${GITHUB_JOB:-job}-$nonce}"
  } >>"$out"
  exit 0
fi
[ "${1:-run}" = run ] || die "unknown command '$1' (prepare or run)"

# --- inputs -------------------------------------------------------------------------------
mode="${INPUT_MODE:-authenticate}"
case "$mode" in
  notarize | untrust | unsupport | authenticate) ;;
  *) die "mode must be notarize, authenticate, untrust or unsupport, not '$mode'" ;;
esac
on_unreachable="${INPUT_ON_UNREACHABLE:-fail}"
case "$on_unreachable" in
  fail | warn) ;;
  *) die "on-unreachable must be fail or warn, not '$on_unreachable'" ;;
esac
[ -n "${INPUT_SERVER:-}" ] || die "the server input is required"

subjects=()
while IFS= read -r s; do subjects+=("$s"); done < <(split_list "${INPUT_SUBJECTS:-}")
# subject-name and subject-digest, as actions/attest takes them: one image, oci://NAME@DIGEST.
if [ -n "${INPUT_SUBJECT_NAME:-}${INPUT_SUBJECT_DIGEST:-}" ]; then
  if [ -z "${INPUT_SUBJECT_NAME:-}" ] || [ -z "${INPUT_SUBJECT_DIGEST:-}" ]; then
    die "subject-name and subject-digest go together (an image name and its sha256: digest)"
  fi
  subjects+=("oci://${INPUT_SUBJECT_NAME#oci://}@${INPUT_SUBJECT_DIGEST}")
fi
[ "${#subjects[@]}" -gt 0 ] || die "no subjects: give files, directories, globs or oci:// images, or subject-name and subject-digest"

oidc="${INPUT_OIDC:-true}"
case "$oidc" in
  true | false) ;;
  *) die "oidc must be true or false, not '$oidc'" ;;
esac
audience="${INPUT_AUDIENCE:-notarium}"

# The signer policy (authenticate only): each given input becomes its --signer-* flag.
policy=()
for p in issuer:"${INPUT_SIGNER_ISSUER:-}" repository:"${INPUT_SIGNER_REPOSITORY:-}" \
  workflow:"${INPUT_SIGNER_WORKFLOW:-}" ref:"${INPUT_SIGNER_REF:-}"; do
  value="${p#*:}"
  value="${value#"${value%%[![:space:]]*}"}"
  value="${value%"${value##*[![:space:]]}"}"
  [ -n "$value" ] || continue
  [ "$mode" = authenticate ] || die "signer-${p%%:*} is for mode authenticate, not $mode"
  policy+=("--signer-${p%%:*}" "$value")
done

if [ -n "${NOTARIUM_API_KEY:-}" ]; then
  # The runner hides the key from every later line of the log.
  echo "::add-mask::${NOTARIUM_API_KEY}"
  export NOTARIUM_API_KEY
else
  unset NOTARIUM_API_KEY
fi

export NOTARIUM_SERVER="$INPUT_SERVER"
export NOTARIUM_LEDGER="${INPUT_LEDGER:-default}"
export NOTARIUM_STATE_DIR="${INPUT_STATE_DIR:-${RUNNER_TEMP:-/tmp}/notarium-state}"
mkdir -p "$NOTARIUM_STATE_DIR"
if [ -n "${INPUT_VERIFIER_KEY:-}" ]; then
  export NOTARIUM_VERIFIER_KEY="$INPUT_VERIFIER_KEY"
else
  unset NOTARIUM_VERIFIER_KEY
fi
unset NOTARIUM_API_KEY_FILE NOTARIUM_OUTPUT

# --- notarium -----------------------------------------------------------------------------
# A failure before notarium could run: it gets its own status word.
notarium_fail() {
  printf '::error title=Notarium: setup failed::%s\n' "$(escape_data "$1")"
  {
    echo "status=setup_failed"
    echo "exit-code=64"
    echo "verdict=64"
  } >>"$out"
  exit 64
}
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
if [ -n "${INPUT_NOTARIUM_PATH:-}" ]; then
  notarium="$INPUT_NOTARIUM_PATH"
  [ -x "$notarium" ] || die "notarium-path '$notarium' is not an executable file"
elif notarium="$(command -v notarium)"; then
  :
else
  echo "notarium is not on PATH: downloading the release"
  notarium_download "${INPUT_NOTARIUM_VERSION:-}" "${INPUT_NOTARIUM_BASE_URL:-}" \
    "${INPUT_NOTARIUM_SHA256:-}" "$(mktemp -d "${RUNNER_TEMP:-/tmp}/notarium-bin.XXXXXX")"
  notarium="$notarium_bin"
  # notarium and notarium-github for the job's later steps, as an installer step would.
  if [ -n "${GITHUB_PATH:-}" ]; then
    dirname "$notarium" >>"$GITHUB_PATH"
  fi
fi

# --- credential ---------------------------------------------------------------------------
# percent_encode TEXT: TEXT as a URL query value (RFC 3986 unreserved characters kept).
percent_encode() {
  local LC_ALL=C text=$1 out="" c i
  for ((i = 0; i < ${#text}; i++)); do
    c=${text:i:1}
    case "$c" in
      [A-Za-z0-9.~_-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

# request_id_token AUDIENCE: prints the job's ID token for AUDIENCE, as GitHub's toolkit asks
# for it (GET ACTIONS_ID_TOKEN_REQUEST_URL&audience=…, bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN,
# the token in .value). The request token goes to curl on stdin, never on its command line;
# nothing of an answer is printed, since it may hold the token.
request_id_token() {
  local url=$ACTIONS_ID_TOKEN_REQUEST_URL sep='&' answer token
  case "$url" in *\?*) ;; *) sep='?' ;; esac
  url="$url${sep}audience=$(percent_encode "$1")"
  command -v curl >/dev/null 2>&1 || {
    echo "requesting the job's ID token needs curl on the runner" >&2
    return 1
  }
  case "$ACTIONS_ID_TOKEN_REQUEST_TOKEN" in
    *[!A-Za-z0-9._~+/=-]*) echo "ACTIONS_ID_TOKEN_REQUEST_TOKEN is not a bearer token" >&2; return 1 ;;
  esac
  answer=$(printf 'header = "Authorization: bearer %s"\n' "$ACTIONS_ID_TOKEN_REQUEST_TOKEN" |
    curl --silent --show-error --fail --retry 3 --max-time 30 --config - -- "$url") || return 1
  if command -v jq >/dev/null 2>&1; then
    token=$(printf '%s' "$answer" | jq -r '.value // empty' 2>/dev/null) || token=""
  else
    token=$(printf '%s' "$answer" | tr -d '\n' |
      sed -n 's/.*"value"[[:space:]]*:[[:space:]]*"\([A-Za-z0-9_.-]*\)".*/\1/p')
  fi
  if ! [[ "$token" =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]; then
    echo "the answer holds no ID token (.value)" >&2
    return 1
  fi
  printf '%s' "$token"
}

# Requested here, just before notarium runs: an ID token lives minutes.
credential="api-key"
if [ "$oidc" = true ] && [ -n "${ACTIONS_ID_TOKEN_REQUEST_URL:-}" ] &&
  [ -n "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:-}" ]; then
  if ! id_token=$(request_id_token "$audience"); then
    printf '::error title=Notarium: unauthorized::%s\n' "$(escape_data "cannot request the job's OIDC ID token (audience $audience); set oidc: false to use the api-key input instead")"
    {
      echo "status=unauthorized"
      echo "exit-code=7"
      echo "verdict=7"
    } >>"$out"
    exit 0
  fi
  # The runner hides the token from every later line of the log.
  echo "::add-mask::${id_token}"
  NOTARIUM_API_KEY="$id_token"
  export NOTARIUM_API_KEY
  unset id_token
  credential="the job's OIDC ID token (audience $audience)"
fi
if [ -n "${NOTARIUM_API_KEY:-}" ]; then
  echo "notarium: credential: $credential"
else
  echo "notarium: credential: none (no api-key, no OIDC ID token)"
fi

# --- run ----------------------------------------------------------------------------------
args=(--output json "$mode")
receipts=""
case "$mode" in
  authenticate)
    while IFS= read -r s; do args+=(--signer "$s"); done < <(split_list "${INPUT_SIGNER:-}")
    [ "${#policy[@]}" -eq 0 ] || args+=("${policy[@]}")
    ;;
  *)
    receipts="${INPUT_RECEIPTS_DIR:-}"
    [ -n "$receipts" ] || receipts="$(mktemp -d "${RUNNER_TEMP:-/tmp}/notarium-receipts.XXXXXX")"
    mkdir -p "$receipts"
    receipts="$(cd "$receipts" && pwd)"
    args+=(--ci --receipts "$receipts")
    while IFS= read -r a; do args+=(--attr "$a"); done < <(split_list "${INPUT_ATTRIBUTES:-}")
    ;;
esac
args+=(-- "${subjects[@]}")

json_file="$(mktemp "${RUNNER_TEMP:-/tmp}/notarium-json.XXXXXX")"
echo "notarium ${args[*]}"
set +e
"$notarium" "${args[@]}" >"$json_file"
code=$?
set -e

case "$code" in
  0) if [ "$mode" = authenticate ]; then status=trusted; else status=notarized; fi ;;
  1) status=untrusted ;;
  2) status=unknown ;;
  3) status=unsupported ;;
  4) status=revoked ;;
  5) status=verification_failed ;;
  6) status=server_unreachable ;;
  7) status=unauthorized ;;
  8) status=signer_mismatch ;;
  *) status=usage ;;
esac

have_jq=false
command -v jq >/dev/null 2>&1 && have_jq=true
if $have_jq && ! jq -e 'type == "object"' "$json_file" >/dev/null 2>&1; then
  jq -n --argjson code "$code" --arg reason "$status" \
    '{exit_code: $code, error: "notarium printed no JSON document (see the log)", reason: $reason}' >"$json_file"
fi

verdict="$code"
if [ "$code" -eq 6 ] && [ "$on_unreachable" = warn ]; then
  verdict=0
fi

# --- outputs ------------------------------------------------------------------------------
delimiter="NOTARIUM_JSON_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
{
  echo "status=$status"
  echo "exit-code=$code"
  echo "verdict=$verdict"
  echo "receipts=$receipts"
  echo "json<<$delimiter"
  cat "$json_file"
  echo
  echo "$delimiter"
} >>"$out"

# --- summary and annotations --------------------------------------------------------------
{
  echo "### Notarium $mode: $status (exit $code)"
  echo
  if $have_jq && jq -e '(.results // []) | length > 0' "$json_file" >/dev/null; then
    echo "| | Subject | Status | SHA-256 | Index | Signer |"
    echo "|---|---|---|---|---|---|"
    jq -r '
      def cell: tostring | gsub("[|]"; "\\|") | gsub("[`\r\n]"; " ");
      .results[]
      | (if .code == 0 then "✅" elif .code == 6 then "⚠️" else "❌" end) as $icon
      | "| \($icon) | `\(.subject | cell)` | \(.status | cell) | `\(.sha256[0:16])…` | \(.index // "-") | \(.signer // "-" | cell) |"
    ' "$json_file"
    # Why a signer policy did not match, one line per file.
    jq -r '
      def cell: tostring | gsub("[|]"; "\\|") | gsub("[`\r\n]"; " ");
      [.results[] | select(.signer_policy.matched == false)]
      | if length > 0 then
          "\nSigner policy not matched:\n",
          (.[] | "- `\(.subject | cell)`: \(.signer_policy.mismatches // [] | join("; ") | cell)")
        else empty end
    ' "$json_file"
  elif $have_jq; then
    jq -r '"**\(.reason // "error")**: \(.error // "no artifacts" | tostring | gsub("[\r\n]"; " "))"' "$json_file"
  else
    echo "(install jq on the runner for the per-artifact table; the JSON is in the json output)"
  fi
  if [ -n "$receipts" ]; then
    echo
    echo "Receipts: \`$receipts\`"
  fi
} >>"$summary"

if $have_jq; then
  jq -r '
    def data: tostring | gsub("%"; "%25") | gsub("\r"; "%0D") | gsub("\n"; "%0A");
    def prop: data | gsub(":"; "%3A") | gsub(","; "%2C");
    if (.results // []) | length > 0 then
      .results[] | select(.code != 0)
      | ((.signer_policy.mismatches // []) | if length > 0 then ": " + join("; ") else "" end) as $why
      | "::error file=\(.subject | prop),title=\("Notarium: " + .status | prop)::\(.subject + " is " + .status + " (sha256 " + .sha256 + ")" + $why | data)"
    elif .exit_code != 0 and .exit_code != 6 then
      "::error title=\("Notarium: " + (.reason // "error") | prop)::\(.error // "failed" | data)"
    else empty end
  ' "$json_file"
fi
if [ "$code" -eq 6 ]; then
  if [ "$on_unreachable" = warn ]; then
    echo "::warning title=Notarium: server unreachable::The Notarium server could not be reached or failed (exit 6); continuing because on-unreachable is warn."
  else
    echo "::error title=Notarium: server unreachable::The Notarium server could not be reached or failed (exit 6); set on-unreachable: warn to continue in that case."
  fi
elif [ "$code" -ne 0 ] && ! $have_jq; then
  echo "::error title=Notarium: $status::notarium exited $code ($status)"
fi
exit 0
