#!/usr/bin/env bash
# Public HTTPS path benchmark (issue 16), all on loopback, one run: a real gateway (self-signed, TLS 1.3), a real
# `peercomputed --no-mdns --gateway ...`, a real container deployed with `peerctl deploy` (busybox httpd from a local
# image with a small page, a big file and an upload CGI baked in), against nginx as a TLS 1.3 reverse proxy
# (keep-alive upstream) to the SAME container's published port. Alternating, in one run:
#   wrk (HTTP/1.1 keep-alive, 64 connections), h2load (HTTP/2, nginx with http2), curl download and upload of a
#   big file. Prints a table; with BENCH_ROWS=FILE appends the rows (see bench/public/README.md).
#
#   bench/public/run.sh [--smoke]        (DURATION=seconds per wrk run, default 15; SIZE_MIB, default 1024)
set -euo pipefail
cd "$(dirname "$0")/../.."
smoke=0
if [[ ${1:-} == --smoke ]]; then smoke=1; shift; fi
duration=${DURATION:-$(( smoke ? 2 : 15 ))}
size_mib=${SIZE_MIB:-$(( smoke ? 16 : 1024 ))}
h2_requests=${H2_REQUESTS:-$(( smoke ? 2000 : 100000 ))}
connections=64
bin=${BIN:-artifacts/linux-x64}
work=$(mktemp -d /tmp/pc-public-XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  # Only this provider's container (its PeerId is the instance label).
  [[ -z ${pid_p:-} ]] || docker rm -f $(docker ps -aq --filter "label=io.peercompute.instance=$pid_p") >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export CI=true

for tool in wrk h2load nginx curl docker bc python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (apt-get install -y wrk nghttp2-client nginx-light curl bc)" >&2; exit 2; }
done
for program in peerctl peercomputed gateway; do
  [[ -x $bin/$program ]] || { echo "run.sh: no $bin/$program: run build/publish.sh linux-x64 (or set BIN)" >&2; exit 1; }
done

free_ports() { python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
[s.bind(("127.0.0.1",0)) for s in ss]; print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"; }
wait_line() { local i; for i in $(seq 600); do grep -qs "$2" "$1" && return 0; kill -0 "$3" 2>/dev/null || break; sleep 0.1; done
  echo "run.sh: no '$2' in $1:" >&2; tail -n 20 "$1" >&2; exit 1; }
json_field() { python3 -c 'import sys,json; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
init_home() { mkdir -p "$1"; PEERCOMPUTE_HOME=$1 $bin/peerctl init >/dev/null; PEERCOMPUTE_HOME=$1 $bin/peerctl id; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }   # utime + stime

# The container's image. SERVER=nginx (default): the host's nginx binary and the libraries it links, serving the page
# and /big.bin with keep-alive and sendfile, so the comparison measures the proxies, not the server; nginx passes
# uploads on to upload-sink.c inside the container, which reads the whole body before it answers (nginx alone answers a
# `return` before it has read the body, and then each proxy may stop forwarding early: the work would not be equal;
# busybox's CGI path tops out near 90 MB/s). SERVER=busybox: busybox httpd alone (forks per connection and closes it
# after each answer; uploads to a CGI).
server=${SERVER:-nginx}
[[ $server == nginx || $server == busybox ]] || { echo "run.sh: SERVER is nginx or busybox, not '$server'" >&2; exit 2; }
image=peercompute-bench/public-$server:${size_mib}m
if ! docker image inspect "$image" >/dev/null 2>&1; then
  hook="$work/hook.sh"
  cat >"$hook" <<EOF
#!/bin/sh
set -e
head -c $((size_mib * 1024 * 1024)) /dev/zero >"\$1/www/big.bin"
mkdir -p "\$1/www/cgi-bin"
printf '#!/bin/sh\ncat >/dev/null\nprintf "Content-Type: text/plain\\\\r\\\\n\\\\r\\\\nreceived\\\\n"\n' >"\$1/www/cgi-bin/upload"
chmod 755 "\$1/www/cgi-bin/upload"
EOF
  import_args=()
  if [[ $server == nginx ]]; then
    command -v gcc >/dev/null || { echo "run.sh: SERVER=nginx needs gcc for the upload sink (or SERVER=busybox)" >&2; exit 2; }
    gcc -O2 -static -o "$work/upload-sink" bench/public/upload-sink.c
    echo "cp '$work/upload-sink' \"\$1/bin/upload-sink\"" >>"$hook"
    cat >>"$hook" <<'EOF'
for f in /usr/sbin/nginx $(ldd /usr/sbin/nginx | grep -o '/[^ ]*'); do mkdir -p "$1$(dirname "$f")"; cp -L "$f" "$1$f"; done
cat >"$1/etc/nginx.conf" <<'CONF'
worker_processes 2;
daemon off;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_max_body_size 0;
  client_body_temp_path /tmp/body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  server {
    listen 8080;
    root /www;
    location /cgi-bin/ {
      proxy_pass http://127.0.0.1:8081;
      proxy_set_header Connection "";
      proxy_http_version 1.1;
      proxy_request_buffering off;
      proxy_buffering off;
    }
  }
}
CONF
printf '#!/bin/sh\nupload-sink &\nexec /usr/sbin/nginx -c /etc/nginx.conf\n' >"$1/start.sh"
EOF
    # Not root: the provider drops every capability, so nginx could not switch users anyway.
    import_args=(--change 'USER 65534:65534' --change 'ENTRYPOINT ["/bin/sh","/start.sh"]')
  fi
  chmod 755 "$hook"
  # shellcheck source=build/busybox-image.sh
  . build/busybox-image.sh
  page="<!doctype html><html><head><title>bench</title></head><body><h1>hello from the container</h1><p>$(head -c 300 /dev/zero | tr '\0' 'x')</p></body></html>"
  BUSYBOX_WHO=bench-public BUSYBOX_ROOTFS_HOOK="$hook" busybox_image "$image" "$page" "${import_args[@]}"
fi

# Gateway (trusting the provider), provider, user; the user deploys the container.
G=$work/gateway P=$work/provider U=$work/user
mkdir -p "$G"
pid_p=$(init_home "$P"); pid_u=$(init_home "$U")
PEERCOMPUTE_HOME=$P $bin/peerctl peers add "$pid_u" --name bench-user >/dev/null
read -r hport tport pport nginx_tls < <(free_ports 4)
PEERCOMPUTE_HOME=$G $bin/gateway --domain pc.localhost --self-signed --listen 127.0.0.1 --https-port "$hport" --tunnel-port "$tport" \
  --relay-port 0 --trust-provider "$pid_p" --rate-limit 1000000 --max-requests-per-client 100000 >"$work/gateway.log" 2>&1 &
gw=$!; pids+=("$gw")
wait_line "$work/gateway.log" "gateway up" "$gw"
pin=$(PEERCOMPUTE_HOME=$G $bin/gateway pin)
PEERCOMPUTE_HOME=$P $bin/peercomputed --listen "/ip4/127.0.0.1/tcp/$pport" --no-mdns --gateway "127.0.0.1:$tport" --gateway-pin "$pin" \
  >"$work/provider.log" 2>&1 &
daemon=$!; pids+=("$daemon")
wait_line "$work/provider.log" " ready: " "$daemon"
PEERCOMPUTE_HOME=$U $bin/peerctl peers add "$pid_p" --name bench --addr "/ip4/127.0.0.1/tcp/$pport" >/dev/null
out=$(PEERCOMPUTE_HOME=$U $bin/peerctl deploy "$image" --name web --port 8080 --memory 64MB --cpu 1000m --json)
local_url=$(json_field localUrl <<<"$out")
public_url=$(json_field publicUrl <<<"$out" 2>/dev/null || true)
for _ in $(seq 300); do [[ -n $public_url && $public_url != None ]] && break; sleep 0.1
  public_url=$(PEERCOMPUTE_HOME=$U $bin/peerctl list --json 2>/dev/null | python3 -c 'import sys,json
d=json.load(sys.stdin); d=d.get("deployments", d) if isinstance(d, dict) else d
print(next((x.get("publicUrl") or "" for x in d if x.get("name")=="web"), ""))' 2>/dev/null || true); done
[[ -n $public_url && $public_url != None ]] || { echo "run.sh: no public URL for the deployment: $out" >&2; exit 1; }
host=${public_url#https://}; host=${host%%/*}; host=${host%%:*}
upstream=${local_url#http://}; upstream=${upstream%%/*}
# nginx dials what the provider dials: the container's published loopback port (NGINX_UPSTREAM=bridge: its bridge address).
if [[ ${NGINX_UPSTREAM:-published} == bridge ]]; then
  cid=$(docker ps -q --filter "label=io.peercompute.instance=$pid_p")
  upstream="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$cid"):8080"
fi
gw_url="https://127.0.0.1:$hport"; ng_url="https://127.0.0.1:$nginx_tls"

cert="$G/gateway/self-signed.crt"; key="$G/gateway/self-signed.key"
[[ -f $cert ]] || { cert=$(find "$G" -name '*.crt' | head -n1); key=$(find "$G" -name '*.key' | head -n1); }
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_max_body_size 0;
  keepalive_requests 1000000;
  upstream container { server $upstream; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_tls ssl http2;
    ssl_protocols TLSv1.3;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    location / {
      proxy_pass http://container;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
EOF
nginx -c "$work/nginx.conf" -p "$work" -g "daemon on;" 2>>"$work/nginx-error.log" || { echo "run.sh: nginx did not start:" >&2; cat "$work/nginx-error.log" >&2; exit 1; }

for u in "$gw_url" "$ng_url"; do
  curl -fsk --http1.1 -H "Host: $host" "$u/" | grep -q "hello from the container" || { echo "run.sh: $u does not serve the page" >&2; exit 1; }
done
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "# public path benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(load); binaries $bin ($(date -u -r "$bin/gateway" '+%H:%M UTC'))"
echo "# public URL $public_url, container at $upstream, ${duration}s per wrk run, $size_mib MiB transfers"

declare -A R=([gw.rps]= [ng.rps]= [gw.p99]= [ng.p99]= [gw.h2]= [ng.h2]= [gw.err]= [ng.err]= [gw.h2err]= [ng.h2err]=)
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.3f", v + 0; else if (v ~ /s$/) printf "%.3f", v * 1000; else print v }'; }
proxy_cpu() { # key: CPU seconds the proxy side has used (gateway + provider, or nginx's workers)
  if [[ $1 == gw ]]; then echo "$(cpu_s "$gw") + $(cpu_s "$daemon")" | bc
  else local sum=0 w; for w in $(cat "/proc/$(cat "$work/nginx.pid")/task/"*/children); do sum=$(echo "$sum + $(cpu_s "$w")" | bc); done; echo "$sum"; fi
}
wrk_run() { # key url
  local f="$work/wrk-$1.txt" before before_g
  before=$(proxy_cpu "$1"); before_g=$(cpu_s "$gw")
  wrk -t2 -c$connections -d"${duration}s" --latency -H "Host: $host" "$2/" >"$f"
  R[$1.gcpu]=$(awk -v c="$(echo "$(cpu_s "$gw") - $before_g" | bc)" -v n="$(awk '/requests in/ {print $1}' "$f")" 'BEGIN { if (n > 0) printf "%.0f", c * 1e6 / n; else print "-" }')
  R[$1.cpu]=$(awk -v c="$(echo "$(proxy_cpu "$1") - $before" | bc)" -v n="$(awk '/requests in/ {print $1}' "$f")" 'BEGIN { if (n > 0) printf "%.0f", c * 1e6 / n; else print "-" }')
  R[$1.rps]=$(awk '/Requests\/sec/ {print $2}' "$f")
  R[$1.p99]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$f")")
  R[$1.err]=$(awk '/Non-2xx|Socket errors/' "$f" | tr '\n' ' ')
}
h2_run() { # key url
  local f="$work/h2-$1.txt"
  h2load -n "$h2_requests" -c $connections -m 10 -t 2 -H ":authority: $host" "$2/" >"$f" 2>&1 || true
  R[$1.h2]=$(awk '/^finished in/ {gsub(",", ""); print $4}' "$f")
  R[$1.h2err]=$(awk '/^requests:/ {print $0}' "$f")
}
dl_run() { # key url pid-of-proxy...
  local before_g before_p speed
  before_g=$(cpu_s "$gw"); before_p=$(cpu_s "$daemon")
  speed=$(curl -sk --http1.1 -o /dev/null -w '%{speed_download}' -H "Host: $host" "$2/big.bin")
  R[$1.dl]=$(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1e6 }')
  R[$1.dl_gcpu]=$(echo "scale=2; ($(cpu_s "$gw") - $before_g) * 1024 / $size_mib" | bc)
  R[$1.dl_pcpu]=$(echo "scale=2; ($(cpu_s "$daemon") - $before_p) * 1024 / $size_mib" | bc)
}
ul_run() { # key url
  local speed before_g before_p
  before_g=$(cpu_s "$gw"); before_p=$(cpu_s "$daemon")
  [[ -f $work/upload.bin ]] || truncate -s $((size_mib * 1024 * 1024)) "$work/upload.bin"
  # -T streams the file (--data-binary would read it into memory first); a length, no Expect round trip.
  speed=$(curl -sk --http1.1 -o "$work/ul-$1.txt" -w '%{speed_upload}' -H "Host: $host" -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' -X POST -T "$work/upload.bin" "$2/cgi-bin/upload")
  grep -q received "$work/ul-$1.txt" || { echo "run.sh: upload through $1 not answered: $(head -c 200 "$work/ul-$1.txt")" >&2; exit 1; }
  R[$1.ul]=$(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1e6 }')
  R[$1.ul_gcpu]=$(echo "scale=2; ($(cpu_s "$gw") - $before_g) * 1024 / $size_mib" | bc)
  R[$1.ul_pcpu]=$(echo "scale=2; ($(cpu_s "$daemon") - $before_p) * 1024 / $size_mib" | bc)
}

# Warm-up, then alternate gateway and nginx for each measurement.
if [[ ${PARTS:-all} == all ]]; then
  wrk -t2 -c$connections -d2s -H "Host: $host" "$gw_url/" >/dev/null
  wrk -t2 -c$connections -d2s -H "Host: $host" "$ng_url/" >/dev/null
  wrk_run gw "$gw_url"; wrk_run ng "$ng_url"
  h2_run gw "$gw_url"; h2_run ng "$ng_url"
fi
dl_run gw "$gw_url"; dl_run ng "$ng_url"
ul_run gw "$gw_url"; ul_run ng "$ng_url"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "") printf "%.2fx", a / b; else print "-" }'; }
met() { # ratio-number >= aim (or <= with le)
  (( smoke )) && { echo "-"; return; }
  awk -v r="${1%x}" -v a="$2" -v op="${3:-ge}" 'BEGIN { if (r == "-") print "-"; else if ((op == "ge" && r + 0 >= a) || (op == "le" && r + 0 <= a)) print "yes"; else print "no" }'
}
met_dl() { (( smoke )) && { echo "-"; return; }; awk -v r="${1%x}" -v s="$2" 'BEGIN { print (r + 0 >= 1.0 && s + 0 >= 1000) ? "yes" : "no" }'; }
rows=()
row() { rows+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"$'\t'"$5"$'\t'"$6"$'\t'"$7"); }
r=$(ratio "${R[gw.rps]}" "${R[ng.rps]}"); row public-h1-rps "${R[gw.rps]} req/s" "nginx TLS 1.3 proxy" "${R[ng.rps]} req/s" "$r" ">= 1.0x" "$(met "$r" 1.0)"
r=$(ratio "${R[gw.p99]}" "${R[ng.p99]}"); row public-h1-p99 "${R[gw.p99]} ms" "nginx TLS 1.3 proxy" "${R[ng.p99]} ms" "$r" "<= 1.5x" "$(met "$r" 1.5 le)"
r=$(ratio "${R[gw.h2]}" "${R[ng.h2]}"); row public-h2-rps "${R[gw.h2]} req/s" "nginx http2 proxy" "${R[ng.h2]} req/s" "$r" ">= 1.0x" "$(met "$r" 1.0)"
r=$(ratio "${R[gw.dl]}" "${R[ng.dl]}"); row public-download "${R[gw.dl]} MB/s" "nginx TLS 1.3 proxy" "${R[ng.dl]} MB/s" "$r" ">= 1.0x and >= 1 GB/s" "$(met_dl "$r" "${R[gw.dl]}")"
r=$(ratio "${R[gw.ul]}" "${R[ng.ul]}"); row public-upload "${R[gw.ul]} MB/s" "nginx TLS 1.3 proxy" "${R[ng.ul]} MB/s" "$r" ">= 1.0x and >= 1 GB/s" "$(met_dl "$r" "${R[gw.ul]}")"

printf '%-16s %-18s %-22s %-18s %-8s %-24s %s\n' row ours reference "reference figure" ratio aim met
for line in "${rows[@]}"; do IFS=$'\t' read -r a b c d e f g <<<"$line"; printf '%-16s %-18s %-22s %-18s %-8s %-24s %s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g"; done
echo "download CPU seconds per GiB: through the tunnel gateway ${R[gw.dl_gcpu]} s, provider ${R[gw.dl_pcpu]} s (nginx run, for scale: gateway ${R[ng.dl_gcpu]} s, provider ${R[ng.dl_pcpu]} s)"
[[ ${PARTS:-all} != all ]] || echo "proxy CPU microseconds per HTTP/1.1 request: gateway + provider ${R[gw.cpu]} us (gateway ${R[gw.gcpu]}), nginx ${R[ng.cpu]} us"
echo "upload CPU seconds per GiB: through the tunnel gateway ${R[gw.ul_gcpu]} s, provider ${R[gw.ul_pcpu]} s"
for k in gw ng; do [[ -z ${R[$k.err]} ]] || echo "wrk $k: ${R[$k.err]}"; echo "h2load $k: ${R[$k.h2err]}"; done
echo "load average at the end: $(load)"
if [[ -n ${BENCH_ROWS:-} ]]; then printf '%s\n' "${rows[@]}" >>"$BENCH_ROWS"; fi
