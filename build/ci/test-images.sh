#!/usr/bin/env bash
# Builds the local images the runtime tests and benchmark use, from Debian's busybox-static, and
# installs the tools the pull tests need (Debian's docker-registry, htpasswd from apache2-utils).
# No container registry is reached. Idempotent: an image already present is kept (FORCE=1 rebuilds).
#   peercompute-test/busybox:latest   rootfs with /bin/busybox and its applet links, /tmp, /etc/passwd,
#                                     /www/index.html; runs `httpd -f -p 8080 -h /www` by default
# Usage: build/ci/test-images.sh
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the registry as a service on :5000; the tests run their own on loopback.
  if command -v service >/dev/null 2>&1; then service docker-registry stop >/dev/null 2>&1 || true; fi
fi

image="peercompute-test/busybox:latest"

if ! docker info >/dev/null 2>&1; then
  echo "test-images: no Docker engine answers (run build/ci/start-dockerd.sh first)" >&2
  exit 1
fi

if [ "${FORCE:-0}" != "1" ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "test-images: $image present"
  exit 0
fi

# shellcheck source=build/busybox-image.sh
. "$(dirname "${BASH_SOURCE[0]}")/../busybox-image.sh"
# Default: an HTTP server on port 8080 in the foreground, serving /www.
BUSYBOX_WHO=test-images busybox_image "$image" "peercompute test page"
echo "test-images: built $image"
