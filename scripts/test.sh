#!/usr/bin/env bash
# The whole test suite on a fresh machine of this kind: installs what the tests need (Debian
# packages, the busybox test image), then runs every test against the local Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for p in busybox-static chromium chromium-driver file; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
docker image inspect berth-test/busybox:latest >/dev/null 2>&1 || bash scripts/test-image.sh
cargo test --locked --all-targets "$@"
