#!/usr/bin/env bash
# Issue 14's relay benchmark, direct against relayed, alternating in one run:
#   1. `peerctl status --json` latency (median of ROUNDS) and `peerctl deploy` until the local URL answers (median of
#      DEPLOYS, each stopped after), on loopback: one gateway (self-signed, its libp2p relay on a free port), one
#      provider tunnelled to it and holding a reservation on its relay, and two user homes: one knows only the
#      provider's direct address, the other only its relayed one. The `via` of every command is checked.
#   2. One stream's throughput through our relay against direct (NetBench --relay, C#->C#, in-process, no relay limits).
#   3. With --nat (root): `peerctl status` from a home behind a NAT to a provider behind another NAT, in network
#      namespaces this script makes: port-keeping NATs (the relayed connection is hole-punched) against a port-changing
#      NAT on the provider's side (it stays on the relay), and a public provider reached directly.
# Needs the published binaries (build/publish.sh linux-x64; BIN=... to use others), a running dockerd and the test image
# (build/ci/test-images.sh). Nothing but loopback and the namespaces it makes is ever a target.
#   bench/relay/bench.sh [ROUNDS] [DEPLOYS]     ROUNDS default 20, DEPLOYS default ROUNDS/4 (5)
#   NETBENCH=0 skips part 2; NETBENCH_MIB (default 64), NETBENCH_REPEAT (default 5)
#   bench/relay/bench.sh --nat [ROUNDS]         part 3 only
set -euo pipefail
cd "$(dirname "$0")/../.."
nat=0
if [[ ${1:-} == --nat ]]; then nat=1; shift; fi
rounds=${1:-20}
deploys=${2:-$(( rounds / 4 > 0 ? rounds / 4 : 1 ))}
bin=${BIN:-artifacts/linux-x64}
image=peercompute-test/busybox:latest
work=$(mktemp -d)
pids=()
netns=()
# Anything still running in the namespaces this script made (a namespace with a process inside outlives its name).
kill_in_netns() { local n p; for n in "${netns[@]}"; do for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null || true; done; done; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  kill_in_netns
  for ns in "${netns[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  # A run that failed between deploy and stop leaves its container: only this provider's (its PeerId is the instance label).
  [[ -z ${pid_p:-} ]] || docker rm -f $(docker ps -aq --filter "label=io.peercompute.instance=$pid_p") >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export CI=true

for program in peerctl peercomputed gateway; do
  [[ -x $bin/$program ]] || { echo "no $bin/$program: run build/publish.sh linux-x64 (or set BIN)" >&2; exit 1; }
done
echo "# relay benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); binaries $bin ($(date -u -r "$bin/gateway" '+%H:%M UTC'))"

free_ports() { python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
[s.bind(("127.0.0.1",0)) for s in ss]; print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"; }
# Waits until FILE has a line matching PATTERN while PID lives (at most 60 s).
wait_line() { local i; for i in $(seq 600); do grep -qs "$2" "$1" && return 0; kill -0 "$3" 2>/dev/null || break; sleep 0.1; done
  echo "no '$2' in $1:" >&2; tail -n 20 "$1" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
spread() { printf '%s\n' "$@" | sort -n | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
ratio() { printf '%.2f' "$(echo "scale=4; $1 / $2" | bc)"; }
ms() { echo "scale=1; ($2 - $1) * 1000 / 1" | bc; }
json_field() { python3 -c 'import sys,json; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# Fails the run when a command went another way than expected.
expect_via() { [[ $2 == "$3" ]] || { echo "FAIL: $1 went via '$2', expected '$3'" >&2; exit 1; }; }
init_home() { mkdir -p "$1"; PEERCOMPUTE_HOME=$1 $bin/peerctl init >/dev/null; PEERCOMPUTE_HOME=$1 $bin/peerctl id; }

# ---------------------------------------------------------------- part 3: NAT namespaces (--nat)
if (( nat )); then
  [[ $(id -u) == 0 ]] || { echo "--nat needs root (network namespaces)" >&2; exit 1; }
  # Topology (the NAT lab of tests/PeerCompute.Testing/NatLab.cs, compactly, with the provider in a namespace too):
  #   host ns (provider) -- hostrt (NAT) --+                        +-- homert (NAT) -- home ns (user)
  #                                        +-- pub ns: bridge, .1 gateway/relay, .9 a public provider (no NAT)
  # Routers masquerade what leaves on their public leg and drop new connections arriving on it (conntrack lets replies
  # and a simultaneous open in). Scenario "easy": port-keeping NATs; "hard": the provider's router uses --random-fully.
  x=$(( RANDOM % 200 + 20 ))
  tag=pcrb$$
  # nsenter rather than `ip netns exec`, which remounts /sys. It execs the program, so a background `$nsx NAME prog &`
  # leaves prog's pid in $! (a shell function would leave a subshell's).
  ns() { nsenter --net=/var/run/netns/"$1" -- "${@:2}"; }
  nsx() { echo nsenter --net=/var/run/netns/"$1" --; }
  make_lab() { # $1 = hard NAT on the provider's side (0/1)
    netns=("$tag-pub" "$tag-hostrt" "$tag-host" "$tag-homert" "$tag-home")
    for n in "${netns[@]}"; do ip netns add "$n"; ip -n "$n" link set lo up; done
    ip link add wan netns "$tag-hostrt" type veth peer name hostrt netns "$tag-pub"
    ip link add wan netns "$tag-homert" type veth peer name homert netns "$tag-pub"
    ip link add lan netns "$tag-hostrt" type veth peer name eth0 netns "$tag-host"
    ip link add lan netns "$tag-homert" type veth peer name eth0 netns "$tag-home"
    ip -n "$tag-pub" -batch - <<EOF
link add br0 type bridge
addr add 10.215.$x.1/24 dev br0
addr add 10.215.$x.9/24 dev br0
link set br0 up
link set hostrt master br0
link set homert master br0
link set hostrt up
link set homert up
route add 10.216.$x.0/24 via 10.215.$x.2
route add 10.217.$x.0/24 via 10.215.$x.3
EOF
    local side wan lan inside hard
    for side in host home; do
      if [[ $side == host ]]; then wan=10.215.$x.2 lan=10.216.$x hard=$1; else wan=10.215.$x.3 lan=10.217.$x hard=0; fi
      ns "$tag-${side}rt" sysctl -q -w net.ipv4.ip_forward=1
      ns "$tag-pub" sysctl -q -w net.ipv4.ip_forward=1
      ip -n "$tag-${side}rt" -batch - <<EOF
addr add $wan/24 dev wan
addr add $lan.1/24 dev lan
link set wan up
link set lan up
route add default via 10.215.$x.1
EOF
      ip -n "$tag-$side" -batch - <<EOF
addr add $lan.2/24 dev eth0
link set eth0 up
route add default via $lan.1
EOF
      ns "$tag-${side}rt" iptables-restore <<EOF
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o wan -j MASQUERADE$( (( hard )) && echo " --random-fully")
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i wan -m conntrack --ctstate NEW -j DROP
-A FORWARD -i wan -m conntrack --ctstate NEW -j DROP
COMMIT
EOF
    done
  }
  drop_lab() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
    local n i
    for n in "${netns[@]}"; do
      for i in $(seq 100); do [[ -z $(ip netns pids "$n") ]] && break; kill_in_netns; sleep 0.1; done
      [[ -z $(ip netns pids "$n") ]] || { echo "processes left in $n: $(ip netns pids "$n")" >&2; exit 1; }
      ip netns del "$n"
    done
    netns=()
  }
  # Gateway in pub on .1 (trusting both providers), provider "nat" in the host namespace behind its router, provider
  # "pub" in pub on .9 without NAT; the user in home trusts "nat" by its relayed address only and "pub" by its direct one.
  run_lab() { # $1 scenario name, $2 hard NAT (0/1), $3 the via expected; sets lab_nat and lab_pub (median ms)
    local d=$work/nat-$1 G P Q U pid_p pid_q pid_u rport tport hport relay_id pin gw dp dq i t0 out via_nat via_pub
    make_lab "$2"
    G=$d/gateway P=$d/provider Q=$d/public U=$d/user
    mkdir -p "$G"
    pid_p=$(init_home "$P"); pid_q=$(init_home "$Q"); pid_u=$(init_home "$U")
    PEERCOMPUTE_HOME=$P $bin/peerctl peers add "$pid_u" --name user >/dev/null
    PEERCOMPUTE_HOME=$Q $bin/peerctl peers add "$pid_u" --name user >/dev/null
    read -r hport tport rport < <(free_ports 3)
    PEERCOMPUTE_HOME=$G $(nsx "$tag-pub") $bin/gateway --domain peercompute.localhost --self-signed --listen 10.215.$x.1 \
      --https-port "$hport" --tunnel-port "$tport" --relay-port "$rport" --trust-provider "$pid_p" --trust-provider "$pid_q" >"$d/gateway.log" 2>&1 &
    gw=$!; pids+=("$gw")
    wait_line "$d/gateway.log" "gateway up" "$gw"
    relay_id=$(PEERCOMPUTE_HOME=$G $bin/gateway id); pin=$(PEERCOMPUTE_HOME=$G $bin/gateway pin)
    PEERCOMPUTE_HOME=$P $(nsx "$tag-host") $bin/peercomputed --listen /ip4/0.0.0.0/tcp/9000 --no-mdns \
      --gateway "10.215.$x.1:$tport" --gateway-pin "$pin" >"$d/provider.log" 2>&1 &
    dp=$!; pids+=("$dp")
    PEERCOMPUTE_HOME=$Q $(nsx "$tag-pub") $bin/peercomputed --listen /ip4/10.215.$x.9/tcp/9000 --no-mdns >"$d/public.log" 2>&1 &
    dq=$!; pids+=("$dq")
    wait_line "$d/provider.log" "relay: reserved on" "$dp"
    wait_line "$d/public.log" " ready: " "$dq"
    PEERCOMPUTE_HOME=$U $bin/peerctl peers add "$pid_p" --name nat --addr "/ip4/10.215.$x.1/tcp/$rport/p2p/$relay_id/p2p-circuit/p2p/$pid_p" >/dev/null
    PEERCOMPUTE_HOME=$U $bin/peerctl peers add "$pid_q" --name pub --addr "/ip4/10.215.$x.9/tcp/9000" >/dev/null
    local tn=() tq=()
    for i in $(seq 0 "$rounds"); do  # round 0 is a warm-up
      t0=$EPOCHREALTIME; out=$(PEERCOMPUTE_HOME=$U ns "$tag-home" $bin/peerctl status --peer nat --json); t1=$EPOCHREALTIME
      via_nat=$(json_field via <<<"$out"); if (( i )); then tn+=("$(ms "$t0" "$t1")"); fi
      t0=$EPOCHREALTIME; out=$(PEERCOMPUTE_HOME=$U ns "$tag-home" $bin/peerctl status --peer pub --json); t1=$EPOCHREALTIME
      via_pub=$(json_field via <<<"$out"); if (( i )); then tq+=("$(ms "$t0" "$t1")"); fi
      expect_via "status (behind NAT, $1)" "$via_nat" "$3"
      expect_via "status (public provider)" "$via_pub" direct
    done
    lab_nat="$(median "${tn[@]}") ms ($(spread "${tn[@]}"))" lab_pub="$(median "${tq[@]}") ms ($(spread "${tq[@]}"))"
    lab_ratio=$(ratio "$(median "${tn[@]}")" "$(median "${tq[@]}")")
    drop_lab
  }
  echo "## status from a home behind NAT, median of $rounds (ms); the reference is a provider on the public side, reached directly"
  run_lab easy 0 hole-punched
  echo "port-keeping NATs on both sides: status ${lab_nat} via hole-punched; public provider direct ${lab_pub}; ratio ${lab_ratio}x"
  run_lab hard 1 relay
  echo "port-changing NAT at the provider: status ${lab_nat} via relay; public provider direct ${lab_pub}; ratio ${lab_ratio}x"
  exit 0
fi

# ---------------------------------------------------------------- part 1: loopback, status and deploy
G=$work/gateway P=$work/provider D=$work/direct R=$work/relayed
mkdir -p "$G"
pid_p=$(init_home "$P"); pid_d=$(init_home "$D"); pid_r=$(init_home "$R")
PEERCOMPUTE_HOME=$P $bin/peerctl peers add "$pid_d" --name direct-user >/dev/null
PEERCOMPUTE_HOME=$P $bin/peerctl peers add "$pid_r" --name relayed-user >/dev/null
read -r hport tport rport pport < <(free_ports 4)
PEERCOMPUTE_HOME=$G $bin/gateway --domain peercompute.localhost --self-signed --listen 127.0.0.1 \
  --https-port "$hport" --tunnel-port "$tport" --relay-port "$rport" --trust-provider "$pid_p" >"$work/gateway.log" 2>&1 &
gw=$!; pids+=("$gw")
wait_line "$work/gateway.log" "gateway up" "$gw"
relay_id=$(PEERCOMPUTE_HOME=$G $bin/gateway id); pin=$(PEERCOMPUTE_HOME=$G $bin/gateway pin)
PEERCOMPUTE_HOME=$P $bin/peercomputed --listen "/ip4/127.0.0.1/tcp/$pport" --no-mdns --gateway "127.0.0.1:$tport" --gateway-pin "$pin" \
  --max-deploys 50 --max-memory 16GB --max-cpu 64000 >"$work/provider.log" 2>&1 &
daemon=$!; pids+=("$daemon")
wait_line "$work/provider.log" " ready: " "$daemon"
wait_line "$work/provider.log" "relay: reserved on /ip4/127.0.0.1/tcp/$rport/p2p/$relay_id" "$daemon"
relayed=/ip4/127.0.0.1/tcp/$rport/p2p/$relay_id/p2p-circuit/p2p/$pid_p
PEERCOMPUTE_HOME=$D $bin/peerctl peers add "$pid_p" --name bench --addr "/ip4/127.0.0.1/tcp/$pport" >/dev/null
PEERCOMPUTE_HOME=$R $bin/peerctl peers add "$pid_p" --name bench --addr "$relayed" >/dev/null
echo "relayed address: $relayed"

# status: round 0 of each is a warm-up (page cache, the provider's first Docker calls).
sd=() sr=()
for i in $(seq 0 "$rounds"); do
  for who in D R; do
    home=${!who}
    t0=$EPOCHREALTIME; out=$(PEERCOMPUTE_HOME=$home $bin/peerctl status --json); t1=$EPOCHREALTIME
    via=$(json_field via <<<"$out")
    if [[ $who == D ]]; then expect_via "status (direct home)" "$via" direct; else expect_via "status (relayed home)" "$via" relay; fi
    if (( i )); then
      if [[ $who == D ]]; then sd+=("$(ms "$t0" "$t1")"); else sr+=("$(ms "$t0" "$t1")"); fi
    fi
  done
done
msd=$(median "${sd[@]}"); msr=$(median "${sr[@]}")
echo "peerctl status --json, median of $rounds: direct ${msd} ms ($(spread "${sd[@]}")), relayed ${msr} ms ($(spread "${sr[@]}")), ratio relayed/direct $(ratio "$msr" "$msd")x (aim: under 2x)"

wait_http() { local i; for i in $(seq 3000); do curl -fs -m 1 "$1" >/dev/null && return 0; sleep 0.01; done; echo "FAIL: $1 never answered" >&2; exit 1; }
dd=() dr=()
for i in $(seq 1 "$deploys"); do
  for who in D R; do
    home=${!who}
    t0=$EPOCHREALTIME
    out=$(PEERCOMPUTE_HOME=$home $bin/peerctl deploy $image --name "b${who,,}$i" --port 8080 --memory 32MB --cpu 100m --json)
    wait_http "$(json_field localUrl <<<"$out")"
    t1=$EPOCHREALTIME
    via=$(json_field via <<<"$out")
    if [[ $who == D ]]; then expect_via "deploy (direct home)" "$via" direct; dd+=("$(ms "$t0" "$t1")")
    else expect_via "deploy (relayed home)" "$via" relay; dr+=("$(ms "$t0" "$t1")"); fi
    PEERCOMPUTE_HOME=$home $bin/peerctl stop "b${who,,}$i" --json >/dev/null
  done
done
mdd=$(median "${dd[@]}"); mdr=$(median "${dr[@]}")
echo "peerctl deploy until the local URL answers, median of $deploys: direct ${mdd} ms ($(spread "${dd[@]}")), relayed ${mdr} ms ($(spread "${dr[@]}")), ratio relayed/direct $(ratio "$mdr" "$mdd")x"
echo "via checked: every status/deploy from the direct home said direct, from the relayed home relay"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

# ---------------------------------------------------------------- part 2: one stream's throughput (NetBench --relay)
if [[ ${NETBENCH:-1} != 0 ]]; then
  dotnet build -c Release -v q --nologo bench/net/NetBench >"$work/netbench-build.log" 2>&1 || { cat "$work/netbench-build.log" >&2; exit 1; }
  echo "## one stream, C#->C# in one process (NetBench --relay --mib ${NETBENCH_MIB:-64} --repeat ${NETBENCH_REPEAT:-5})"
  dotnet bench/net/NetBench/bin/Release/net10.0/NetBench.dll --relay --mib "${NETBENCH_MIB:-64}" --repeat "${NETBENCH_REPEAT:-5}" | grep -v '^  run '
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
