#!/usr/bin/env bash
# libp2p stack benchmark (NetBench, see README.md), one run over loopback:
#   libp2p-stream     one stream C#<->C# (push, SHA-256 on both ends) against js<->js in the same run,
#                     plus the sink (no hashing) MB/s and CPU-seconds per GiB;
#   yamux-open-close  yamux alone over TCP + Noise: open, 1 byte, FIN, echo, read to end, one at a time,
#                     with the libp2p figure (multistream-select on every stream) beside it.
# The first js run installs tests/interop/js (npm ci). BENCH_ROWS=file appends the two rows (see bench/run.sh).
#
#   bench/net/run.sh [--smoke] [NetBench options: --mib 256 --repeat 3 --streams 2000 --no-js]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
args=(--mib 256 --repeat 3 --streams 2000)
if [ "${1:-}" = "--smoke" ]; then
  shift
  args=(--mib 16 --repeat 1 --streams 100)
fi
if [ ! -d tests/interop/js/node_modules ] && [[ " $* " != *" --no-js "* ]]; then
  (cd tests/interop/js && npm ci --no-audit --no-fund >/dev/null)
fi
dotnet build -c Release bench/net/NetBench -v q -nologo >/dev/null
exec dotnet bench/net/NetBench/bin/Release/net10.0/NetBench.dll "${args[@]}" "$@"
