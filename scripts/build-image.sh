#!/usr/bin/env bash
# Builds the application image from the Dockerfile where a build can reach no container registry
# and no package index: the Python base is a minimal Debian made here (scripts/debian-base.sh),
# the docker CLI is this host's, and the Python packages are wheels downloaded on the host into
# the build context's dist/wheels/, which the Dockerfile installs with --no-index.
# The image is tagged NAME:<hash of its recipe and source>, so a second run with nothing changed
# only re-tags it; older NAME:<hash> images are removed. Prints one line; on failure, the log.
#
# Environment: DOCKER_HOST (the engine), IMAGE_NAME (default ambient), DEBIAN_SUITE (default
# bookworm: its python3 is 3.11), PIP (default: the project's .venv pip, else python3 -m pip).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/.." && pwd)
# shellcheck source=scripts/debian-base.sh
source "$here/debian-base.sh"

name=${IMAGE_NAME:-ambient}
suite=${DEBIAN_SUITE:-bookworm}
# python3-venv builds the virtualenv in the build stage; the rest is what the runtime stage of the
# Dockerfile would otherwise install with apt (SYSTEM_PACKAGES there).
base_packages=python3,python3-venv,git,ca-certificates,tini,bubblewrap,tinyproxy,socat

choose_pip "$project"
build_workdir build-image.sh
command -v docker >/dev/null || { echo "build-image.sh: docker is not installed" >&2; exit 1; }

# Manuals, translations and documentation (copyright files excepted) are left out, as the slim
# Python images leave them out.
base_options=(--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright')
base_settings=('ENV LANG=C.UTF-8' 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
base_hash=$(printf '%s\n' "$suite" "$base_packages" "${base_options[@]}" "${base_settings[@]}" \
  "$(declare -f offline_debian_image)" | sha256sum | cut -c1-12)
base="ambient-python-base:$base_hash"
offline_debian_image "$base" "$suite" "$base_packages" "$log" "${base_options[@]}" \
  -- "${base_settings[@]}" || fail "the Python base image"

# The docker CLI of this host (Debian's docker.io), in the place the Dockerfile copies it from.
cli_binary=$(command -v docker)
cli="ambient-docker-cli:$(sha256sum "$cli_binary" | cut -c1-12)"
if ! docker image inspect "$cli" >/dev/null 2>&1; then
  mkdir -p "$work/cli/usr/local/bin"
  cp "$cli_binary" "$work/cli/usr/local/bin/docker"
  tar -C "$work/cli" -cf - . | docker import - "$cli" >>"$log" 2>&1 || fail "the docker CLI image"
fi

context="$work/context"
mkdir -p "$context"
# The paths .dockerignore lets in, but for the wheels this script downloads itself.
mapfile -t paths < <(sed -n 's|^!\(.*[^/]\)/*$|\1|p' "$project/.dockerignore" | grep -v '^dist/')
tar -C "$project" --exclude=__pycache__ --exclude='*.pyc' -cf - Dockerfile .dockerignore \
  "${paths[@]}" | tar -C "$context" -xf -
hash=$( (cd "$context" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; \
  echo "$base $cli") | sha256sum | cut -c1-12)
tag="$name:$hash"

if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" "$name:latest"
  echo "image $tag is up to date (also tagged $name:latest)"
  exit 0
fi

# The image runs Debian's python3 (3.11 on bookworm) on x86_64 glibc 2.36: fetch wheels for it,
# whatever the host's own Python is. setuptools and wheel build the package itself. pip judges
# dependency markers by the host's Python, not by --python-version: redis needs async-timeout
# below Python 3.11.3 (bookworm has 3.11.2), which a newer host would not fetch.
python=$(dirname "${pip[0]}")/python
[ -x "$python" ] || python=python3
"$python" -c 'import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' \
  "$context/pyproject.toml" >"$work/requirements.txt"
"${pip[@]}" download --quiet --disable-pip-version-check --only-binary=:all: \
  --python-version 3.11 --implementation cp --abi cp311 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
  -d "$context/dist/wheels" -r "$work/requirements.txt" "setuptools>=68" wheel \
  "async-timeout>=4.0.3" >>"$log" 2>&1 || fail "pip download"

docker build --force-rm --build-arg "PYTHON_IMAGE=$base" --build-arg "DOCKER_CLI_IMAGE=$cli" \
  --label "org.opencontainers.image.title=$name" --label "ambient.recipe=$hash" \
  --tag "$tag" "$context" >>"$log" 2>&1 || fail "docker build"
docker tag "$tag" "$name:latest"
# Earlier builds of this name are superseded by this one.
docker image ls --format '{{.Repository}}:{{.Tag}}' "$name" \
  | grep -E "^$name:[0-9a-f]{12}$" | grep -vx "$tag" \
  | xargs -r docker rmi >/dev/null 2>&1 || true
echo "image $tag built offline in ${SECONDS}s (also tagged $name:latest)"
