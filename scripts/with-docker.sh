#!/usr/bin/env bash
# Runs a command with a reachable Docker engine: the one already running, or a dockerd started
# here with its own data root (kept between runs so the sandbox image is built once) and stopped
# again when the command ends, whether it passed or failed.
set -uo pipefail
root=${AMBIENT_DOCKER_ROOT:-/var/lib/ambient-docker}
sock=/run/ambient-docker.sock
started=""

stop_dockerd() {
  if [ -n "$started" ] && kill -0 "$started" 2>/dev/null; then
    kill "$started" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$started" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$started" 2>/dev/null || true
  fi
}
trap stop_dockerd EXIT INT TERM

if ! docker info >/dev/null 2>&1; then
  if [ -S "$sock" ] && DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
    export DOCKER_HOST="unix://$sock"
  elif command -v dockerd >/dev/null && [ "$(id -u)" = 0 ]; then
    mkdir -p "$root" /run/ambient-docker-exec
    dockerd --data-root "$root" --exec-root /run/ambient-docker-exec \
      --pidfile /run/ambient-docker.pid --host "unix://$sock" \
      >"$root.log" 2>&1 &
    started=$!
    export DOCKER_HOST="unix://$sock"
    for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    docker info >/dev/null 2>&1 || echo "dockerd did not become ready; see $root.log" >&2
  else
    echo "no Docker engine reachable and dockerd cannot be started here; Docker tests will fail" >&2
  fi
fi
"$@"
