#!/bin/sh
# Runs inside the image being built, as root: by the Dockerfile's RUN, or by build.sh in the
# chroot of the offline root file system. Both builds share it, so both images hold the same
# toolchain, user and directories.
set -eu
recipe=$(cd "$(dirname "$0")" && pwd)
python3 -m venv /opt/toolchain
if [ -d "$recipe/wheels" ]; then
  # The offline build: wheels downloaded on the host, since no index is reachable from here.
  /opt/toolchain/bin/pip install --quiet --no-index --find-links "$recipe/wheels" \
    -r "$recipe/requirements.txt"
else
  /opt/toolchain/bin/pip install --quiet --no-cache-dir -r "$recipe/requirements.txt"
fi
# uid 1000 runs the commands; the container's keep-alive runs as nobody (65534), so a command
# that signals every process it may (kill -1) cannot stop the container.
groupadd --gid 1000 sandbox
useradd --uid 1000 --gid 1000 --home-dir /home/sandbox --create-home --shell /bin/sh sandbox
mkdir -p /workspace
chown 1000:1000 /workspace
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /root/.cache
