#!/usr/bin/env bash
# End-to-end deploy latency: `peerctl deploy` until the local URL answers, against plain `docker run -d`
# until the same image answers, alternating in one run; plus start-up of each binary (--version) and the
# idle RSS of peercomputed. Needs the published binaries (build/publish.sh linux-x64), a running dockerd and
# the test image (build/ci/test-images.sh). Loopback only.
#   bench/deploy/bench.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-10}
bin=artifacts/linux-x64
image=peercompute-test/busybox:latest
work=$(mktemp -d)
trap 'kill "${daemon:-0}" 2>/dev/null || true; docker rm -f $(docker ps -aq --filter label=bench=plain) >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

export CI=true
P="$work/provider" U="$work/user"
PEERCOMPUTE_HOME=$P $bin/peerctl init >/dev/null
PEERCOMPUTE_HOME=$U $bin/peerctl init >/dev/null
pid_p=$(PEERCOMPUTE_HOME=$P $bin/peerctl id); pid_u=$(PEERCOMPUTE_HOME=$U $bin/peerctl id)
PEERCOMPUTE_HOME=$P $bin/peerctl peers add "$pid_u" --name user >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PEERCOMPUTE_HOME=$P $bin/peercomputed --listen /ip4/127.0.0.1/tcp/$port --no-mdns --max-deploys 50 --max-memory 16GB --max-cpu 64000 >"$work/provider.log" 2>&1 &
daemon=$!
until grep -q " ready: " "$work/provider.log"; do kill -0 $daemon; sleep 0.1; done
PEERCOMPUTE_HOME=$U $bin/peerctl peers add "$pid_p" --name bench --addr /ip4/127.0.0.1/tcp/$port >/dev/null

now() { date +%s.%N; }
wait_http() { until curl -fs -m 1 "$1" >/dev/null; do :; done; }

pc=() dk=()
for i in $(seq 1 "$rounds"); do
  t0=$(now)
  url=$(PEERCOMPUTE_HOME=$U $bin/peerctl deploy $image --name b$i --port 8080 --memory 32MB --cpu 100m --json | python3 -c 'import sys,json; print(json.load(sys.stdin)["localUrl"])')
  wait_http "$url"
  pc+=("$(echo "$(now) - $t0" | bc)")
  PEERCOMPUTE_HOME=$U $bin/peerctl stop b$i >/dev/null

  t0=$(now)
  cid=$(docker run -d --label bench=plain -p 127.0.0.1::8080 --memory 32m --cpus 0.1 $image)
  hp=$(docker port "$cid" 8080/tcp | head -n1 | sed 's/.*://')
  wait_http "http://127.0.0.1:$hp"
  dk+=("$(echo "$(now) - $t0" | bc)")
  docker rm -f "$cid" >/dev/null
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mp=$(median "${pc[@]}"); md=$(median "${dk[@]}")
echo "deploy until the URL answers, median of $rounds: peerctl deploy ${mp}s, docker run -d ${md}s, ratio $(echo "scale=2; $mp / $md" | bc)x"

rss=$(awk '/VmRSS/ {print $2}' /proc/$daemon/status)
echo "peercomputed idle RSS: ${rss} KiB"
for program in peerctl peercomputed gateway; do
  s=$(python3 - "$bin/$program" <<'PY'
import subprocess, sys, time
times = []
for _ in range(20):
    t = time.perf_counter(); subprocess.run([sys.argv[1], "--version"], stdout=subprocess.DEVNULL, check=True); times.append(time.perf_counter() - t)
times.sort(); print(f"{times[len(times)//2]*1000:.1f}")
PY
)
  echo "$program --version: median ${s} ms"
done
t=$(python3 - <<'PY'
import subprocess, time
times = []
for _ in range(20):
    t = time.perf_counter(); subprocess.run(["/bin/true"], check=True); times.append(time.perf_counter() - t)
times.sort(); print(f"{times[len(times)//2]*1000:.1f}")
PY
)
echo "reference /bin/true: median ${t} ms"
