#!/usr/bin/env bash
# Time from "deploy accepted" to the container answering HTTP on its local port: ContainerRuntime
# against plain `docker run -d` of the same image, alternating in one run, then the ratio of medians.
# Run by hand: bench/runtime/deploy-latency.sh [iterations]   (default 15)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
iterations="${1:-15}"

bash "$root/build/ci/start-dockerd.sh"
bash "$root/build/ci/test-images.sh"
docker rm -f pc-bench-plain >/dev/null 2>&1 || true

dotnet build -c Release -v q --nologo "$root/bench/runtime/RuntimeBench/RuntimeBench.csproj" >/dev/null
dotnet "$root/bench/runtime/RuntimeBench/bin/Release/net10.0/RuntimeBench.dll" "$iterations"
docker network rm pcbench0 >/dev/null 2>&1 || true
