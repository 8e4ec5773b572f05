#!/usr/bin/env bash
# The whole test suite: publishes the three programs (the system tests run the real AOT binaries),
# then runs every TUnit project. Ends with one line "N passed, N failed, N skipped"; exits non-zero
# when anything failed or no test ran.
#
#   ./build/test.sh                 # everything
#   PEERCOMPUTE_RIDS=linux-x64 ./build/test.sh   # skip the arm64 cross build (the arm64 tests then fail, not skip)
set -uo pipefail
cd "$(dirname "$0")/.."

rids=${PEERCOMPUTE_RIDS:-"linux-x64 linux-arm64"}
log_dir=${PEERCOMPUTE_TEST_LOGS:-artifacts/test-logs}
mkdir -p "$log_dir"

# What the tests need (Docker engine, test images, cross tools, chromium...): installed and started when
# missing. Idempotent and quick when everything is there; skipped when .ci/run, our parent, has just done it.
# (Its pid is our parent's, or ours when bash exec'd us as its last command.)
if [ -n "${PEERCOMPUTE_SETUP_DONE_BY:-}" ] && { [ "$PEERCOMPUTE_SETUP_DONE_BY" = "$PPID" ] || [ "$PEERCOMPUTE_SETUP_DONE_BY" = "$$" ]; }; then
  echo "== setup: done by .ci/run"
elif ! bash build/ci/setup.sh; then
  echo "setup failed (run as root: it installs packages and starts dockerd)"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

echo "== publishing ($rids)"
# shellcheck disable=SC2086
if ! build/publish.sh $rids; then
  echo "publish failed"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi

# The js-libp2p interop peer: (re)installed whenever node_modules was not installed from the current
# package-lock.json. The lock's SHA-256 is kept in node_modules/.peercompute-lock-sha256, the same marker and
# the same file lock (.npm-ci.lock, flock) that tests/PeerCompute.Net.Tests/Interop/JsPeer.cs uses.
js_dir=tests/interop/js
if [ -f "$js_dir/package-lock.json" ]; then
  if ! (
    cd "$js_dir" || exit 1
    exec 9>>.npm-ci.lock
    flock 9 || exit 1
    lock_sha=$(sha256sum package-lock.json | cut -d' ' -f1)
    if [ "$(cat node_modules/.peercompute-lock-sha256 2>/dev/null)" != "$lock_sha" ]; then
      echo "== installing the js-libp2p interop peer (npm ci: package-lock.json changed or never installed)"
      npm ci --no-audit --no-fund --loglevel=error || exit 1
      printf '%s' "$lock_sha" > node_modules/.peercompute-lock-sha256
    fi
  ); then
    echo "npm ci failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1
  fi
fi

echo "== running tests"
# One test project at a time: several of them time network behaviour (keepalives, dead links) and share Docker.
dotnet test --solution PeerCompute.slnx -c Release --no-progress --max-parallel-test-modules 1 --results-directory "$log_dir" 2>&1 | tee "$log_dir/dotnet-test.log"
status=${PIPESTATUS[0]}

# dotnet test ends with one "Test run summary" for all test projects: read its figures.
read -r total failed succeeded skipped < <(awk '
  /Test run summary/      { t = f = s = k = 0 }
  /^ *total: *[0-9]+/     { t = $2 }
  /^ *failed: *[0-9]+/    { f = $2 }
  /^ *succeeded: *[0-9]+/ { s = $2 }
  /^ *skipped: *[0-9]+/   { k = $2 }
  END { printf "%d %d %d %d\n", t, f, s, k }' "$log_dir/dotnet-test.log")

if [ "$total" -eq 0 ]; then
  echo "no test ran"
  [ "$status" -eq 0 ] && status=1
fi
if [ "$failed" -gt 0 ] && [ "$status" -eq 0 ]; then
  status=1
fi
echo "$succeeded passed, $failed failed, $skipped skipped"
exit "$status"
