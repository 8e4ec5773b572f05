#!/usr/bin/env bash
# Release build of Peer Compute's three programs: Native AOT, one self-contained file each, libsodium
# linked in statically.
#
# Usage: build/publish.sh [RID...]      RIDs: linux-x64 linux-arm64 (default: both)
# Output: artifacts/<rid>/{peerctl,peercomputed,gateway} and nothing else.
#
# Steps: build/setup-cross.sh installs the toolchain when missing (clang, lld, llvm, arm64 libc for the
# cross build, qemu-user-static for the tests); build/libsodium.sh builds the static libsodium once
# (cached in build/.cache/); then each program is published, one after another (AOT compilation takes a
# whole core or two, and there are two), with every warning an error.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

programs=(peerctl peercomputed gateway)
rids=("$@")
[ ${#rids[@]} -gt 0 ] || rids=(linux-x64 linux-arm64)
for rid in "${rids[@]}"; do
  case "$rid" in
    linux-x64 | linux-arm64) ;;
    *) echo "publish.sh: unsupported RID '$rid' (linux-x64, linux-arm64)" >&2; exit 2 ;;
  esac
done

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

bash build/setup-cross.sh "${rids[@]}"
bash build/libsodium.sh "${rids[@]}"

started=$SECONDS
for rid in "${rids[@]}"; do
  out="$root/artifacts/$rid"
  rm -rf "$out"
  mkdir -p "$out"
  for program in "${programs[@]}"; do
    t0=$SECONDS
    echo "publish.sh: $program for $rid"
    dotnet publish "src/$program/$program.csproj" \
      -c Release -r "$rid" -o "$out" \
      -warnaserror -nodeReuse:false -clp:NoSummary
    echo "publish.sh: $program for $rid took $((SECONDS - t0)) s"
  done

  # Exactly the three executables: a stray .so/.dbg/.pdb/.json means a program is not one file.
  actual="$(cd "$out" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort)"
  expected="$(printf '%s\n' "${programs[@]}" | LC_ALL=C sort)"
  if [ "$actual" != "$expected" ]; then
    echo "publish.sh: artifacts/$rid should hold exactly: $(echo $expected); it holds: $(echo $actual)" >&2
    exit 1
  fi
  for program in "${programs[@]}"; do
    [ -x "$out/$program" ] || { echo "publish.sh: artifacts/$rid/$program is not executable" >&2; exit 1; }
  done
  # One line per RID in every CI log, to follow each program's size from commit to commit (bench/size/README.md).
  sizes=""
  for program in "${programs[@]}"; do sizes+=" $program=$(stat -c %s "$out/$program")"; done
  echo "publish.sh: size $rid $(git rev-parse --short HEAD 2>/dev/null || echo unknown):$sizes"
done
echo "publish.sh: published ${programs[*]} for ${rids[*]} in $((SECONDS - started)) s"
