#!/usr/bin/env bash
# Gateway benchmark, all on loopback, one run, one machine:
#   1. wrk against a small static page: client -> gateway (TLS 1.3) -> tunnel -> provider -> upstream nginx,
#      and the same page through nginx as a TLS 1.3 reverse proxy to the same upstream.
#   2. One 1 GiB download through the tunnel, and the same file straight from the upstream.
#   3. 1000 idle tunnels (simulated providers): gateway RSS per tunnel.
# Needs: wrk, nginx (Debian's nginx-light), curl. Uses $PEERCOMPUTE_GATEWAY, else artifacts/linux-x64/gateway
# (Native AOT), else a Release build of src/gateway.
#
#   bench/gateway/run.sh [seconds-per-wrk-run]     (default 15)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
duration=${1:-15}
connections=${WRK_CONNECTIONS:-64}
idle_tunnels=${IDLE_TUNNELS:-1000}

for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (apt-get install -y wrk nginx-light curl)" >&2; exit 2; }
done

gateway=${PEERCOMPUTE_GATEWAY:-}
if [ -z "$gateway" ]; then
  if [ -x artifacts/linux-x64/gateway ]; then
    gateway="$root/artifacts/linux-x64/gateway"
  else
    dotnet build -c Release src/gateway -v q -nologo >/dev/null
    gateway="$root/src/gateway/bin/Release/net10.0/gateway"
  fi
fi
dotnet build -c Release bench/gateway/TunnelLoad -v q -nologo >/dev/null
load="$root/bench/gateway/TunnelLoad/bin/Release/net10.0/TunnelLoad"

work="$(mktemp -d /tmp/pc-gwbench-XXXXXX)"
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

up=18180; nginx_tls=18443; https=19443; tunnel=19444; metrics=19445
domain=pc.localhost
export PEERCOMPUTE_HOME="$work/home"

wait_line() { # file text timeout
  for _ in $(seq 1 $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "run.sh: '$2' not seen in $1:" >&2; cat "$1" >&2; exit 1
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# The gateway makes its self-signed certificate; nginx uses the same one.
"$gateway" --domain "$domain" --self-signed --listen 127.0.0.1 --https-port $https --tunnel-port $tunnel \
  --relay-port 0 --metrics-port $metrics --open --rate-limit 1000000 >"$work/gateway.log" 2>&1 &
gateway_pid=$!; pids+=($gateway_pid)
wait_line "$work/gateway.log" "gateway up" 60
pin="$("$gateway" pin)"
cert="$PEERCOMPUTE_HOME/gateway/self-signed.crt"; key="$PEERCOMPUTE_HOME/gateway/self-signed.key"

mkdir -p "$work/www"
printf '<!doctype html><html><head><title>bench</title></head><body><h1>hello from the upstream</h1><p>%s</p></body></html>\n' \
  "$(head -c 300 /dev/zero | tr '\0' 'x')" >"$work/www/index.html"
truncate -s 1G "$work/www/big.bin"
cat >"$work/nginx.conf" <<EOF
user root;
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$up; root $work/www; }
  server {
    listen 127.0.0.1:$nginx_tls ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    location / {
      proxy_pass http://127.0.0.1:$up;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_buffering off;
    }
  }
}
EOF
nginx -c "$work/nginx.conf" -p "$work" -g 'daemon on;'

"$load" provide $tunnel "$pin" web $up >"$work/provider.log" 2>&1 </dev/null &
pids+=($!)
wait_line "$work/provider.log" "ready" 60
url="$(awk '/ready/ {print $2}' "$work/provider.log")"
host="${url#https://}"; host="${host%/}"
echo "gateway: $gateway"
echo "public URL: $url"

wrk_run() { # name url host
  local out="$work/wrk-$1.txt"
  wrk -t2 -c"$connections" -d"${duration}s" --latency -H "Host: $3" "$2" >"$out"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out")
  p99=$(awk '$1 == "99%" {print $2}' "$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' "$out" | tr '\n' ' ')
  printf '%-28s %10s req/s   p50 %8s   p99 %8s   %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
}

echo "== wrk: ${duration}s, $connections connections, 2 threads, small static page"
curl -sk --resolve "$host:127.0.0.1" "$url" | grep -q "hello from the upstream"
wrk -t2 -c"$connections" -d3s -H "Host: $host" "https://127.0.0.1:$https/" >/dev/null   # warm-up
wrk -t2 -c"$connections" -d3s -H "Host: $host" "https://127.0.0.1:$nginx_tls/" >/dev/null
wrk_run "gateway -> tunnel" "https://127.0.0.1:$https/" "$host"
wrk_run "nginx TLS 1.3 proxy" "https://127.0.0.1:$nginx_tls/" "$host"
wrk_run "upstream direct (plain)" "http://127.0.0.1:$up/" "localhost"

echo "== 1 GiB download"
dl() { # name args...
  local name=$1; shift
  read -r speed total < <(curl -sk -o /dev/null -w '%{speed_download} %{time_total}\n' "$@")
  awk -v n="$name" -v s="$speed" -v t="$total" 'BEGIN { printf "%-28s %8.1f MB/s  (%.2f s)\n", n, s / 1e6, t }'
}
dl "gateway -> tunnel" --http1.1 --resolve "$host:127.0.0.1" "${url}big.bin"
dl "nginx TLS 1.3 proxy" --http1.1 -H "Host: $host" "https://127.0.0.1:$nginx_tls/big.bin"
dl "upstream direct (plain)" "http://127.0.0.1:$up/big.bin"

echo "== $idle_tunnels idle tunnels"
base=$(rss_kib $gateway_pid)
"$load" idle $tunnel "$pin" "$idle_tunnels" >"$work/idle.log" 2>&1 </dev/null &
pids+=($!)
wait_line "$work/idle.log" "ready" 300
sleep 5
loaded=$(rss_kib $gateway_pid)
tunnels=$(curl -s "http://127.0.0.1:$metrics/metrics" | awk '/^peercompute_gateway_active_tunnels/ {print $2}')
awk -v b="$base" -v l="$loaded" -v n="$idle_tunnels" -v t="$tunnels" 'BEGIN {
  printf "gateway RSS %d MiB -> %d MiB with %d tunnels connected: %.1f KiB per tunnel\n", b / 1024, l / 1024, t, (l - b) / n }'
