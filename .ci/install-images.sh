#!/usr/bin/env bash
# What the container images need (scripts/images, tests/tests/images.rs): buildah to build
# them from scratch (no base image is pulled), podman and runc to run them, busybox-static for
# the shell and wget inside them, and ca-certificates for the CLI image's trust store.
# Debian packages; the same names exist on Ubuntu runners. Idempotent: installs only what is
# missing. Whether containers can *run* on a machine is for the test to find out (it says
# SKIPPED with the reason when they cannot); installing them must work everywhere.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v buildah >/dev/null 2>&1 || need+=(buildah)
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /bin/busybox ] || need+=(busybox-static)
[ -f /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-images: apt-get install ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "install-images: $(buildah --version), $(podman --version), $(runc --version | head -n1), $(/bin/busybox | head -n1)"
