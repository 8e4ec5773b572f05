#!/usr/bin/env bash
# Runs every benchmark and prints ONE markdown table of what they measured: path | ours | reference | ratio | aim | met.
# In order: bench/size/run.sh, bench/public/run.sh, bench/net/run.sh, bench/deploy/bench.sh and (not with --smoke,
# and only when `ulimit -n` can be raised to 20000) bench/gateway/idle-tunnels.sh. A script that is missing, or
# that does not follow the contract yet (it never mentions BENCH_ROWS), is skipped with a note.
# Each appends TAB-separated rows to the file named by BENCH_ROWS:
#   row-id, ours, reference name, reference figure, ratio, aim, met
# The table goes to stdout and to artifacts/bench/table.md.
#
#   bench/run.sh [--smoke]      --smoke: every script in its seconds-long mode; exits non-zero when one that is
#                               present fails or writes no row (without --smoke such a failure is only noted in
#                               the table).
# Needs the published programs: build/publish.sh linux-x64.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

smoke=false
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=true ;;
    *) echo "bench/run.sh: unknown argument '$arg' (usage: bench/run.sh [--smoke])" >&2; exit 2 ;;
  esac
done
args=(); $smoke && args=(--smoke)

# Say where the figures come from before anything loads the machine.
started="$(date -u '+%Y-%m-%d %H:%M UTC')"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
cpu="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
[ -n "$cpu" ] || cpu="$(uname -m)"
machine="$(nproc) cores, $cpu, Linux $(uname -r)"

rows="$(mktemp /tmp/pc-bench-rows-XXXXXX)"
trap 'rm -f "$rows"' EXIT
export BENCH_ROWS="$rows"

scripts=(bench/size/run.sh bench/public/run.sh bench/net/run.sh bench/deploy/bench.sh)
if ! $smoke; then
  if (ulimit -n 20000) 2>/dev/null; then
    scripts+=(bench/gateway/idle-tunnels.sh)
  else
    echo "bench/run.sh: skipping bench/gateway/idle-tunnels.sh: ulimit -n cannot be raised to 20000 (hard limit $(ulimit -Hn))"
  fi
fi

notes=(); failed=0
for script in "${scripts[@]}"; do
  if [ ! -f "$script" ]; then
    echo "bench/run.sh: skipping $script: not in this tree"
    notes+=("$script: not in this tree")
    continue
  fi
  if ! grep -q BENCH_ROWS "$script"; then
    echo "bench/run.sh: skipping $script: it does not write BENCH_ROWS rows yet"
    notes+=("$script: does not write BENCH_ROWS rows yet")
    continue
  fi
  echo "== bench/run.sh: $script ${args[*]}"
  t0=$SECONDS
  before=$(wc -l <"$rows")
  bash "$script" "${args[@]}"
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "bench/run.sh: $script failed (exit $rc)" >&2
    notes+=("$script: FAILED (exit $rc)")
    failed=1
  elif [ "$(wc -l <"$rows")" -eq "$before" ]; then
    echo "bench/run.sh: $script wrote no BENCH_ROWS row" >&2
    notes+=("$script: FAILED (no row written)")
    failed=1
  fi
  echo "== bench/run.sh: $script took $((SECONDS - t0)) s"
done

mkdir -p artifacts/bench
{
  echo "| path | ours | reference | ratio | aim | met |"
  echo "|---|---|---|---|---|---|"
  # Reference name and figure share a column: "nginx TLS 1.3 proxy: 7424 req/s".
  awk -F'\t' 'NF >= 7 {
      ref = ($3 == "-" || $3 == "") ? "-" : ($4 == "-" || $4 == "" ? $3 : $3 ": " $4)
      printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, ref, $5, $6, $7
    }
    NF > 0 && NF < 7 { printf "| %s | (malformed row: %d fields) | | | | no |\n", $1, NF }' "$rows"
  echo
  echo "Machine: $machine; load average at start $load_at_start. Date: $started.$($smoke && echo ' Smoke run: tiny sizes, figures are not meaningful.')"
  for note in "${notes[@]}"; do echo "- $note"; done
} >artifacts/bench/table.md
echo
cat artifacts/bench/table.md

# A failure always shows in the table; only --smoke (CI) turns it into the exit status, so that a long full run
# still prints what the other scripts measured.
$smoke && [ $failed -ne 0 ] && exit 1
exit 0
