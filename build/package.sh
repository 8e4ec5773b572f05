#!/usr/bin/env bash
# Packs what build/publish.sh left in artifacts/<rid>/ into one release archive per RID, plus SHA256SUMS:
#
#   artifacts/release/peercompute-linux-x64.tar.gz      peercompute-linux-x64/{peerctl,peercomputed,gateway,VERSION,
#   artifacts/release/peercompute-linux-arm64.tar.gz        systemd/*.service,completions/peerctl.bash}
#   artifacts/release/SHA256SUMS                         sha256sum format, one line per archive
#   artifacts/release/install.sh                         the installer (build/install.sh), for `curl -fsSL … | sh`
#   artifacts/release/peercompute-<rid>.tar.gz.sig       with --signing-key: Ed25519 signature of each archive
#
# --signing-key KEY.pem (or PEERCOMPUTE_SIGNING_KEY) is the release operator's Ed25519 private key, made once with
# `openssl genpkey -algorithm ed25519 -out release-signing.pem` and kept off the build machine's disk otherwise.
# Each archive gets a detached signature (openssl pkeyutl -sign -rawin: 64 raw bytes) and install.sh gets the
# public key written in, so it refuses an archive whose signature does not verify.
#
# The archive names carry no version, so ".../releases/latest/download/peercompute-linux-x64.tar.gz" always
# names the newest; the version is in VERSION inside and in `peerctl --version`.
# Archives are reproducible: sorted entries, owner root, mtime of the last commit (or SOURCE_DATE_EPOCH).
#
# Usage: build/package.sh [--artifacts DIR] [--out DIR] [--repository OWNER/NAME] [--signing-key KEY.pem] [RID...]
#   RIDs: linux-x64 linux-arm64 (default: every one of them that artifacts/ holds)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
artifacts="$root/artifacts"
out=""
repository=""
signing_key="${PEERCOMPUTE_SIGNING_KEY:-}"
rids=()
while [ $# -gt 0 ]; do
  case "$1" in
    --artifacts) artifacts="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --repository) repository="$2"; shift 2 ;;
    --signing-key) signing_key="$2"; shift 2 ;;
    -h | --help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    linux-x64 | linux-arm64) rids+=("$1"); shift ;;
    *) echo "package.sh: unknown argument '$1' (RIDs: linux-x64 linux-arm64; options: --artifacts DIR --out DIR --repository OWNER/NAME --signing-key KEY.pem)" >&2; exit 2 ;;
  esac
done
out="${out:-$artifacts/release}"
programs=(peerctl peercomputed gateway)

if [ ${#rids[@]} -eq 0 ]; then
  for rid in linux-x64 linux-arm64; do
    [ -d "$artifacts/$rid" ] && rids+=("$rid")
  done
  if [ ${#rids[@]} -eq 0 ]; then
    echo "package.sh: nothing to pack: no $artifacts/linux-x64 or linux-arm64 (run build/publish.sh first)" >&2
    exit 1
  fi
fi

# e_machine of an ELF file (2 bytes at offset 18, little-endian): 62 x86-64, 183 AArch64.
elf_machine() {
  local magic
  magic="$(od -An -tx1 -N4 "$1" | tr -d ' \n')"
  [ "$magic" = "7f454c46" ] || { echo none; return; }
  od -An -tu2 -j18 -N2 "$1" | tr -d ' \n'
}

# The public half of the signing key, as the base64 line of its DER form (what install.sh --public-key takes).
public_key=""
if [ -n "$signing_key" ]; then
  [ -f "$signing_key" ] || { echo "package.sh: no signing key $signing_key" >&2; exit 1; }
  public_key="$(openssl pkey -in "$signing_key" -pubout 2>/dev/null | sed '/^-----/d' | tr -d '\n')" || public_key=""
  case "$public_key" in
    MCowBQYDK2VwAyEA*) ;;
    *) echo "package.sh: $signing_key is not an Ed25519 private key (make one: openssl genpkey -algorithm ed25519 -out KEY.pem)" >&2; exit 1 ;;
  esac
fi

version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n1)"
[ -n "$version" ] || { echo "package.sh: no <Version> in Directory.Build.props" >&2; exit 1; }
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || echo 0)}"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

for rid in "${rids[@]}"; do
  case "$rid" in
    linux-x64) want=62 ;;
    linux-arm64) want=183 ;;
  esac
  src="$artifacts/$rid"
  name="peercompute-$rid"
  dir="$stage/$name"
  mkdir -p "$dir/systemd" "$dir/completions"
  for program in "${programs[@]}"; do
    file="$src/$program"
    [ -f "$file" ] && [ -x "$file" ] || { echo "package.sh: $file is missing or not executable (run build/publish.sh $rid)" >&2; exit 1; }
    machine="$(elf_machine "$file")"
    [ "$machine" = "$want" ] || { echo "package.sh: $file is not a $rid executable (ELF machine: $machine)" >&2; exit 1; }
    install -m 0755 "$file" "$dir/$program"
  done
  echo "$version" >"$dir/VERSION"
  install -m 0644 "$root"/build/systemd/*.service "$dir/systemd/"
  # The completion is written by peerctl itself from its command list ('peerctl completion bash'); the script is the
  # same for every RID, so any peerctl here that runs on this machine writes it.
  completion_written=""
  for ctl in "$src/peerctl" "$artifacts"/*/peerctl; do
    if "$ctl" completion bash >"$dir/completions/peerctl.bash" 2>/dev/null; then
      completion_written=1
      break
    fi
  done
  [ -n "$completion_written" ] || { echo "package.sh: no peerctl under $artifacts runs on this machine to write completions/peerctl.bash (publish linux-x64 too)" >&2; exit 1; }
  chmod 0644 "$dir/completions/peerctl.bash"
  touch -h -d "@$epoch" "$dir" "$dir"/* "$dir"/*/*
  tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$name" \
    | gzip -9n >"$out/$name.tar.gz.tmp"
  mv -f "$out/$name.tar.gz.tmp" "$out/$name.tar.gz"
  rm -f "$out/$name.tar.gz.sig"
  if [ -n "$signing_key" ]; then
    openssl pkeyutl -sign -inkey "$signing_key" -rawin -in "$out/$name.tar.gz" -out "$out/$name.tar.gz.sig.tmp"
    mv -f "$out/$name.tar.gz.sig.tmp" "$out/$name.tar.gz.sig"
    echo "package.sh: $out/$name.tar.gz.sig"
  fi
  echo "package.sh: $out/$name.tar.gz ($(du -k "$out/$name.tar.gz" | cut -f1) KiB)"
done

# The installer attached to a release knows where that release lives (--repository OWNER/NAME).
# With a signing key it also knows the release's public key (and so requires the signatures).
sed -e "s#@PEERCOMPUTE_REPOSITORY@#${repository:-@PEERCOMPUTE_REPOSITORY@}#" \
  -e "s#@PEERCOMPUTE_PUBLIC_KEY@#${public_key:-@PEERCOMPUTE_PUBLIC_KEY@}#" "$root/build/install.sh" >"$out/install.sh.tmp"
chmod 0755 "$out/install.sh.tmp"
mv -f "$out/install.sh.tmp" "$out/install.sh"
# SHA256SUMS covers the archives of this run, so a stale archive from an earlier run is never vouched for.
archives=()
for rid in "${rids[@]}"; do archives+=("peercompute-$rid.tar.gz"); done
(cd "$out" && sha256sum -- "${archives[@]}" >SHA256SUMS.tmp && mv -f SHA256SUMS.tmp SHA256SUMS)
echo "package.sh: $out/SHA256SUMS"
cat "$out/SHA256SUMS"
