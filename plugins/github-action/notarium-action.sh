#!/usr/bin/env bash
# The "Run notarium" step of action.yml: maps the action's inputs (INPUT_* variables) to the
# notarium CLI, runs it once with --output json, and turns its JSON document into the step's
# outputs, a job summary table and annotations. The verdict is the CLI's exit code; this
# script only translates it (on-unreachable: warn turns exit 6 into a warning). It holds no
# ledger logic: hashing, proofs and the verified-checkpoint state are all the CLI's.
#
# It exits non-zero only when it cannot run notarium at all (bad inputs, a download whose
# SHA-256 does not match); otherwise the action's last step exits with the verdict, after the
# receipts and the state are saved.
set -euo pipefail

# Release binaries of notarium, and their SHA-256 per version and platform. A release of the
# action pins both; nothing downloaded runs unless its checksum matches.
NOTARIUM_RELEASES="https://github.com/notarium/notarium/releases/download"
pinned_sha256() { # VERSION PLATFORM
  case "$1/$2" in
    # "0.1.0/x86_64-linux") echo "<sha256>" ;;  -- filled in when a release is published
    *) echo "" ;;
  esac
}

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

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

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
[ "${#subjects[@]}" -gt 0 ] || die "no subjects: give files, directories or globs"

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
if [ -n "${INPUT_NOTARIUM_PATH:-}" ]; then
  notarium="$INPUT_NOTARIUM_PATH"
  [ -x "$notarium" ] || die "notarium-path '$notarium' is not an executable file"
elif notarium="$(command -v notarium)"; then
  :
else
  version="${INPUT_NOTARIUM_VERSION:-0.1.0}"
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) platform=x86_64-linux ;;
    Linux/aarch64 | Linux/arm64) platform=aarch64-linux ;;
    Darwin/x86_64) platform=x86_64-macos ;;
    Darwin/arm64) platform=aarch64-macos ;;
    *) die "no notarium release for $(uname -s)/$(uname -m): put notarium on PATH or set notarium-path" ;;
  esac
  url="${INPUT_NOTARIUM_URL:-$NOTARIUM_RELEASES/v$version/notarium-$version-$platform}"
  want="${INPUT_NOTARIUM_SHA256:-}"
  if [ -z "$want" ] && [ -z "${INPUT_NOTARIUM_URL:-}" ]; then
    want="$(pinned_sha256 "$version" "$platform")"
  fi
  [ -n "$want" ] || die "notarium is not on PATH and no SHA-256 is pinned for notarium $version on $platform: set notarium-sha256 (with notarium-url), or install notarium first"
  bin_dir="$(mktemp -d "${RUNNER_TEMP:-/tmp}/notarium-bin.XXXXXX")"
  echo "notarium is not on PATH: downloading $url"
  curl --fail --silent --show-error --location --retry 3 \
    --proto '=https,file' --proto-redir '=https' \
    --output "$bin_dir/notarium.download" "$url" ||
    die "cannot download notarium from $url"
  got="$(sha256_of "$bin_dir/notarium.download")"
  if [ "$(printf '%s' "$want" | tr '[:upper:]' '[:lower:]')" != "$got" ]; then
    rm -f "$bin_dir/notarium.download"
    die "checksum mismatch for $url: expected sha256 $want, got $got; not running it"
  fi
  mv "$bin_dir/notarium.download" "$bin_dir/notarium"
  chmod +x "$bin_dir/notarium"
  notarium="$bin_dir/notarium"
fi

# --- run ----------------------------------------------------------------------------------
args=(--output json "$mode")
receipts=""
case "$mode" in
  authenticate)
    while IFS= read -r s; do args+=(--signer "$s"); done < <(split_list "${INPUT_SIGNER:-}")
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
  echo "state-key=${GITHUB_JOB:-job}-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
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
      | "::error file=\(.subject | prop),title=\("Notarium: " + .status | prop)::\(.subject + " is " + .status + " (sha256 " + .sha256 + ")" | data)"
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
