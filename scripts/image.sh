#!/usr/bin/env bash
# Builds the image berth:latest (or $1) on this machine, without a registry: a statically linked
# release binary (glibc, crt-static; musl targets are not installed here) copied into an image
# FROM scratch. The build context holds only the binary, the Dockerfile and three empty folders.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-berth:latest}
HOST=$(rustc -vV | sed -n 's/^host: //p')
case "$HOST" in
  *-linux-gnu) ;;
  *) echo "scripts/image.sh builds on a Linux gnu host, not $HOST" >&2; exit 1 ;;
esac
# A separate --target keeps these flags away from the ordinary builds in target/release.
RUSTFLAGS='-C target-feature=+crt-static' cargo build --locked --release --target "$HOST" --bin berth
BIN=target/$HOST/release/berth
if ! file "$BIN" | grep -Eq 'statically linked|static-pie linked'; then
  echo "$BIN is not statically linked: $(file "$BIN")" >&2
  exit 1
fi
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$BIN" "$ctx/berth"
cp Dockerfile "$ctx/Dockerfile"
mkdir -p "$ctx/data" "$ctx/rootfs/tmp" "$ctx/rootfs/etc"
chmod 1777 "$ctx/rootfs/tmp"
printf 'root:x:0:0:root:/:/berth\nberth:x:65532:65532:berth:/data:/berth\n' > "$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nberth:x:65532:\n' > "$ctx/rootfs/etc/group"
old=$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
docker build --quiet --tag "$TAG" "$ctx" >/dev/null
new=$(docker image inspect -f '{{.Id}}' "$TAG")
# The image this build replaced is left untagged: remove it (unless a container still uses it).
if [ -n "$old" ] && [ "$old" != "$new" ]; then
  docker rmi "$old" >/dev/null 2>&1 || true
fi
echo "built $TAG ($(docker image inspect -f '{{.Size}}' "$TAG") bytes) from $BIN"
