#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian/Ubuntu machine with the .NET SDK,
# and starts dockerd. Idempotent: safe to run again. xfsprogs and btrfs-progs format the loop-mounted
# data roots of the writable-layer tests. nginx-light, wrk, nghttp2-client (h2load) and hyperfine are for the
# benchmarks (bench/run.sh); they start their own nginx on free loopback ports. bind9-dnsutils (dig) and pebble (a
# test ACME server) check the gateway's DNS server and ACME client.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
for pkg in docker.io busybox-static docker-registry apache2-utils clang lld qemu-user-static iproute2 iptables curl dash chromium afl++ faketime util-linux xfsprogs btrfs-progs nginx-light wrk nghttp2-client hyperfine bind9-dnsutils pebble; do
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

# Debian's nginx package starts a system nginx on port 80 when installed: stop it and keep it from starting at boot,
# so that it never holds a port the tests or benchmarks use. Only that service is stopped (its pid file), never
# the nginx instances benchmarks run with their own configuration.
if [ -x /etc/init.d/nginx ] || [ -f /lib/systemd/system/nginx.service ]; then
  if [ -d /run/systemd/system ]; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
  else
    service nginx stop >/dev/null 2>&1 || true
    update-rc.d nginx disable >/dev/null 2>&1 || true
  fi
fi

bash build/ci/start-dockerd.sh
bash build/ci/test-images.sh
