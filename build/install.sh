#!/bin/sh
# Peer Compute installer: peerctl, peercomputed and gateway for this machine (Linux x86_64 or arm64).
#
#   curl -fsSL <release>/install.sh | sh
#   curl -fsSL <release>/install.sh | sh -s -- --bin-dir ~/bin
#   sh install.sh --archive ./peercompute-linux-arm64.tar.gz      (no network: SHA256SUMS next to it)
#   sh install.sh --sha256 HEX           (the archive's SHA-256 pinned: from the release notes, not the server)
#
# Downloads peercompute-<linux-x64|linux-arm64>.tar.gz and SHA256SUMS from the release (https only, or a local
# folder), checks the archive against SHA256SUMS or the pinned --sha256, and, when a release public key is
# known (--public-key, or written into this copy by build/package.sh --signing-key), its Ed25519 signature
# <archive>.sig (openssl). Then it installs the three programs to /usr/local/bin (as root, or when writable) or else
# ~/.local/bin. Next to them: the bash completion of peerctl (<prefix>/share/bash-completion/completions/)
# and the systemd units (<prefix>/share/peercompute/systemd/). Nothing is installed when any check fails.
#
# Options (each also as an environment variable):
#   --bin-dir DIR      PEERCOMPUTE_INSTALL_DIR  where the programs go
#   --version vX.Y.Z   PEERCOMPUTE_VERSION      a given release instead of the latest
#   --base-url URL     PEERCOMPUTE_BASE_URL     where the archives and SHA256SUMS are: https:// or a local folder
#   --archive FILE     PEERCOMPUTE_ARCHIVE      install this archive instead of downloading one
#   --checksums FILE   PEERCOMPUTE_CHECKSUMS    SHA256SUMS for --archive (default: the one next to it)
#   --sha256 HEX       PEERCOMPUTE_SHA256       the archive's SHA-256, pinned (then SHA256SUMS is not used)
#   --public-key KEY   PEERCOMPUTE_PUBLIC_KEY   the release's Ed25519 public key (PEM file, or its base64 line):
#                                               the archive's signature <archive>.sig must verify
#   --signature FILE   PEERCOMPUTE_SIGNATURE    the signature for --archive (default: <archive>.sig next to it)
#   --uninstall                                 remove what an install put here (see uninstall() below)
#   --home DIR         PEERCOMPUTE_HOME         with --uninstall: the provider's state folder (its identity names
#                                               the containers to remove)
#
# Only POSIX sh and common tools: uname, tar, gzip, sha256sum (or shasum, or openssl), curl or wget; openssl
# (3.0 or later) to check a signature.
# Everything runs inside main(), called on the last line, so a download cut short executes nothing.

# The release workflow writes the GitHub repository (owner/name) here in the copy attached to a release.
PEERCOMPUTE_REPOSITORY_DEFAULT="@PEERCOMPUTE_REPOSITORY@"
# build/package.sh --signing-key writes the release's Ed25519 public key (base64 of its DER form) here.
PEERCOMPUTE_PUBLIC_KEY_DEFAULT="@PEERCOMPUTE_PUBLIC_KEY@"

set -u

say() { printf '%s\n' "peercompute-install: $*"; }
fail() { printf '%s\n' "peercompute-install: error: $*" >&2; exit 1; }
has() { command -v "$1" >/dev/null 2>&1; }

usage() {
  cat <<'USAGE'
Usage: install.sh [--bin-dir DIR] [--version vX.Y.Z] [--base-url URL] [--archive FILE [--checksums FILE]]
                  [--sha256 HEX] [--public-key KEY [--signature FILE]]
       install.sh --uninstall [--bin-dir DIR] [--home DIR]
       curl -fsSL <release>/install.sh | sh -s -- --bin-dir ~/bin
Installs peerctl, peercomputed and gateway after checking the archive against SHA256SUMS (or a pinned SHA-256)
and, with a release public key, its signature.
  --bin-dir DIR      where the programs go (default /usr/local/bin as root or when writable, else ~/.local/bin)
  --version vX.Y.Z   a given release instead of the latest
  --base-url URL     the folder holding peercompute-<rid>.tar.gz and SHA256SUMS: https://... or a local folder
  --archive FILE     install this archive (no network); SHA256SUMS must be next to it, or --checksums FILE
  --sha256 HEX       the archive's SHA-256 (64 hex digits), pinned from the release notes; SHA256SUMS is not used
  --public-key KEY   the release's Ed25519 public key (a PEM file, or its base64 line): <archive>.sig must verify
  --signature FILE   the signature of --archive (default: <archive>.sig next to it)
  --uninstall        stop and remove the services, this provider's containers, the egress firewall rules (unless
                     other instances' containers still need them), and the programs (from --bin-dir, else
                     /usr/local/bin or ~/.local/bin); state folders are kept
  --home DIR         with --uninstall: the provider's state folder, whose identity names its containers (default:
                     the service's, /var/lib/peercompute, else ~/.peercompute)
Environment: PEERCOMPUTE_INSTALL_DIR, PEERCOMPUTE_VERSION, PEERCOMPUTE_BASE_URL, PEERCOMPUTE_ARCHIVE,
PEERCOMPUTE_CHECKSUMS, PEERCOMPUTE_SHA256, PEERCOMPUTE_PUBLIC_KEY, PEERCOMPUTE_SIGNATURE, PEERCOMPUTE_HOME.
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

# check_source URL: https:// or a local folder; plain http (or another scheme) is refused before anything is fetched.
check_source() {
  case "$1" in
    https://* | file://* | /* | ./* | ../*) ;;
    http://*) fail "refusing to download over plain http ($1): anyone on the way could swap the archive and SHA256SUMS together. Use https://, or download the files and run: sh install.sh --archive FILE" ;;
    *://*) fail "unsupported URL '$1': use https://... or a local folder" ;;
    *) fail "'$1' is neither an https:// URL nor a local folder (give an absolute path, or ./...)" ;;
  esac
}

# fetch URL FILE [WHAT]: https with curl or wget; a local path or file:// URL is copied.
fetch() {
  case "$1" in
    file://*) cp "${1#file://}" "$2" 2>/dev/null || fail "cannot read ${1#file://}${3:+ ($3)}: nothing was installed."; return ;;
    https://*) ;;
    *) cp "$1" "$2" 2>/dev/null || fail "cannot read $1${3:+ ($3)}: nothing was installed."; return ;;
  esac
  if has curl; then
    curl -fsSL --proto '=https' --tlsv1.2 --retry 3 -o "$2" "$1" || fail "download failed: $1${3:+ ($3)}: nothing was installed."
  elif has wget; then
    wget -q -O "$2" "$1" || fail "download failed: $1${3:+ ($3)}: nothing was installed."
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

# verify_pinned FILE NAME HEX: FILE's SHA-256 must be the pinned one (--sha256).
verify_pinned() {
  actual="$(sha256_of "$1")"
  if [ "$actual" != "$3" ]; then
    fail "checksum mismatch for $2: the pinned --sha256 is $3, the archive's is $actual. It is not the release you pinned: nothing was installed."
  fi
  say "checksum ok ($2, pinned)"
}

# public_key_pem KEY OUT: the release key as a PEM file, from a PEM file or its base64 line.
public_key_pem() {
  if [ -f "$1" ]; then
    cp "$1" "$2" || fail "cannot read the public key $1"
    return
  fi
  case "$1" in
    *[!A-Za-z0-9+/=]*) fail "--public-key '$1' is neither a readable PEM file nor a base64 public key line" ;;
  esac
  printf '%s\n%s\n%s\n' '-----BEGIN PUBLIC KEY-----' "$1" '-----END PUBLIC KEY-----' >"$2"
}

# verify_signature FILE NAME SIG KEY: SIG is KEY's Ed25519 signature over FILE (openssl 3: pkeyutl -rawin).
verify_signature() {
  has openssl || fail "a release public key is set but openssl is not installed to check the signature of $2: install openssl (3.0 or later); nothing was installed."
  # pkeyutl -rawin (what Ed25519 needs) came with OpenSSL 3.0; 1.1 would fail every signature, misleadingly.
  if ! openssl pkeyutl -help 2>&1 | grep -q -- '-rawin'; then
    fail "$(openssl version 2>/dev/null) cannot check an Ed25519 signature (it needs OpenSSL 3.0 or later): upgrade openssl, or pin the archive with --sha256 HEX instead of a key; nothing was installed."
  fi
  public_key_pem "$4" "$tmp/release.pub.pem"
  if ! openssl pkey -pubin -in "$tmp/release.pub.pem" -noout >/dev/null 2>&1; then
    fail "the release public key is not a valid public key (--public-key): nothing was installed."
  fi
  if openssl pkeyutl -verify -pubin -inkey "$tmp/release.pub.pem" -rawin -in "$1" -sigfile "$3" >"$tmp/verify.out" 2>&1; then
    say "signature ok ($2.sig, Ed25519)"
  else
    fail "signature check failed for $2: $2.sig was not made by the release key ($(head -n 1 "$tmp/verify.out")). The file is damaged or not the released one: nothing was installed."
  fi
}

# install_file SRC DEST MODE: copy beside DEST then rename, so a running program is replaced, never truncated.
install_file() {
  tmp_dest="$(dirname "$2")/.$(basename "$2").new.$$"
  cp "$1" "$tmp_dest" && chmod "$3" "$tmp_dest" && mv -f "$tmp_dest" "$2" || {
    rm -f "$tmp_dest"
    fail "cannot write $2 (permission denied? run as root, or choose --bin-dir DIR)"
  }
}

# The state folder of the provider being uninstalled: --home / PEERCOMPUTE_HOME, else the service's (the
# PEERCOMPUTE_HOME of its unit; read before the unit is removed), else /var/lib/peercompute when it holds an
# identity, else ~/.peercompute.
provider_home() {
  [ -n "$home" ] && return
  unit="${PEERCOMPUTE_SYSTEMD_DIR:-/etc/systemd/system}/peercomputed.service"
  if [ -f "$unit" ]; then
    home="$(sed -n 's/^Environment=["]*PEERCOMPUTE_HOME=\([^" ]*\).*/\1/p' "$unit" | tail -n 1)"
    [ -n "$home" ] || home=/var/lib/peercompute
  elif [ -f /var/lib/peercompute/identity.key ]; then
    home=/var/lib/peercompute
  else
    home="${HOME:-/nonexistent}/.peercompute"
  fi
}

# Remove this provider's containers (labelled with its PeerId: io.peercompute.instance), never another
# instance's on the same engine. The bridge network and the egress rules are shared by every instance: they go
# only when no managed container of any instance is left.
remove_containers() {
  shared=remove
  has docker && docker info >/dev/null 2>&1 || return 0
  instance=""
  if [ -x "$bin_dir/peercomputed" ] && [ -f "$home/identity.key" ]; then
    # The identity file alone: a PEERCOMPUTE_IDENTITY_KEY in this shell would name another identity.
    instance="$(unset PEERCOMPUTE_IDENTITY_KEY; PEERCOMPUTE_HOME="$home" "$bin_dir/peercomputed" id 2>/dev/null)" || instance=""
  fi
  if [ -n "$instance" ]; then
    ids="$(docker ps -aq --filter label=io.peercompute.managed=true --filter "label=io.peercompute.instance=$instance" 2>/dev/null)"
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086 # one id per word
      docker rm -f $ids >/dev/null && say "removed the provider's containers ($instance): $(echo $ids | wc -w)"
    fi
  else
    say "no provider identity in $home (give --home DIR): no container removed; list them with: docker ps -a --filter label=io.peercompute.managed=true"
  fi
  others="$(docker ps -aq --filter label=io.peercompute.managed=true 2>/dev/null)"
  if [ -n "$others" ]; then
    shared=keep
    say "kept the docker network peercompute0 and the egress firewall rules: $(printf '%s\n' "$others" | grep -c .) container(s) of other Peer Compute instances on this engine still use them"
    return 0
  fi
  docker network rm peercompute0 >/dev/null 2>&1 && say "removed the docker network peercompute0"
  return 0
}

# Undo an install: services stopped and their units removed, this provider's containers removed (unmanaged,
# they would run on without the provider's egress firewall), then the firewall rules (unless other instances'
# containers still need them), then the files. State (/var/lib/peercompute, ~/.peercompute: identity, trust
# list) is kept and named.
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
  provider_home

  for service in peercomputed gateway; do
    unit="${PEERCOMPUTE_SYSTEMD_DIR:-/etc/systemd/system}/$service.service"
    [ -f "$unit" ] || continue
    [ "$root" = yes ] || fail "$unit is installed: run the uninstall as root (sudo sh install.sh --uninstall)"
    if has systemctl; then systemctl disable --now "$service" >/dev/null 2>&1 || true; fi
    rm -f "$unit" && say "removed the $service service ($unit)"
  done
  if has systemctl && [ "$root" = yes ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi

  remove_containers

  if [ "$shared" = keep ]; then
    :
  elif [ -x "$bin_dir/peercomputed" ]; then
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
  pinned="${PEERCOMPUTE_SHA256:-}"
  public_key="${PEERCOMPUTE_PUBLIC_KEY:-}"
  signature="${PEERCOMPUTE_SIGNATURE:-}"
  home="${PEERCOMPUTE_HOME:-}"
  remove=no
  while [ $# -gt 0 ]; do
    case "$1" in
      --bin-dir) [ $# -ge 2 ] || fail "--bin-dir needs a folder"; bin_dir="$2"; shift 2 ;;
      --version) [ $# -ge 2 ] || fail "--version needs a release tag"; version="$2"; shift 2 ;;
      --base-url) [ $# -ge 2 ] || fail "--base-url needs a URL"; base_url="$2"; shift 2 ;;
      --archive) [ $# -ge 2 ] || fail "--archive needs a file"; archive="$2"; shift 2 ;;
      --checksums) [ $# -ge 2 ] || fail "--checksums needs a file"; checksums="$2"; shift 2 ;;
      --sha256) [ $# -ge 2 ] || fail "--sha256 needs the archive's SHA-256 (64 hex digits)"; pinned="$2"; shift 2 ;;
      --public-key) [ $# -ge 2 ] || fail "--public-key needs a PEM file or a base64 key"; public_key="$2"; shift 2 ;;
      --signature) [ $# -ge 2 ] || fail "--signature needs a file"; signature="$2"; shift 2 ;;
      --home) [ $# -ge 2 ] || fail "--home needs a folder"; home="$2"; shift 2 ;;
      --uninstall) remove=yes; shift ;;
      -h | --help) usage; exit 0 ;;
      *) fail "unknown option '$1' (see --help)" ;;
    esac
  done
  if [ "$remove" = yes ]; then
    uninstall
    return
  fi

  if [ -n "$pinned" ]; then
    pinned="$(printf '%s' "$pinned" | tr 'A-F' 'a-f')"
    case "$pinned" in
      *[!0-9a-f]*) fail "--sha256 '$pinned' is not a SHA-256: it needs 64 hex digits" ;;
    esac
    [ ${#pinned} -eq 64 ] || fail "--sha256 '$pinned' is not a SHA-256: it needs 64 hex digits, not ${#pinned}"
  fi
  if [ -z "$public_key" ]; then
    case "$PEERCOMPUTE_PUBLIC_KEY_DEFAULT" in
      @*) ;;
      *) public_key="$PEERCOMPUTE_PUBLIC_KEY_DEFAULT" ;;
    esac
  fi
  [ -n "$base_url" ] && check_source "$base_url"

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
    cp "$archive" "$tmp/$name" || fail "cannot read $archive"
    if [ -z "$pinned" ]; then
      [ -n "$checksums" ] || checksums="$(dirname "$archive")/SHA256SUMS"
      [ -f "$checksums" ] || fail "no SHA256SUMS beside $archive: copy it from the release too (or give --checksums FILE, or --sha256 HEX); nothing is installed unverified."
      cp "$checksums" "$tmp/SHA256SUMS" || fail "cannot read $checksums"
    fi
    if [ -n "$public_key" ]; then
      [ -n "$signature" ] || signature="$archive.sig"
      [ -f "$signature" ] || fail "no signature $signature: a release public key is set, so $name must come with its $name.sig (or give --signature FILE); nothing was installed."
      cp "$signature" "$tmp/$name.sig" || fail "cannot read $signature"
    fi
  else
    base_url="${base_url%/}"
    say "downloading $base_url/$name"
    [ -n "$pinned" ] || fetch "$base_url/SHA256SUMS" "$tmp/SHA256SUMS"
    fetch "$base_url/$name" "$tmp/$name"
    [ -z "$public_key" ] || fetch "$base_url/$name.sig" "$tmp/$name.sig" "the signature: a release public key is set"
  fi
  if [ -n "$pinned" ]; then
    verify_pinned "$tmp/$name" "$name" "$pinned"
  else
    verify "$tmp/$name" "$name" "$tmp/SHA256SUMS"
  fi
  if [ -n "$public_key" ]; then
    verify_signature "$tmp/$name" "$name" "$tmp/$name.sig" "$public_key"
  elif [ -z "$pinned" ] && [ -z "$archive" ]; then
    say "note: the archive was checked only against the SHA256SUMS from the same server; pin it with --sha256 HEX (from the release notes) or --public-key KEY"
  fi

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
