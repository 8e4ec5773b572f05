#!/bin/sh
# Peer Compute installer: peerctl, peercomputed and gateway for this machine (Linux x86_64 or arm64).
#
#   curl -fsSL <release>/install.sh | sh
#   curl -fsSL <release>/install.sh | sh -s -- --bin-dir ~/bin
#   sh install.sh --archive ./peercompute-linux-arm64.tar.gz      (no network: SHA256SUMS next to it)
#
# Downloads peercompute-<linux-x64|linux-arm64>.tar.gz and SHA256SUMS from the release, checks the archive
# against SHA256SUMS, and installs the three programs to /usr/local/bin (as root, or when writable) or else
# ~/.local/bin. Next to them: the bash completion of peerctl (<prefix>/share/bash-completion/completions/)
# and the systemd units (<prefix>/share/peercompute/systemd/). Nothing is installed when any check fails.
#
# Options (each also as an environment variable):
#   --bin-dir DIR      PEERCOMPUTE_INSTALL_DIR  where the programs go
#   --version vX.Y.Z   PEERCOMPUTE_VERSION      a given release instead of the latest
#   --base-url URL     PEERCOMPUTE_BASE_URL     where the archives and SHA256SUMS are (a mirror, a local server)
#   --archive FILE     PEERCOMPUTE_ARCHIVE      install this archive instead of downloading one
#   --checksums FILE   PEERCOMPUTE_CHECKSUMS    SHA256SUMS for --archive (default: the one next to it)
#   --uninstall                                 remove what an install put here (see uninstall() below)
#
# Only POSIX sh and common tools: uname, tar, gzip, sha256sum (or shasum, or openssl), curl or wget.
# Everything runs inside main(), called on the last line, so a download cut short executes nothing.

# The release workflow writes the GitHub repository (owner/name) here in the copy attached to a release.
PEERCOMPUTE_REPOSITORY_DEFAULT="@PEERCOMPUTE_REPOSITORY@"

set -u

say() { printf '%s\n' "peercompute-install: $*"; }
fail() { printf '%s\n' "peercompute-install: error: $*" >&2; exit 1; }
has() { command -v "$1" >/dev/null 2>&1; }

usage() {
  cat <<'USAGE'
Usage: install.sh [--bin-dir DIR] [--version vX.Y.Z] [--base-url URL] [--archive FILE [--checksums FILE]]
       curl -fsSL <release>/install.sh | sh -s -- --bin-dir ~/bin
Installs peerctl, peercomputed and gateway after checking the archive against SHA256SUMS.
  --bin-dir DIR      where the programs go (default /usr/local/bin as root or when writable, else ~/.local/bin)
  --version vX.Y.Z   a given release instead of the latest
  --base-url URL     the folder holding peercompute-<rid>.tar.gz and SHA256SUMS (a mirror, a local server)
  --archive FILE     install this archive (no network); SHA256SUMS must be next to it, or --checksums FILE
  --uninstall        stop and remove the services, the provider's containers and egress firewall rules, and the
                     programs (from --bin-dir, else /usr/local/bin or ~/.local/bin); state folders are kept
Environment: PEERCOMPUTE_INSTALL_DIR, PEERCOMPUTE_VERSION, PEERCOMPUTE_BASE_URL, PEERCOMPUTE_ARCHIVE,
PEERCOMPUTE_CHECKSUMS.
USAGE
}

# The RID of this machine, or a refusal that says why.
detect_rid() {
  os="$(uname -s 2>/dev/null || echo unknown)"
  machine="$(uname -m 2>/dev/null || echo unknown)"
  case "$os" in
    Linux) ;;
    Darwin) fail "macOS is not supported: Peer Compute runs on Linux (x86_64, arm64). peerctl can run in a Linux VM or container." ;;
    *) fail "unsupported operating system '$os': Peer Compute runs on Linux (x86_64, arm64)." ;;
  esac
  case "$machine" in
    x86_64 | amd64) rid=linux-x64; loader=/lib64/ld-linux-x86-64.so.2 ;;
    aarch64 | arm64 | armv8*) rid=linux-arm64; loader=/lib/ld-linux-aarch64.so.1 ;;
    armv6* | armv7* | armhf | arm) fail "unsupported architecture '$machine' (32-bit ARM): Peer Compute needs a 64-bit OS (on a Raspberry Pi: Raspberry Pi OS 64-bit)." ;;
    *) fail "unsupported architecture '$machine': Peer Compute is built for x86_64 and arm64 (aarch64) Linux." ;;
  esac
  # The programs are linked against glibc; on musl (Alpine) they would fail with a puzzling "not found".
  if [ ! -e "$loader" ]; then
    fail "this system has no glibc ($loader is missing): the programs need a glibc distribution (Debian, Ubuntu, Fedora, Raspberry Pi OS...); Alpine/musl is not supported."
  fi
}

# fetch URL FILE: curl or wget; a local path or file:// URL is copied.
fetch() {
  case "$1" in
    file://*) cp "${1#file://}" "$2" || fail "cannot read ${1#file://}" ; return ;;
    /*) cp "$1" "$2" || fail "cannot read $1"; return ;;
  esac
  if has curl; then
    curl -fsSL --retry 3 -o "$2" "$1" || fail "download failed: $1"
  elif has wget; then
    wget -q -O "$2" "$1" || fail "download failed: $1"
  else
    fail "neither curl nor wget is installed: install one of them, or download the archive and SHA256SUMS yourself and run: sh install.sh --archive FILE"
  fi
}

sha256_of() {
  if has sha256sum; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif has shasum; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif has openssl; then
    openssl dgst -sha256 "$1" | sed 's/^.*= *//'
  else
    fail "no sha256sum, shasum or openssl to verify the download: install coreutils"
  fi
}

# verify FILE NAME SUMS: the line for NAME in SUMS must carry FILE's SHA-256.
verify() {
  expected="$(awk -v name="$2" '$2 == name || $2 == "*" name { print $1; exit }' "$3")"
  [ -n "$expected" ] || fail "$3 has no checksum for $2: nothing was installed."
  actual="$(sha256_of "$1")"
  expected="$(printf '%s' "$expected" | tr 'A-F' 'a-f')"
  if [ "$actual" != "$expected" ]; then
    fail "checksum mismatch for $2: expected $expected, got $actual. The file is damaged or not the released one: nothing was installed."
  fi
  say "checksum ok ($2)"
}

# install_file SRC DEST MODE: copy beside DEST then rename, so a running program is replaced, never truncated.
install_file() {
  tmp_dest="$(dirname "$2")/.$(basename "$2").new.$$"
  cp "$1" "$tmp_dest" && chmod "$3" "$tmp_dest" && mv -f "$tmp_dest" "$2" || {
    rm -f "$tmp_dest"
    fail "cannot write $2 (permission denied? run as root, or choose --bin-dir DIR)"
  }
}

# Undo an install: services stopped and their units removed, the provider's containers removed (unmanaged, they
# would run on without the provider's egress firewall), then the firewall rules, then the files. State
# (/var/lib/peercompute, ~/.peercompute: identity, trust list) is kept and named.
uninstall() {
  if [ -z "$bin_dir" ]; then
    for candidate in /usr/local/bin "${HOME:-/nonexistent}/.local/bin"; do
      if [ -e "$candidate/peercomputed" ] || [ -e "$candidate/peerctl" ]; then bin_dir="$candidate"; break; fi
    done
  fi
  if [ -z "$bin_dir" ] || [ ! -d "$bin_dir" ]; then
    fail "no installed Peer Compute found in /usr/local/bin or ~/.local/bin: give --bin-dir DIR"
  fi
  share="$(dirname "$bin_dir")/share"
  root=no
  [ "$(id -u)" = 0 ] && root=yes

  for service in peercomputed gateway; do
    unit="${PEERCOMPUTE_SYSTEMD_DIR:-/etc/systemd/system}/$service.service"
    [ -f "$unit" ] || continue
    [ "$root" = yes ] || fail "$unit is installed: run the uninstall as root (sudo sh install.sh --uninstall)"
    if has systemctl; then systemctl disable --now "$service" >/dev/null 2>&1 || true; fi
    rm -f "$unit" && say "removed the $service service ($unit)"
  done
  if has systemctl && [ "$root" = yes ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi

  if has docker && docker info >/dev/null 2>&1; then
    ids="$(docker ps -aq --filter label=io.peercompute.managed=true 2>/dev/null)"
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086 # one id per word
      docker rm -f $ids >/dev/null && say "removed the provider's containers: $(echo $ids | wc -w)"
    fi
    docker network rm peercompute0 >/dev/null 2>&1 && say "removed the docker network peercompute0"
  fi

  if [ -x "$bin_dir/peercomputed" ]; then
    if [ "$root" = yes ]; then
      "$bin_dir/peercomputed" firewall remove || say "warning: the egress firewall rules could not be removed: see 'iptables -S | grep PEERCOMPUTE'"
    else
      say "not root: egress firewall rules (if any) stay; remove them with: sudo $bin_dir/peercomputed firewall remove"
    fi
  fi

  for program in peerctl peercomputed gateway; do
    rm -f "$bin_dir/$program" || fail "cannot remove $bin_dir/$program (run as root?)"
  done
  rm -f "$share/bash-completion/completions/peerctl"
  rm -rf "$share/peercompute"
  say "removed peerctl, peercomputed and gateway from $bin_dir"
  say "kept (remove by hand if you want): /var/lib/peercompute, /var/lib/peercompute-gateway, ${HOME:-~}/.peercompute"
}

main() {
  bin_dir="${PEERCOMPUTE_INSTALL_DIR:-}"
  version="${PEERCOMPUTE_VERSION:-}"
  base_url="${PEERCOMPUTE_BASE_URL:-}"
  archive="${PEERCOMPUTE_ARCHIVE:-}"
  checksums="${PEERCOMPUTE_CHECKSUMS:-}"
  remove=no
  while [ $# -gt 0 ]; do
    case "$1" in
      --bin-dir) [ $# -ge 2 ] || fail "--bin-dir needs a folder"; bin_dir="$2"; shift 2 ;;
      --version) [ $# -ge 2 ] || fail "--version needs a release tag"; version="$2"; shift 2 ;;
      --base-url) [ $# -ge 2 ] || fail "--base-url needs a URL"; base_url="$2"; shift 2 ;;
      --archive) [ $# -ge 2 ] || fail "--archive needs a file"; archive="$2"; shift 2 ;;
      --checksums) [ $# -ge 2 ] || fail "--checksums needs a file"; checksums="$2"; shift 2 ;;
      --uninstall) remove=yes; shift ;;
      -h | --help) usage; exit 0 ;;
      *) fail "unknown option '$1' (see --help)" ;;
    esac
  done
  if [ "$remove" = yes ]; then
    uninstall
    return
  fi

  detect_rid
  name="peercompute-$rid.tar.gz"

  # Where the files come from.
  if [ -z "$archive" ] && [ -z "$base_url" ]; then
    repository="${PEERCOMPUTE_REPOSITORY:-$PEERCOMPUTE_REPOSITORY_DEFAULT}"
    case "$repository" in
      @*) fail "this copy of install.sh does not know its release: give --base-url URL (the folder holding $name and SHA256SUMS) or --archive FILE" ;;
    esac
    if [ -n "$version" ]; then
      base_url="https://github.com/$repository/releases/download/$version"
    else
      base_url="https://github.com/$repository/releases/latest/download"
    fi
  fi

  tmp="$(mktemp -d 2>/dev/null)" || {
    tmp="${TMPDIR:-/tmp}/peercompute-install.$$"
    (umask 077 && mkdir "$tmp") || fail "cannot create a temporary folder in ${TMPDIR:-/tmp}"
  }
  trap 'rm -rf "$tmp"' EXIT
  trap 'rm -rf "$tmp"; exit 130' INT TERM

  if [ -n "$archive" ]; then
    [ -f "$archive" ] || fail "no such archive: $archive"
    given="$(basename "$archive")"
    case "$given" in
      peercompute-linux-*.tar.gz)
        [ "$given" = "$name" ] || fail "$given is not for this machine: it needs $name ($(uname -m))." ;;
    esac
    name="$given"
    [ -n "$checksums" ] || checksums="$(dirname "$archive")/SHA256SUMS"
    [ -f "$checksums" ] || fail "no SHA256SUMS beside $archive: copy it from the release too (or give --checksums FILE); nothing is installed unverified."
    cp "$archive" "$tmp/$name" || fail "cannot read $archive"
    cp "$checksums" "$tmp/SHA256SUMS" || fail "cannot read $checksums"
  else
    base_url="${base_url%/}"
    say "downloading $base_url/$name"
    fetch "$base_url/SHA256SUMS" "$tmp/SHA256SUMS"
    fetch "$base_url/$name" "$tmp/$name"
  fi
  verify "$tmp/$name" "$name" "$tmp/SHA256SUMS"

  mkdir "$tmp/x" && gzip -dc "$tmp/$name" | (cd "$tmp/x" && tar -xf -) || fail "$name is not a readable .tar.gz"
  src="$tmp/x/peercompute-$rid"
  for program in peerctl peercomputed gateway; do
    [ -f "$src/$program" ] || fail "$name does not hold $program: not a Peer Compute release archive"
  done

  # Where the files go.
  if [ -z "$bin_dir" ]; then
    if [ "$(id -u)" = 0 ] || { [ -d /usr/local/bin ] && [ -w /usr/local/bin ]; }; then
      bin_dir=/usr/local/bin
    else
      bin_dir="${HOME:?HOME is not set: give --bin-dir DIR}/.local/bin"
    fi
  fi
  mkdir -p "$bin_dir" || fail "cannot create $bin_dir (run as root, or choose --bin-dir DIR)"
  bin_dir="$(cd "$bin_dir" && pwd)"
  share="$(dirname "$bin_dir")/share"

  for program in peerctl peercomputed gateway; do
    install_file "$src/$program" "$bin_dir/$program" 755
  done
  say "installed peerctl, peercomputed and gateway $(cat "$src/VERSION" 2>/dev/null) in $bin_dir"

  # Extras: failure to write them does not undo the programs.
  if mkdir -p "$share/bash-completion/completions" 2>/dev/null \
    && cp "$src/completions/peerctl.bash" "$share/bash-completion/completions/peerctl" 2>/dev/null; then
    say "bash completion: $share/bash-completion/completions/peerctl"
  fi
  if mkdir -p "$share/peercompute/systemd" 2>/dev/null; then
    for unit in "$src"/systemd/*.service; do
      [ -f "$unit" ] || continue
      # The units name /usr/local/bin; point them at where the programs really are.
      sed "s#/usr/local/bin/#$bin_dir/#g" "$unit" >"$share/peercompute/systemd/$(basename "$unit")" 2>/dev/null || true
    done
    say "systemd units: $share/peercompute/systemd/ (see the README: copy to /etc/systemd/system/)"
  fi

  if ! installed_version="$("$bin_dir/peerctl" --version 2>&1)"; then
    fail "installed, but $bin_dir/peerctl does not run here: $installed_version"
  fi
  say "peerctl --version: $installed_version"
  case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) say "note: $bin_dir is not on your PATH; add it: export PATH=\"$bin_dir:\$PATH\"" ;;
  esac
  say "next: peerctl init   (then see the README: quick start, providers, gateway)"
}

main "$@"
