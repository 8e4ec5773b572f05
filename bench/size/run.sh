#!/usr/bin/env bash
# Size, idle memory and start-up of the three published programs (artifacts/linux-x64, build/publish.sh linux-x64):
#   1. file sizes, and the gateway against a hello-world Kestrel program (bench/size/KestrelHello) built the same
#      way (Native AOT, the repository's Directory.Build props and targets, linux-x64); built here, cached by the
#      hash of its inputs under artifacts/bench/kestrel-hello/;
#   2. idle RSS of peercomputed (a fresh PEERCOMPUTE_HOME made by `peerctl init`, --no-mdns, loopback, no gateway)
#      and of the gateway (self-signed, --open, free loopback ports) once each says it is ready;
#   3. `--version` start of each program against /bin/true (hyperfine --warmup 5 -N).
#
#   bench/size/run.sh [--smoke]      --smoke: fewer hyperfine runs, shorter settling; no thresholds.
#   bench/size/run.sh --build-reference    only build the reference (cached); AOT_PUBLISH_LOCK=held when the caller
#                                          already holds /tmp/aot-publish.lock (one Native AOT compilation at a time).
# With BENCH_ROWS set to a file, appends one TAB-separated row per figure (see bench/run.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

smoke=false; reference_only=false
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=true ;;
    --build-reference) reference_only=true ;;
    *) echo "size/run.sh: unknown argument '$arg' (usage: bench/size/run.sh [--smoke] [--build-reference])" >&2; exit 2 ;;
  esac
done
runs=200; settle=5
if $smoke; then runs=20; settle=1; fi

command -v hyperfine >/dev/null || { echo "size/run.sh: hyperfine is missing (apt-get install -y hyperfine)" >&2; exit 2; }
rid=linux-x64
artifacts="$root/artifacts/$rid"
for program in peerctl peercomputed gateway; do
  [ -x "$artifacts/$program" ] || { echo "size/run.sh: $artifacts/$program is missing: run build/publish.sh $rid first" >&2; exit 2; }
done

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The reference is rebuilt only when what goes into it changes.
hash="$(cat Directory.Build.props Directory.Build.targets Directory.Packages.props global.json \
  bench/size/KestrelHello/KestrelHello.csproj bench/size/KestrelHello/Program.cs | sha256sum | cut -c1-16)"
hello_dir="$root/artifacts/bench/kestrel-hello/$hash"
hello="$hello_dir/kestrel-hello"
if [ ! -x "$hello" ]; then
  echo "size/run.sh: building the Kestrel hello-world reference (Native AOT, once per change of its inputs)"
  bash build/libsodium.sh "$rid" >/dev/null
  rm -rf "$root/artifacts/bench/kestrel-hello"
  mkdir -p "$root/artifacts/bench"
  # One Native AOT compilation at a time on a shared machine: the same lock as build/publish.sh's callers.
  lock=(flock "${AOT_PUBLISH_LOCK:-/tmp/aot-publish.lock}")
  [ "${AOT_PUBLISH_LOCK:-}" = held ] && lock=()
  "${lock[@]}" dotnet publish bench/size/KestrelHello/KestrelHello.csproj \
    -c Release -r "$rid" -o "$hello_dir" -warnaserror -nodeReuse:false -clp:NoSummary >"$root/artifacts/bench/kestrel-hello.log" 2>&1 ||
    { cat "$root/artifacts/bench/kestrel-hello.log" >&2; echo "size/run.sh: the reference did not build" >&2; exit 1; }
fi

$reference_only && { echo "size/run.sh: reference: $hello"; exit 0; }

work="$(mktemp -d /tmp/pc-sizebench-XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { # a port nothing listens on now, outside the ephemeral range
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    ss -Htln "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
}
wait_line() { # file text timeout-seconds
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "size/run.sh: '$2' not seen in $1 within $3 s:" >&2; cat "$1" >&2; exit 1
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
row() { [ -z "${BENCH_ROWS:-}" ] || printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_ROWS"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
met() { awk "BEGIN { print (($1) ? \"yes\" : \"no\") }"; }   # met "A <= B" -> yes/no

# 1. sizes
declare -A size
for program in peerctl peercomputed gateway; do size[$program]=$(stat -c %s "$artifacts/$program"); done
hello_size=$(stat -c %s "$hello")
gateway_ratio=$(awk -v a="${size[gateway]}" -v b="$hello_size" 'BEGIN { printf "%.2f", a / b }')
echo "== sizes ($rid)"
printf '%-14s %12s bytes  %s\n' peerctl "${size[peerctl]}" "$(mb "${size[peerctl]}")" \
  peercomputed "${size[peercomputed]}" "$(mb "${size[peercomputed]}")" \
  gateway "${size[gateway]}" "$(mb "${size[gateway]}")" \
  kestrel-hello "$hello_size" "$(mb "$hello_size")"
echo "gateway / kestrel-hello: ${gateway_ratio}x"
# One line CI logs keep, to follow each program's growth from commit to commit (bench/size/README.md).
echo "size-line: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) peerctl=${size[peerctl]} peercomputed=${size[peercomputed]} gateway=${size[gateway]} kestrel-hello=$hello_size"
row size-peerctl "$(mb "${size[peerctl]}")" - - - "<= 8 MB" "$(met "${size[peerctl]} <= 8000000")"
row size-peercomputed "$(mb "${size[peercomputed]}")" - - - "<= 12 MB" "$(met "${size[peercomputed]} <= 12000000")"
row size-gateway "$(mb "${size[gateway]}")" "Kestrel hello-world, slim, AOT" "$(mb "$hello_size")" "${gateway_ratio}x" "<= 1.1x" \
  "$(met "$gateway_ratio <= 1.1")"

# 2. idle RSS, each program alone with its own state folder
echo "== idle RSS (after 'ready' and ${settle} s)"
daemon_port=$(free_port)
PEERCOMPUTE_HOME="$work/daemon" "$artifacts/peerctl" init >/dev/null
PEERCOMPUTE_HOME="$work/daemon" "$artifacts/peercomputed" --listen "/ip4/127.0.0.1/tcp/$daemon_port" --no-mdns \
  >"$work/daemon.log" 2>&1 </dev/null &
daemon_pid=$!; pids+=($daemon_pid)
https_port=$(free_port); tunnel_port=$(free_port)
while [ "$tunnel_port" = "$https_port" ] || [ "$tunnel_port" = "$daemon_port" ]; do tunnel_port=$(free_port); done
PEERCOMPUTE_HOME="$work/gateway" "$artifacts/gateway" --domain pc.localhost --self-signed --listen 127.0.0.1 \
  --https-port "$https_port" --tunnel-port "$tunnel_port" --relay-port 0 --open >"$work/gateway.log" 2>&1 </dev/null &
gateway_pid=$!; pids+=($gateway_pid)
wait_line "$work/daemon.log" "ready: serving" 60
wait_line "$work/gateway.log" "gateway up" 60
sleep "$settle"
daemon_rss=$(rss_kib $daemon_pid); gateway_rss=$(rss_kib $gateway_pid)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
printf '%-14s %s\n' peercomputed "$(mib "$daemon_rss")" gateway "$(mib "$gateway_rss")"
row idle-rss-peercomputed "$(mib "$daemon_rss")" - - - "<= 20 MiB" "$(met "$daemon_rss <= 20480")"
row idle-rss-gateway "$(mib "$gateway_rss")" - - - "<= 24 MiB" "$(met "$gateway_rss <= 24576")"
kill "$daemon_pid" "$gateway_pid"
wait "$daemon_pid" "$gateway_pid" 2>/dev/null || true
pids=()

# 3. start-up: --version, no shell in between (-N), against a program that does nothing
echo "== start-up: --version, hyperfine -N, $runs runs after 5 warm-ups"
hyperfine -N --warmup 5 --runs "$runs" --style none --export-csv "$work/start.csv" \
  /bin/true "$artifacts/peerctl --version" "$artifacts/peercomputed --version" "$artifacts/gateway --version" >/dev/null 2>"$work/hyperfine.err" ||
  { cat "$work/hyperfine.err" >&2; exit 1; }
# CSV: command,mean,stddev,median,user,system,min,max (seconds); the median is steadier than the mean on a busy box.
median_ms() { awk -F, -v c="$1" 'NR > 1 && $1 == c { printf "%.2f", $4 * 1000 }' "$work/start.csv"; }
true_ms=$(median_ms /bin/true)
printf '%-14s %6s ms\n' /bin/true "$true_ms"
for program in peerctl peercomputed gateway; do
  ms=$(median_ms "$artifacts/$program --version")
  [ -n "$ms" ] || { echo "size/run.sh: no hyperfine figure for $program" >&2; exit 1; }
  above=$(awk -v a="$ms" -v b="$true_ms" 'BEGIN { printf "%.2f", a - b }')
  ratio=$(awk -v a="$ms" -v b="$true_ms" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
  printf '%-14s %6s ms  (+%s ms)\n' "$program" "$ms" "$above"
  row "start-$program" "$ms ms (+$above ms)" /bin/true "$true_ms ms" "${ratio}x" "<= 5 ms above /bin/true" "$(met "$above <= 5")"
done
