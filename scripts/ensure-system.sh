#!/usr/bin/env bash
# Installs the system parts Ambient's tests and local runs use, when root and apt are available;
# otherwise names, in one line, what is missing.
set -euo pipefail
need=()
command -v git >/dev/null || need+=(git)
command -v redis-server >/dev/null || need+=(redis-server)
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v dockerd >/dev/null || need+=(docker.io)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v prlimit >/dev/null || need+=(util-linux)
command -v curl >/dev/null || need+=(curl)
command -v wrk >/dev/null || need+=(wrk)
command -v patch >/dev/null || need+=(patch)
command -v docker-compose >/dev/null || need+=(docker-compose)
# Environment setup: the allowlisting proxy and its relay; the bwrap sandbox's python3 and venv.
command -v tinyproxy >/dev/null || need+=(tinyproxy)
command -v socat >/dev/null || need+=(socat)
[ -x /usr/bin/python3 ] || need+=(python3)
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "missing system packages: ${need[*]} (install them with your package manager, then re-run)" >&2
  exit 1
fi
