#!/usr/bin/env bash
# Gateway memory per idle tunnel: N simulated providers (bench/gateway/TunnelLoad idle: each its own identity, TLS
# 1.3 session, yamux session and route) connect to one gateway on loopback; the gateway's RSS before and after,
# divided by N. Uses $PEERCOMPUTE_GATEWAY, else artifacts/linux-x64/gateway (build/publish.sh linux-x64).
#
#   bench/gateway/idle-tunnels.sh [N] [--smoke]      N: 10000 (needs `ulimit -n` of 20000: each side holds one
#                                                     descriptor per tunnel); --smoke: 100 tunnels, no threshold.
# 10000 tunnels is outside CI (the descriptor limit, and a few minutes of handshakes on two cores); bench/run.sh
# runs it when the limit can be raised. With BENCH_ROWS set to a file, appends the row gateway-10k-idle.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

count=10000; smoke=false
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=true; count=100 ;;
    *[!0-9]* | '') echo "idle-tunnels.sh: unknown argument '$arg' (usage: idle-tunnels.sh [N] [--smoke])" >&2; exit 2 ;;
    *) count=$arg ;;
  esac
done
settle=10; $smoke && settle=2
need=$((count + 1000))
if [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || {
    echo "idle-tunnels.sh: $count tunnels need 'ulimit -n' >= $need (hard limit here: $(ulimit -Hn)); raise it or pass a smaller N" >&2
    exit 2
  }
fi

gateway=${PEERCOMPUTE_GATEWAY:-$root/artifacts/linux-x64/gateway}
[ -x "$gateway" ] || { echo "idle-tunnels.sh: $gateway is missing: run build/publish.sh linux-x64 first" >&2; exit 2; }
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
dotnet build -c Release bench/gateway/TunnelLoad -v q -nologo >/dev/null
load="$root/bench/gateway/TunnelLoad/bin/Release/net10.0/TunnelLoad"

work="$(mktemp -d /tmp/pc-idletunnels-XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    ss -Htln "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
}
wait_line() { # file text timeout-seconds pid
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$4" 2>/dev/null || break
    sleep 0.2
  done
  echo "idle-tunnels.sh: '$2' not seen in $1:" >&2; tail -20 "$1" >&2; exit 1
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

https=$(free_port); tunnel=$(free_port); metrics=$(free_port)
export PEERCOMPUTE_HOME="$work/home"
# Handshakes come in batches of 50 from one address: let them through (the default, 8, is for the open internet).
"$gateway" --domain pc.localhost --self-signed --listen 127.0.0.1 --https-port "$https" --tunnel-port "$tunnel" \
  --relay-port 0 --metrics-port "$metrics" --open --tunnel-handshakes-per-address 64 \
  >"$work/gateway.log" 2>&1 </dev/null &
gateway_pid=$!; pids+=($gateway_pid)
wait_line "$work/gateway.log" "gateway up" 60 $gateway_pid
pin="$("$gateway" pin)"
sleep "$settle"
base=$(rss_kib $gateway_pid)

t0=$SECONDS
"$load" idle "$tunnel" "$pin" "$count" >"$work/idle.log" 2>&1 </dev/null &
pids+=($!)
wait_line "$work/idle.log" "ready" $((60 + count / 10)) $!
connect_s=$((SECONDS - t0))
sleep "$settle"
loaded=$(rss_kib $gateway_pid)
tunnels=$(curl -s "http://127.0.0.1:$metrics/metrics" | awk '/^peercompute_gateway_active_tunnels/ {print $2}')
[ "${tunnels:-0}" -eq "$count" ] || { echo "idle-tunnels.sh: the gateway reports ${tunnels:-no} active tunnels, expected $count" >&2; exit 1; }
per=$(awk -v b="$base" -v l="$loaded" -v n="$count" 'BEGIN { printf "%.1f", (l - b) / n }')
printf 'gateway RSS %.1f MiB -> %.1f MiB with %d idle tunnels (connected in %d s): %s KiB per tunnel\n' \
  "$(awk -v k="$base" 'BEGIN { print k / 1024 }')" "$(awk -v k="$loaded" 'BEGIN { print k / 1024 }')" "$count" "$connect_s" "$per"
if [ -n "${BENCH_ROWS:-}" ]; then
  met=$(awk -v p="$per" 'BEGIN { print (p <= 32 ? "yes" : "no") }')
  $smoke && [ "$count" -ne 10000 ] && met="-"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' gateway-10k-idle "$per KiB/tunnel ($count tunnels)" - - - "<= 32 KiB per tunnel" "$met" >>"$BENCH_ROWS"
fi
