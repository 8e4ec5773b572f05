#!/usr/bin/env bash
# Installs, when missing, the Debian packages that the Native AOT release build (and its tests) need:
#   every RID:    clang, lld, llvm (llvm-objcopy, llvm-ar), make, curl, binutils (readelf)
#   linux-arm64:  the arm64 C runtime to link against (libc6-dev:arm64, libgcc-12-dev:arm64)
#                 and qemu-user-static, which the system tests use to run the arm64 binaries.
# Usage: build/setup-cross.sh [RID...]   (default: linux-x64 linux-arm64)
# Does nothing (no apt-get at all) when everything is already installed.
set -euo pipefail

rids=("$@")
[ ${#rids[@]} -gt 0 ] || rids=(linux-x64 linux-arm64)

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

packages=(clang lld llvm make curl binutils)
need_arm64=false
for rid in "${rids[@]}"; do
  case "$rid" in
    linux-x64) ;;
    linux-arm64)
      need_arm64=true
      packages+=(libc6-dev:arm64 libgcc-12-dev:arm64 qemu-user-static)
      ;;
    *) echo "setup-cross.sh: unsupported RID '$rid' (linux-x64, linux-arm64)" >&2; exit 2 ;;
  esac
done

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-cross.sh: all build packages present"
  exit 0
fi
echo "setup-cross.sh: installing ${missing[*]}"

# Sources that pin "Architectures:" (deb822) or "[arch=...]" (one-line) to the host architecture hide
# the arm64 packages; allow arm64 on the stanzas that serve this Debian release, and only those.
allow_arm64_in_sources() {
  local codename
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  [ -n "$codename" ] || return 0
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    $sudo awk -v cn="$codename" '
      function flush(   i, ours) {
        ours = 0
        for (i = 1; i <= n; i++)
          if (buf[i] ~ /^Suites:/ && buf[i] ~ ("[ \t]" cn "(-[a-z]+)?([ \t]|$)")) ours = 1
        for (i = 1; i <= n; i++) {
          if (ours && buf[i] ~ /^Architectures:/ && buf[i] !~ /[ \t]arm64([ \t]|$)/) buf[i] = buf[i] " arm64"
          print buf[i]
        }
        n = 0
      }
      /^[ \t]*$/ { flush(); print; next }
      { buf[++n] = $0 }
      END { flush() }
    ' "$f" > "$f.tmp.$$" && $sudo mv "$f.tmp.$$" "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    $sudo sed -E -i "/^deb .*[ \t]${codename}(-[a-z]+)?[ \t]/ { /arch=[^] ]*arm64/! s/arch=([^] ]+)/arch=\1,arm64/ }" "$f"
  done
}

# (A captured string, not "| grep -q": under pipefail grep's early exit would fail the pipeline.)
has_candidate() {
  local out
  out="$(apt-cache policy "$1" 2>/dev/null)"
  [[ "$out" =~ Candidate:\ [0-9] ]]
}

export DEBIAN_FRONTEND=noninteractive
if $need_arm64 && [[ "$(dpkg --print-foreign-architectures)" != *arm64* ]]; then
  $sudo dpkg --add-architecture arm64
fi
$sudo apt-get update -qq
if $need_arm64 && ! has_candidate libc6-dev:arm64; then
  allow_arm64_in_sources
  $sudo apt-get update -qq
  if ! has_candidate libc6-dev:arm64; then
    echo "setup-cross.sh: apt offers no arm64 packages; allow arm64 in /etc/apt sources" >&2
    exit 1
  fi
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
