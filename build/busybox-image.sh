#!/usr/bin/env bash
# The one busybox image builder, sourced by build/demo-image.sh (the quick start's demo) and
# build/ci/test-images.sh (the tests' image). No registry is reached.
#
#   static_busybox WHO                finds a statically linked busybox (the host's, else Debian's
#                                     busybox-static, installed when run as root); prints its path
#   busybox_image IMAGE PAGE [ARG...] imports IMAGE: /bin/busybox and its applet links, /tmp (1777),
#                                     /etc/passwd and /etc/group (root, nobody), /www/index.html = PAGE,
#                                     empty /proc /sys /dev; ENV PATH=/bin, EXPOSE 8080, and by default
#                                     `httpd -f -p 8080 -h /www`. ARGs go to docker import (--change ...).
#                                     BUSYBOX_ROOTFS_HOOK, if set, is run with the rootfs folder first.

static_busybox() {
  local who="$1" candidate
  for candidate in /bin/busybox /usr/bin/busybox; do
    if [ -x "$candidate" ] && "$candidate" --list >/dev/null 2>&1 && ! ldd "$candidate" >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  if ! dpkg -s busybox-static >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "$who: needs a static busybox: sudo apt-get install busybox-static" >&2
      return 1
    fi
    echo "$who: installing busybox-static (Debian package)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
  fi
  dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n1
}

busybox_image() {
  local image="$1" page="$2" busybox root applet status=0
  shift 2
  busybox="$(static_busybox "${BUSYBOX_WHO:-busybox-image}")" || return 1
  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/www" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf '%s\n' "$page" >"$root/www/index.html"
  if [ -n "${BUSYBOX_ROOTFS_HOOK:-}" ]; then "$BUSYBOX_ROOTFS_HOOK" "$root" || status=$?; fi

  [ "$status" -ne 0 ] || tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . | docker import \
    --change 'ENV PATH=/bin' \
    --change 'EXPOSE 8080' \
    "$@" \
    --change 'CMD ["/bin/httpd","-f","-p","8080","-h","/www"]' \
    - "$image" >/dev/null || status=$?
  rm -rf "$root"
  BUSYBOX_USED="$busybox"
  return "$status"
}
