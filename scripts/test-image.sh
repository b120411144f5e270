#!/usr/bin/env bash
# Builds berth-test/busybox:latest without a registry: a root filesystem of busybox-static and
# its applet links, imported with `docker import`. Used by the tests and the benchmark.
set -euo pipefail
IMAGE=${1:-berth-test/busybox:latest}
BUSYBOX=$(command -v busybox || true)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q 'static'; then
  for c in /bin/busybox /usr/bin/busybox; do [ -x "$c" ] && BUSYBOX=$c && break; done
fi
[ -n "$BUSYBOX" ] || { echo "busybox not found: apt-get install busybox-static" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,etc,tmp,root,proc,sys,dev,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >> "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/bin' \
  --change 'CMD ["sh"]' \
  --change 'LABEL berth.fixture=busybox' \
  - "$IMAGE" >/dev/null
echo "built $IMAGE"
