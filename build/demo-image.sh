#!/usr/bin/env bash
# Builds the quick start's demo image locally, from Debian's busybox-static: no registry is reached.
#
#   peercompute-demo/hello:1    /bin/busybox and its applets, /www/index.html ("served through Peer Compute");
#                               runs `httpd -f -p 8080 -h /www` (an unprivileged port, a read-only root is fine)
#
# Idempotent: an image built from the same page is kept (FORCE=1 rebuilds). Prints the image name last.
# Usage: build/demo-image.sh          (env: DEMO_IMAGE=name:tag)
set -euo pipefail

image="${DEMO_IMAGE:-peercompute-demo/hello:1}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! docker info >/dev/null 2>&1; then
  echo "demo-image: no Docker engine answers (build/quickstart.sh starts or explains one)" >&2
  exit 1
fi

page="$(cat <<'HTML'
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Hello from Peer Compute</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;line-height:1.5}code{background:#eee;padding:0 .2em}</style>
</head>
<body>
<h1>Hello from Peer Compute</h1>
<p>This page was served through Peer Compute: a container started by <code>peerctl deploy</code> on a provider
(<code>peercomputed</code>), reached over the provider's outbound tunnel to the <code>gateway</code>, which
terminated your HTTPS connection.</p>
<p>Nobody opened an inbound port on the provider.</p>
</body>
</html>
HTML
)"
# The page's hash labels the image, so a changed page means a rebuild and an unchanged one a no-op.
digest="$(printf '%s' "$page" | sha256sum | cut -c1-16)"

if [ "${FORCE:-0}" != "1" ] \
  && [ "$(docker image inspect --format '{{ index .Config.Labels "peercompute.demo" }}' "$image" 2>/dev/null || true)" = "$digest" ]; then
  echo "demo-image: $image present" >&2
  echo "$image"
  exit 0
fi

# shellcheck source=build/busybox-image.sh
. "$here/busybox-image.sh"
# The page is readable by any user the container runs as.
www_readable() { chmod -R a+rX "$1/www"; }
BUSYBOX_WHO=demo-image BUSYBOX_ROOTFS_HOOK=www_readable busybox_image "$image" "$page" --change "LABEL peercompute.demo=$digest"
echo "demo-image: built $image (from $BUSYBOX_USED; see $here/demo-image.sh)" >&2
echo "$image"
