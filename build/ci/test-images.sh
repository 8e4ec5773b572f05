#!/usr/bin/env bash
# Builds the local images the runtime tests and benchmark use, from Debian's busybox-static.
# No registry is reached. Idempotent: an image already present is kept (FORCE=1 rebuilds).
#   peercompute-test/busybox:latest   rootfs with /bin/busybox and its applet links, /tmp, /etc/passwd
# Usage: build/ci/test-images.sh
set -euo pipefail

image="peercompute-test/busybox:latest"

if ! docker info >/dev/null 2>&1; then
  echo "test-images: no Docker engine answers (run build/ci/start-dockerd.sh first)" >&2
  exit 1
fi

if [ "${FORCE:-0}" != "1" ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "test-images: $image present"
  exit 0
fi

busybox=/bin/busybox
if ! "$busybox" --list >/dev/null 2>&1 || ldd "$busybox" >/dev/null 2>&1; then
  # Not there, or dynamically linked: take Debian's static build.
  if [ ! -x /usr/bin/busybox-static ] && ! dpkg -s busybox-static >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq busybox-static >/dev/null
  fi
  busybox="$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n1)"
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/www" "$root/proc" "$root/sys" "$root/dev"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
echo "peercompute test page" >"$root/www/index.html"

# Default: an HTTP server on port 8080 in the foreground, serving /www.
tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . | docker import \
  --change 'ENV PATH=/bin' \
  --change 'EXPOSE 8080' \
  --change 'CMD ["/bin/httpd","-f","-p","8080","-h","/www"]' \
  - "$image" >/dev/null
echo "test-images: built $image"
