#!/usr/bin/env bash
# The whole test suite on a fresh machine of this kind: installs what the tests need (Debian
# packages, the busybox test image), builds berth.exe for Windows (scripts/windows.sh: clippy for
# that target and the build, so the Wine test runs it and may not skip), then runs every test
# against the local Docker engine. BERTH_SKIP_WINDOWS=1 leaves the Windows build out for a quick
# local loop (the Wine test then skips, saying why); CI never sets it.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for p in busybox-static chromium chromium-driver file docker-registry apache2-utils docker-compose; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# schemathesis (PyPI) judges the OpenAPI description against the running Berth (tests/it/openapi.rs).
command -v schemathesis >/dev/null 2>&1 || python3 -m pip install -q schemathesis==4.32.5
docker image inspect berth-test/busybox:latest >/dev/null 2>&1 || bash scripts/test-image.sh
if [ "${BERTH_SKIP_WINDOWS:-}" != 1 ]; then
  bash scripts/windows.sh
  export BERTH_WINDOWS_EXE_REQUIRED=1
fi
cargo test --locked --all-targets "$@"
