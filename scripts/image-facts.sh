#!/usr/bin/env bash
# Prints the facts of the berth:latest image (build it first: scripts/image.sh): its size, the
# cold start from `docker run` to the first 200 on /healthz, the idle RSS of the running
# container, and how long `docker stop` takes. Not a test: figures, to note and compare.
# Everything it creates is labelled berth.facts=<run> and removed on exit.
set -euo pipefail
IMAGE=${1:-berth:latest}
RUN=facts-$$
NAME=berth-$RUN
VOL=berth-$RUN-data
cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker volume rm -f "$VOL" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM
ms() { echo $(( $(date +%s%N) / 1000000 )); }

size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
printf 'image size        %s bytes (%.1f MB)\n' "$size" "$(echo "$size / 1000000" | bc -l)"

docker volume create --label "berth.facts=$RUN" "$VOL" >/dev/null
t0=$(ms)
docker run -d --restart always --name "$NAME" --label "berth.facts=$RUN" \
  -v "$VOL:/data" -v /var/run/docker.sock:/var/run/docker.sock -p 127.0.0.1::9000 "$IMAGE" >/dev/null
port=""
until [ -n "$port" ]; do port=$(docker port "$NAME" 9000/tcp 2>/dev/null | grep '^127.0.0.1:' | head -1 || true); done
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$port/healthz" || true)" = 200 ]; do
  [ $(( $(ms) - t0 )) -lt 30000 ] || { echo "no 200 on /healthz within 30 s" >&2; exit 1; }
  sleep 0.005
done
t1=$(ms)
echo "cold start        $(( t1 - t0 )) ms (docker run to first 200 on /healthz, $port)"

sleep 5
pid=$(docker inspect -f '{{.State.Pid}}' "$NAME")
if [ -r "/proc/$pid/status" ]; then
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  echo "idle RSS          $(( rss / 1024 )) MiB ($rss kB; peak $hwm kB) after 5 s"
fi
echo "docker stats      $(docker stats --no-stream --format '{{.MemUsage}}' "$NAME")"

t2=$(ms)
docker stop "$NAME" >/dev/null
t3=$(ms)
echo "docker stop       $(( t3 - t2 )) ms, exit code $(docker inspect -f '{{.State.ExitCode}}' "$NAME")"
