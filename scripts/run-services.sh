#!/usr/bin/env bash
# `make services`: a local Ambient — Redis, the webhook receiver and one worker — in the foreground.
# Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
state=.ambient/run
mkdir -p "$state"
chmod 700 .ambient
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ -z "${AMBIENT_REDIS_URL:-}" ]; then
  redis_port=6379
  port_free "$redis_port" || redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$state" --appendonly yes \
    --save '' >"$state/redis.log" 2>&1 &
  pids+=($!)
  export AMBIENT_REDIS_URL="redis://127.0.0.1:$redis_port/0"
  for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

if [ -z "${AMBIENT_WEBHOOK_SECRET:-}" ]; then
  [ -s .ambient/webhook-secret ] || (umask 077 && .venv/bin/python -c \
    'import secrets; print(secrets.token_hex(32))' > .ambient/webhook-secret)
  AMBIENT_WEBHOOK_SECRET=$(cat .ambient/webhook-secret)
  export AMBIENT_WEBHOOK_SECRET
fi

web_port=${AMBIENT_PORT:-8000}
port_free "$web_port" || web_port=$(free_port)
.venv/bin/ambient serve --host "${AMBIENT_HOST:-127.0.0.1}" --port "$web_port" &
pids+=($!)
.venv/bin/ambient worker &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$web_port/readyz" >/dev/null 2>&1 && break; sleep 0.1
done
curl -fsS "http://127.0.0.1:$web_port/readyz" >/dev/null || { echo "the receiver did not become ready" >&2; exit 1; }
cat <<MSG

Ambient is running:
  webhook receiver  http://127.0.0.1:$web_port/webhook   (health: /healthz, /readyz, metrics: /metrics)
  worker            1 process, jobs from $AMBIENT_REDIS_URL
  webhook secret    in .ambient/webhook-secret (or AMBIENT_WEBHOOK_SECRET)

To connect a GitHub App (see docs/installation.md):
  1. In the App's settings, set the webhook URL to a public address that forwards to
     http://127.0.0.1:$web_port/webhook (a reverse proxy, or a tunnel such as smee.io),
     and the webhook secret to the one above.
  2. Export AMBIENT_APP_SLUG, AMBIENT_GITHUB_APP_ID and AMBIENT_GITHUB_PRIVATE_KEY_PATH,
     then run \`make services\` again.
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}"
