#!/usr/bin/env bash
# End-to-end deploy latency: `peerctl deploy` until the local URL answers, against a plain `docker run -d` of the
# same image with the same confinement flags the provider gives its containers (printed below) until it answers,
# alternating in one run; plus start-up of each binary (--version) and the idle RSS of peercomputed. Needs the
# published binaries (build/publish.sh linux-x64, or BIN=dir), a running dockerd and the test image
# (build/ci/test-images.sh). Loopback only.
#   bench/deploy/bench.sh [--smoke] [ROUNDS]      (default 10 rounds; --smoke: 2 rounds, no aim checked)
# With BENCH_ROWS=file it appends the row `deploy` (TAB-separated, see bench/run.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
rounds=${1:-10}
[ "$smoke" = 1 ] && rounds=2
bin=${BIN:-artifacts/linux-x64}
image=peercompute-test/busybox:latest
network=peercompute0
aim=1.10
work=$(mktemp -d)
cleanup() {
  kill "${daemon:-0}" 2>/dev/null || true
  wait "${daemon:-0}" 2>/dev/null || true
  docker rm -f $(docker ps -aq --filter label=bench=deploy-plain) >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

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

# What ContainerSpecBuilder gives every deployment (RuntimeOptions' defaults), so the reference pays for the same.
confinement=(--cap-drop ALL --security-opt no-new-privileges --read-only --tmpfs /tmp:rw,nosuid,nodev,size=67108864
  --pids-limit 256 --ulimit nofile=1024:4096 --memory 32m --memory-swap 32m --cpus 0.1 --ipc private --cgroupns private
  --init --network "$network" --log-driver json-file --log-opt max-size=10m --log-opt max-file=3
  --restart unless-stopped)
# The reference publishes on a free port chosen beforehand (-p 127.0.0.1:PORT:8080), so it needs no `docker port`
# to know where it answers: the fastest plain Docker can be, where peerctl's answer carries its URL.
echo "reference: docker run -d ${confinement[*]} -p 127.0.0.1:PORT:8080 $image"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

now() { date +%s.%N; }
wait_http() { until curl -fs -m 1 "$1" >/dev/null; do :; done; }

pc=() dk=()
for i in $(seq 1 "$rounds"); do
  t0=$(now)
  url=$(PEERCOMPUTE_HOME=$U $bin/peerctl deploy $image --name b$i --port 8080 --memory 32MB --cpu 100m --json | python3 -c 'import sys,json; print(json.load(sys.stdin)["localUrl"])')
  wait_http "$url"
  pc+=("$(echo "$(now) - $t0" | bc)")
  PEERCOMPUTE_HOME=$U $bin/peerctl stop b$i >/dev/null

  hp=$(free_port)
  t0=$(now)
  cid=$(docker run -d --label bench=deploy-plain --hostname b$i "${confinement[@]}" -p 127.0.0.1:$hp:8080 $image)
  wait_http "http://127.0.0.1:$hp"
  dk+=("$(echo "$(now) - $t0" | bc)")
  docker rm -f "$cid" >/dev/null
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mp=$(median "${pc[@]}"); md=$(median "${dk[@]}")
ratio=$(echo "scale=2; $mp / $md" | bc | sed 's/^\./0./')
met=$(echo "$ratio <= $aim" | bc | sed 's/1/yes/;s/0/no/')
[ "$smoke" = 1 ] && met=-
ms() { printf '%.0f' "$(echo "$1 * 1000" | bc)"; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-36s %-26s %-10s %-7s %-8s %s\n' row ours reference ref ratio aim met
printf '%-8s %-36s %-26s %-10s %-7s %-8s %s\n' deploy "peerctl deploy -> answers $(ms "$mp") ms" "docker run -d -> answers" "$(ms "$md") ms" "${ratio}x" "<= ${aim}x" "$met"
echo "(medians of $rounds rounds; every round: peerctl ${pc[*]} s; docker ${dk[*]} s)"
if [ -n "${BENCH_ROWS:-}" ]; then
  printf 'deploy\t%s ms\tdocker run -d (same confinement) -> answers\t%s ms\t%sx\t<= %sx\t%s\n' "$(ms "$mp")" "$(ms "$md")" "$ratio" "$aim" "$met" >>"$BENCH_ROWS"
fi

rss=$(awk '/VmRSS/ {print $2}' /proc/$daemon/status)
echo "peercomputed idle RSS: ${rss} KiB"
n=20; [ "$smoke" = 1 ] && n=3
for program in peerctl peercomputed gateway; do
  [ -x "$bin/$program" ] || continue
  s=$(python3 - "$bin/$program" "$n" <<'PY'
import subprocess, sys, time
times = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter(); subprocess.run([sys.argv[1], "--version"], stdout=subprocess.DEVNULL, check=True); times.append(time.perf_counter() - t)
times.sort(); print(f"{times[len(times)//2]*1000:.1f}")
PY
)
  echo "$program --version: median ${s} ms"
done
t=$(python3 - "$n" <<'PY'
import subprocess, sys, time
times = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter(); subprocess.run(["/bin/true"], check=True); times.append(time.perf_counter() - t)
times.sort(); print(f"{times[len(times)//2]*1000:.1f}")
PY
)
echo "reference /bin/true: median ${t} ms"
