#!/usr/bin/env bash
# Builds a static, position-independent libsodium 1.0.22 for each RID, for linking into the Native AOT
# programs (Directory.Build.targets: DirectPInvoke + NativeLibrary). NSec.Cryptography 26.4.0 insists on
# libsodium 1.0.22 at run time, and Debian 12 ships 1.0.18, so we build it from Debian's source package.
#
# Usage: build/libsodium.sh [RID...]   (default: linux-x64 linux-arm64)
# Output: build/.cache/libsodium/1.0.22/<rid>/lib/libsodium.a   (a second run with the same inputs does nothing)
# Needs: curl, clang, lld, llvm-ar, make; for linux-arm64 also libc6-dev:arm64 + libgcc-12-dev:arm64
# (build/setup-cross.sh installs them).
set -euo pipefail

version=1.0.22
tarball="libsodium_${version}.orig.tar.gz"
sha256=5838bb0c3da6148c24ebe531d1ed1297de9a87aea77d426bcd99f289e681631c
pool_path="pool/main/libs/libsodium/${tarball}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/build/.cache"
out_base="$cache/libsodium/$version"

rids=("$@")
[ ${#rids[@]} -gt 0 ] || rids=(linux-x64 linux-arm64)

cflags="-O2 -fPIC -g0"
# Whatever changes the produced archive goes into the stamp, so a change rebuilds.
stamp_for() { echo "sha256=$sha256 cflags=$cflags triple=$1 cc=$(clang --version | head -n1)"; }

# Mirror base URLs from this machine's own apt configuration (deb822 "URIs:" lines and one-line "deb" lines).
apt_mirrors() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    sed -n -E 's/^URIs:[[:space:]]*//p' "$f" | tr ' \t' '\n\n'
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI suite components...
    sed -n -E 's/^deb-src[[:space:]]+/deb /; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f"
  done
}

fetch_source() {
  local dest="$cache/$tarball"
  if [ -f "$dest" ] && echo "$sha256  $dest" | sha256sum -c --status; then
    return 0
  fi
  mkdir -p "$cache"
  local uri tried=()
  while read -r uri; do
    [ -n "$uri" ] || continue
    case "$uri" in http://* | https://*) ;; *) continue ;; esac
    tried+=("$uri")
    if curl -fsSL --retry 2 --connect-timeout 20 -o "$dest.part" "${uri%/}/$pool_path"; then
      if echo "$sha256  $dest.part" | sha256sum -c --status; then
        mv "$dest.part" "$dest"
        echo "libsodium.sh: downloaded $tarball from ${uri%/}/$pool_path"
        return 0
      fi
      echo "libsodium.sh: $tarball from $uri has the wrong SHA-256, ignoring it" >&2
    fi
    rm -f "$dest.part"
  done < <(apt_mirrors | awk '!seen[$0]++')
  echo "libsodium.sh: could not fetch $pool_path with SHA-256 $sha256 from the apt mirrors: ${tried[*]:-none found}" >&2
  exit 1
}

build_rid() {
  local rid="$1" triple
  case "$rid" in
    linux-x64) triple=x86_64-linux-gnu ;;
    linux-arm64) triple=aarch64-linux-gnu ;;
    *) echo "libsodium.sh: unsupported RID '$rid' (linux-x64, linux-arm64)" >&2; exit 2 ;;
  esac
  local prefix="$out_base/$rid"
  local stamp
  stamp="$(stamp_for "$triple")"
  if [ -f "$prefix/lib/libsodium.a" ] && [ "$(cat "$prefix/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "libsodium.sh: $rid up to date ($prefix/lib/libsodium.a)"
    return 0
  fi

  fetch_source
  local work="$cache/libsodium/build-$rid"
  rm -rf "$work" "$prefix"
  mkdir -p "$work"
  tar -xzf "$cache/$tarball" -C "$work" --strip-components=1

  echo "libsodium.sh: building libsodium $version for $rid ($triple)"
  (
    cd "$work"
    # clang with an explicit --target cross-compiles for arm64 against Debian's multiarch libc
    # (libc6-dev:arm64); lld links the configure probes for either architecture.
    ./configure --quiet \
      --host="$triple" \
      --prefix="$prefix" \
      --disable-shared --enable-static --with-pic \
      --disable-dependency-tracking \
      CC="clang --target=$triple" \
      CFLAGS="$cflags" \
      LDFLAGS="-fuse-ld=lld" \
      AR=llvm-ar RANLIB=llvm-ranlib
    make --quiet -j"$(nproc)" >/dev/null
    make --quiet install >/dev/null
  ) > "$work.log" 2>&1 || { tail -n 40 "$work.log" >&2; echo "libsodium.sh: build for $rid failed (log: $work.log)" >&2; exit 1; }

  # The archive must be for the right machine and carry the version NSec checks.
  local machine expect
  machine="$(llvm-readelf -h "$prefix/lib/libsodium.a" | sed -n -E 's/^[[:space:]]*Machine:[[:space:]]*//p' | sort -u)"
  case "$rid" in linux-x64) expect="Advanced Micro Devices X86-64" ;; linux-arm64) expect="AArch64" ;; esac
  if [ "$machine" != "$expect" ]; then
    echo "libsodium.sh: $prefix/lib/libsodium.a has machine '$machine', expected '$expect'" >&2
    exit 1
  fi
  grep -q "SODIUM_VERSION_STRING \"$version\"" "$prefix/include/sodium/version.h"

  echo "$stamp" > "$prefix/.stamp"
  rm -rf "$work" "$work.log"
  echo "libsodium.sh: $rid ready ($prefix/lib/libsodium.a)"
}

for rid in "${rids[@]}"; do
  build_rid "$rid"
done
