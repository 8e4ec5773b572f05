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

# A static busybox: the host's when it is static, else Debian's busybox-static.
busybox=""
for candidate in /bin/busybox /usr/bin/busybox; do
  if [ -x "$candidate" ] && "$candidate" --list >/dev/null 2>&1 && ! ldd "$candidate" >/dev/null 2>&1; then
    busybox="$candidate"
    break
  fi
done
if [ -z "$busybox" ]; then
  if ! dpkg -s busybox-static >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "demo-image: needs a static busybox: sudo apt-get install busybox-static" >&2
      exit 1
    fi
    echo "demo-image: installing busybox-static (Debian package) for the demo image" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
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
printf '%s\n' "$page" >"$root/www/index.html"
chmod -R a+rX "$root/www"

tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . | docker import \
  --change 'ENV PATH=/bin' \
  --change 'EXPOSE 8080' \
  --change "LABEL peercompute.demo=$digest" \
  --change 'CMD ["/bin/httpd","-f","-p","8080","-h","/www"]' \
  - "$image" >/dev/null
echo "demo-image: built $image (from $busybox; see $here/demo-image.sh)" >&2
echo "$image"
