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

# The default engine writes /var/run/docker.pid; other dockerd processes (a test's private engine,
# with its own socket and pid file) do not count.
engine_alive() {
  [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null
}

start_engine() {
  # A pid file left by a killed engine makes dockerd refuse to start.
  rm -f /var/run/docker.pid
  echo "start-dockerd: starting dockerd (log: $log)"
  # A session of its own: a Ctrl-C in the terminal, or the end of the job that started it, does not take the engine down.
  setsid nohup dockerd >>"$log" 2>&1 </dev/null &
}

deadline=$((SECONDS + wait_seconds))
engine_alive || start_engine
until docker info >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "start-dockerd: engine did not answer within ${wait_seconds}s; last log lines:" >&2
    tail -n 30 "$log" >&2 || true
    exit 1
  fi
  sleep 0.5
  # An engine that was shutting down when we looked has gone by now: start a new one.
  engine_alive || start_engine
done
echo "start-dockerd: engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
