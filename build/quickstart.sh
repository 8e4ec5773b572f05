#!/usr/bin/env bash
# Peer Compute's main job, end to end on this machine, all on loopback:
#
#   a gateway (HTTPS on 127.0.0.1:7443, self-signed certificate for *.peercompute.localhost, tunnels on :7444)
#   a provider (peercomputed on 127.0.0.1:7400, no mDNS, tunnel to the gateway pinned to its certificate)
#   a user (peerctl) who trusts the provider and is trusted by it, and deploys a tiny demo image built here
#
# then fetches https://hello-<tag>.peercompute.localhost:7443/ through the gateway, verifying the certificate,
# and leaves everything running. Each role has its own home under ~/.peercompute-quickstart/ (identities, trust
# lists, logs, PIDs). Safe to run again: what runs and is configured alike is kept, the rest is (re)started.
#
# Usage: build/quickstart.sh [start]   set up and start everything (the default)
#        build/quickstart.sh status    what runs, and the URL
#        build/quickstart.sh stop      remove the demo deployment, stop the provider and the gateway
#        build/quickstart.sh purge     stop, then delete the quick start's folder (identities included)
#
# Environment (all optional):
#   PEERCOMPUTE_QUICKSTART_DIR   state folder                      (default ~/.peercompute-quickstart)
#   QUICKSTART_HTTPS_PORT        the gateway's HTTPS port          (default 7443)
#   QUICKSTART_TUNNEL_PORT       the gateway's tunnel port         (default 7444)
#   QUICKSTART_RELAY_PORT        the gateway's libp2p relay port   (default 7445)
#   QUICKSTART_PROVIDER_PORT     the provider's libp2p port        (default 7400)
#   QUICKSTART_DOMAIN            the gateway's domain              (default peercompute.localhost)
#   QUICKSTART_BIN               a folder with peerctl, peercomputed and gateway to use as they are; by default
#                                artifacts/<rid>/, published with build/publish.sh when missing or older than src/
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${PEERCOMPUTE_QUICKSTART_DIR:-${HOME:?HOME is not set}/.peercompute-quickstart}"
https_port="${QUICKSTART_HTTPS_PORT:-7443}"
tunnel_port="${QUICKSTART_TUNNEL_PORT:-7444}"
relay_port="${QUICKSTART_RELAY_PORT:-7445}"
provider_port="${QUICKSTART_PROVIDER_PORT:-7400}"
domain="${QUICKSTART_DOMAIN:-peercompute.localhost}"
deployment=hello
provider_name=quickstart-provider
user_name=quickstart-user
# Generous guards against hangs on a slow or busy machine; each wait ends as soon as its event happens.
start_timeout=120

say() { printf '\033[1mquickstart:\033[0m %s\n' "$*"; }
[ -t 1 ] || say() { printf 'quickstart: %s\n' "$*"; }
die() {
  printf 'quickstart: error: %s\n' "$*" >&2
  exit 1
}

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64 | Linux/amd64) rid=linux-x64 ;;
  Linux/aarch64 | Linux/arm64) rid=linux-arm64 ;;
  *) die "Peer Compute runs on Linux x86_64 or arm64, not $(uname -s) $(uname -m)." ;;
esac

bin="${QUICKSTART_BIN:-$root/artifacts/$rid}"
cert="$dir/gateway/gateway/self-signed.crt"

# --- the programs -------------------------------------------------------------------------------------------

ensure_programs() {
  local missing=0 program
  for program in peerctl peercomputed gateway; do
    [ -x "$bin/$program" ] || missing=1
  done
  if [ -n "${QUICKSTART_BIN:-}" ]; then
    [ "$missing" -eq 0 ] || die "QUICKSTART_BIN=$bin does not hold peerctl, peercomputed and gateway."
    return
  fi
  local reason=""
  if [ "$missing" -eq 1 ]; then
    reason="not built yet"
  else
    # Rebuild when any source is newer than the oldest program (e.g. after a git pull).
    local oldest
    oldest="$(ls -1tr "$bin/peerctl" "$bin/peercomputed" "$bin/gateway" | head -n1)"
    # (bin/ and obj/ hold build outputs, which any dotnet build refreshes: not sources.)
    if [ -n "$(find "$root/src" "$root/Directory.Build.props" "$root/Directory.Build.targets" "$root/Directory.Packages.props" \
      \( -name bin -o -name obj \) -prune -o -type f -newer "$oldest" -print -quit 2>/dev/null)" ]; then
      reason="sources changed since the last build"
    fi
  fi
  [ -n "$reason" ] || return 0
  command -v dotnet >/dev/null 2>&1 || die "the .NET 10 SDK is needed to build the programs (dotnet is not on PATH); see the README. Or point QUICKSTART_BIN at released binaries."
  say "building peerctl, peercomputed and gateway for $rid ($reason; Native AOT takes a few minutes)"
  "$root/build/publish.sh" "$rid" || die "build/publish.sh $rid failed (see above)."
}

# --- Docker -------------------------------------------------------------------------------------------------

# What installs and starts Docker's engine on Debian/Ubuntu: what this script runs itself when run as root.
docker_install_commands() {
  cat <<EOF
  sudo apt-get update
  sudo apt-get install -y docker.io
  sudo systemctl start docker          # without systemd: sudo bash $root/build/ci/start-dockerd.sh
  sudo usermod -aG docker $(id -un)    # then log in again
EOF
}

# On PATH and executable (bash's command -v also names a file that is on PATH but not executable).
executable() {
  local path
  path="$(command -v "$1" 2>/dev/null)" && [ -x "$path" ]
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then
    return
  fi
  local missing=""
  if ! executable docker; then
    missing="Docker is not installed"
  # (A user's PATH often lacks the sbin folders dockerd is in.)
  elif ! executable dockerd && [ ! -x /usr/sbin/dockerd ] && [ ! -x /usr/bin/dockerd ]; then
    missing="the docker client is installed but not the engine (dockerd)"
  fi
  if [ "$(id -u)" -ne 0 ]; then
    local socket=/var/run/docker.sock
    if [ -S "$socket" ] && [ ! -w "$socket" ]; then
      die "you may not use Docker's socket ($socket): sudo usermod -aG docker \$USER and log in again, or run this script with sudo."
    fi
    if [ -n "$missing" ]; then
      {
        printf 'quickstart: error: %s. Run this script as root (sudo %s) and it installs and starts it, or run:\n' "$missing" "$0"
        docker_install_commands
        printf 'and then this script again.\n'
      } >&2
      exit 1
    fi
    die "Docker's engine is not running: sudo systemctl start docker (or run this script with sudo to let it start one)."
  fi
  if [ -n "$missing" ]; then
    command -v apt-get >/dev/null 2>&1 \
      || die "$missing, and without apt-get this script cannot install it: install Docker's engine for this system, then run this again."
    say "$missing: installing Debian's docker.io (apt-get install docker.io)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q || die "apt-get update failed (see above)."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io || die "apt-get install docker.io failed (see above)."
    hash -r
  fi
  say "no Docker engine answers: starting one"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl start docker || true
  fi
  if ! docker info >/dev/null 2>&1; then
    bash "$root/build/ci/start-dockerd.sh" || die "could not start dockerd (see above)."
  fi
  docker info >/dev/null 2>&1 || die "Docker's engine still does not answer; see: journalctl -u docker, or /tmp/peercompute-dockerd.log"
}

# --- processes we started: PID files, checked against /proc so a reused PID is never mistaken for ours ------

program_of() { case "$1" in provider) echo peercomputed ;; *) echo "$1" ;; esac; }

pid_of() {
  local file="$dir/run/$1.pid" pid exe
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Our program, not a stranger that got the PID after a reboot.
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  [ "$(basename "${exe% (deleted)}")" = "$(program_of "$1")" ] || return 1
  echo "$pid"
}

stop_process() {
  local name="$1" grace="$2" pid
  if pid="$(pid_of "$name")"; then
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    # pid_of, not kill -0: an exited process nobody reaps yet (a zombie) has no executable and counts as gone.
    while pid_of "$name" >/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if pid_of "$name" >/dev/null; then
      say "$name did not stop within ${grace}s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/run/$name.pid" "$dir/run/$name.args"
}

# wait_for_line LOG OFFSET PATTERN PID WHAT: until PATTERN appears in LOG after byte OFFSET, or PID dies.
wait_for_line() {
  local log="$1" offset="$2" pattern="$3" pid="$4" what="$5"
  local deadline=$((SECONDS + start_timeout))
  until tail -c +"$((offset + 1))" "$log" 2>/dev/null | grep -q -- "$pattern"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$log" >&2 || true
      die "$what exited before it was ready (log: $log). A port taken by another program? Choose others with QUICKSTART_HTTPS_PORT, QUICKSTART_TUNNEL_PORT, QUICKSTART_PROVIDER_PORT."
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$log" >&2 || true
      die "$what was not ready within ${start_timeout}s (log: $log)"
    fi
    sleep 0.3
  done
}

# start_process NAME READY-PATTERN PROGRAM ARGS...: keeps a running NAME started with the same arguments,
# else (re)starts it in the background with its own home, and waits for READY-PATTERN in its log.
start_process() {
  local name="$1" ready="$2" program="$3"
  shift 3
  local args="$program $*" pid
  if pid="$(pid_of "$name")"; then
    if [ "$(cat "$dir/run/$name.args" 2>/dev/null)" = "$args" ]; then
      say "$name already running (pid $pid)"
      return
    fi
    say "$name runs with other settings: restarting it"
    stop_process "$name" 60
  fi
  local log="$dir/logs/$name.log" offset
  touch "$log"
  offset="$(wc -c <"$log")"
  # setsid: the process outlives this script and the terminal; nohup for shells without job control.
  PEERCOMPUTE_HOME="$dir/$name" setsid nohup env -u PEERCOMPUTE_IDENTITY_KEY "$program" "$@" >>"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$dir/run/$name.pid"
  echo "$args" >"$dir/run/$name.args"
  say "started $name (pid $pid, log $log)"
  wait_for_line "$log" "$offset" "$ready" "$pid" "$name"
}

# --- peerctl as one of the roles ----------------------------------------------------------------------------

as() {
  local role="$1"
  shift
  PEERCOMPUTE_HOME="$dir/$role" env -u PEERCOMPUTE_IDENTITY_KEY "$bin/peerctl" "$@"
}

json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n1; }

ensure_identity() {
  if [ ! -f "$dir/$1/identity.key" ]; then
    as "$1" init >/dev/null
  fi
  as "$1" id
}

# trust ROLE PEERID NAME [ADDR]: ROLE trusts PEERID as NAME (at ADDR), replacing an entry that differs.
trust() {
  local role="$1" peer="$2" name="$3" addr="${4:-}" listed
  listed="$(as "$role" peers list --json)"
  if printf '%s' "$listed" | grep -q "\"peerId\":\"$peer\",\"name\":\"$name\",\"addrs\":\[${addr:+\"$addr\"}\]"; then
    return
  fi
  # A stale entry under that name or id (another identity, another port): replace it.
  as "$role" peers remove "$name" >/dev/null 2>&1 || true
  as "$role" peers remove "$peer" >/dev/null 2>&1 || true
  if [ -n "$addr" ]; then
    as "$role" peers add "$peer" --name "$name" --addr "$addr" >/dev/null
  else
    as "$role" peers add "$peer" --name "$name" >/dev/null
  fi
}

public_url() {
  as user status "$deployment" --peer "$provider_name" --json 2>/dev/null | json_field publicUrl
}

# --- commands -----------------------------------------------------------------------------------------------

start() {
  ensure_programs
  ensure_docker
  mkdir -p "$dir/run" "$dir/logs"
  chmod 700 "$dir"

  say "identities and trust (homes in $dir/{gateway,provider,user})"
  local provider_id user_id
  provider_id="$(ensure_identity provider)"
  user_id="$(ensure_identity user)"
  mkdir -p "$dir/gateway"
  trust provider "$user_id" "$user_name"
  trust user "$provider_id" "$provider_name" "/ip4/127.0.0.1/tcp/$provider_port"
  say "provider $provider_id trusts user $user_id, and the gateway accepts the provider's tunnel"

  start_process gateway "gateway up" "$bin/gateway" \
    --domain "$domain" --listen 127.0.0.1 --https-port "$https_port" --tunnel-port "$tunnel_port" \
    --relay-port "$relay_port" --self-signed --trust-provider "$provider_id"
  local pin
  pin="$(PEERCOMPUTE_HOME="$dir/gateway" "$bin/gateway" pin)"

  # Without root there is no permission for the egress firewall, and the provider would refuse every deploy:
  # the demo then runs with open egress (the provider's log says so).
  local egress=()
  [ "$(id -u)" -eq 0 ] || egress=(--egress open)
  start_process provider "gateway tunnel connected" "$bin/peercomputed" \
    --listen "/ip4/127.0.0.1/tcp/$provider_port" --no-mdns \
    --gateway "127.0.0.1:$tunnel_port" --gateway-pin "$pin" ${egress[@]+"${egress[@]}"}

  local image
  image="$(bash "$root/build/demo-image.sh")"

  local url state
  state="$(as user status "$deployment" --peer "$provider_name" --json 2>/dev/null | json_field state || true)"
  if [ "$state" = running ]; then
    say "$deployment already deployed and running"
  else
    if [ -n "$state" ]; then
      as user stop "$deployment" --peer "$provider_name" >/dev/null 2>&1 || true
    fi
    say "deploying $image as '$deployment' with peerctl"
    as user deploy "$image" --peer "$provider_name" --name "$deployment" --port 8080 --cpu 250m --memory 64MB \
      || die "peerctl deploy failed (see above; provider log: $dir/logs/provider.log)"
  fi
  url="$(public_url)"
  [ -n "$url" ] || die "the deployment has no public URL: is the provider's tunnel up? (log: $dir/logs/provider.log)"

  # A real TLS check against the gateway's own certificate; --resolve for curl builds that do not map
  # *.localhost to loopback themselves.
  local host port body="" deadline=$((SECONDS + 60))
  host="${url#https://}"
  host="${host%%/*}"
  port="${host##*:}"
  host="${host%:*}"
  say "fetching $url"
  until body="$(curl -fsS --max-time 10 --cacert "$cert" --resolve "$host:$port:127.0.0.1" "$url" 2>&1)"; do
    # The route reaches the gateway a moment after the deploy returns.
    [ "$SECONDS" -lt "$deadline" ] || die "could not fetch $url: $body"
    sleep 1
  done
  printf '%s\n' "$body" | grep -q "Peer Compute" || die "$url answered, but not with the demo page: $body"
  printf '%s\n' "$body" | sed -n 's:.*<h1>\(.*\)</h1>.*:  \1:p; s:.*<p>\(This page.*\):  \1:p' | sed 's/<[^>]*>//g'

  cat <<EOF

quickstart: done. Everything keeps running on loopback:
  URL        $url
             curl --cacert $cert $url
             (a browser shows a warning for the self-signed certificate; *.localhost resolves to this machine)
  as the user:   export PEERCOMPUTE_HOME=$dir/user; $bin/peerctl status
  logs:          $dir/logs/{gateway,provider}.log
  stop it all:   $root/build/quickstart.sh stop
EOF
}

status() {
  local name pid any=0
  for name in gateway provider; do
    if pid="$(pid_of "$name")"; then
      say "$name running (pid $pid)"
      any=1
    else
      say "$name not running"
    fi
  done
  if [ "$any" -eq 1 ] && pid_of provider >/dev/null; then
    local url
    url="$(public_url || true)"
    if [ -n "$url" ]; then say "$deployment: $url"; else say "$deployment: not deployed"; fi
  fi
}

stop() {
  [ -d "$dir" ] || { say "nothing to stop ($dir does not exist)"; return; }
  if pid_of provider >/dev/null && [ -x "$bin/peerctl" ]; then
    if as user stop "$deployment" --peer "$provider_name" >/dev/null 2>&1; then
      say "removed the deployment '$deployment'"
    fi
  fi
  # peercomputed drains for up to 30 s; containers would outlive it by design.
  stop_process provider 45
  stop_process gateway 20
  # Whatever the provider left (it was killed, or the deployment could not be stopped above).
  if [ -f "$dir/provider/identity.key" ] && [ -x "$bin/peerctl" ] && docker info >/dev/null 2>&1; then
    local provider_id ids
    provider_id="$(as provider id 2>/dev/null || true)"
    if [ -n "$provider_id" ]; then
      ids="$(docker ps -aq --filter "label=io.peercompute.instance=$provider_id" || true)"
      if [ -n "$ids" ]; then
        # shellcheck disable=SC2086
        docker rm -f $ids >/dev/null && say "removed leftover containers of the quick start's provider"
      fi
    fi
  fi
  say "stopped (identities kept in $dir; '$0 purge' deletes them)"
}

case "${1:-start}" in
  start) start ;;
  status) status ;;
  stop) stop ;;
  purge)
    stop
    rm -rf "$dir"
    say "deleted $dir"
    ;;
  -h | --help | help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (start, status, stop, purge; --help)" ;;
esac
