#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian/Ubuntu machine with the .NET SDK,
# and starts dockerd. Idempotent: safe to run again. xfsprogs and btrfs-progs format the loop-mounted
# data roots of the writable-layer tests.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
for pkg in docker.io busybox-static docker-registry apache2-utils clang lld qemu-user-static iproute2 iptables curl dash chromium afl++ faketime util-linux xfsprogs btrfs-progs; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# Node may come from elsewhere than Debian (it does on the CI image): only install it when missing.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi

bash build/ci/start-dockerd.sh
bash build/ci/test-images.sh
