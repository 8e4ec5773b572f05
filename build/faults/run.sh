#!/usr/bin/env bash
# The fault and load tests alone (tests/PeerCompute.System.Tests/Faults): provider, gateway and dockerd
# crashes, a full disk, a cut link, a skewed clock, and 200 clients for 60 s across provider reconnects.
# As root (tmpfs mounts, network namespaces, a private dockerd). About 6 minutes on 2 cores.
#
#   build/faults/run.sh                 # setup, publish linux-x64, run the suite
#   build/faults/run.sh --no-publish    # reuse artifacts/linux-x64
#   FAULTS_FILTER='/*/*/LoadTests/*' build/faults/run.sh --no-publish   # one class
set -euo pipefail
cd "$(dirname "$0")/../.."

bash build/ci/setup.sh
if [ "${1:-}" != "--no-publish" ]; then
  build/publish.sh linux-x64
fi
exec dotnet run --project tests/PeerCompute.System.Tests -c Release -- \
  --treenode-filter "${FAULTS_FILTER:-/*/PeerCompute.System.Tests.Faults/*/*}" --output detailed
