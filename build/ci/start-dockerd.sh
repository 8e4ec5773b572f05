#!/usr/bin/env bash
# Starts a Docker engine for the tests when none answers. Idempotent: a running engine is left alone.
# Usage: build/ci/start-dockerd.sh            (env: DOCKERD_LOG=/path, DOCKERD_WAIT_SECONDS=60)
set -euo pipefail

log="${DOCKERD_LOG:-/tmp/peercompute-dockerd.log}"
wait_seconds="${DOCKERD_WAIT_SECONDS:-60}"

if ! command -v dockerd >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if docker info >/dev/null 2>&1; then
  echo "start-dockerd: engine already answering"
  exit 0
fi

# A stale pid file from a killed engine makes dockerd refuse to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi
if [ -f /run/docker/containerd/containerd.pid ] && ! kill -0 "$(cat /run/docker/containerd/containerd.pid)" 2>/dev/null; then
  rm -f /run/docker/containerd/containerd.pid
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "start-dockerd: starting dockerd (log: $log)"
  nohup dockerd >>"$log" 2>&1 </dev/null &
fi

deadline=$((SECONDS + wait_seconds))
until docker info >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "start-dockerd: engine did not answer within ${wait_seconds}s; last log lines:" >&2
    tail -n 30 "$log" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "start-dockerd: engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
