#!/usr/bin/env bash
# Builds the sandbox image without a container registry: mmdebstrap makes a minimal Debian root
# file system holding packages.txt, setup.sh installs the toolchain from wheels downloaded here
# on the host, and `docker import` turns it into an image. The image is tagged by a hash of this
# recipe, so a second run finds it and only re-tags it. Prints one line; on failure, the log.
#
# Environment: DOCKER_HOST (the engine), AMBIENT_SANDBOX_IMAGE_NAME (default ambient-sandbox),
# AMBIENT_SANDBOX_SUITE (default bookworm), PIP (default: the project's .venv pip, else python3 -m pip).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
name=${AMBIENT_SANDBOX_IMAGE_NAME:-ambient-sandbox}
suite=${AMBIENT_SANDBOX_SUITE:-bookworm}
base_script="$project/scripts/debian-base.sh"
recipe_hash=$(cat "$here/build.sh" "$here/setup.sh" "$here/packages.txt" "$here/requirements.txt" \
  "$base_script" | { cat; echo "$suite"; } | sha256sum | cut -c1-12)
tag="$name:$recipe_hash"

if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" "$name:latest"
  echo "sandbox image $tag is up to date (also tagged $name:latest)"
  exit 0
fi

for tool in mmdebstrap docker; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is not installed" >&2; exit 1; }
done
# shellcheck source=../../scripts/debian-base.sh
. "$base_script"
choose_pip "$project"
build_workdir build.sh

mkdir -p "$work/recipe"
cp "$here/setup.sh" "$here/requirements.txt" "$work/recipe/"
# The image runs Debian's python3 (3.11 on bookworm) on x86_64 glibc 2.36: fetch wheels for it,
# whatever the host's own Python is.
"${pip[@]}" download --quiet --disable-pip-version-check --only-binary=:all: \
  --python-version 3.11 --implementation cp --abi cp311 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
  -d "$work/recipe/wheels" -r "$here/requirements.txt" >"$log" 2>&1 || fail "pip download"

packages=$(grep -v '^#' "$here/packages.txt" | paste -sd, -)
# Keep these settings in step with the Dockerfile beside this script.
offline_debian_image "$tag" "$suite" "$packages" "$log" \
  --customize-hook="copy-in $work/recipe /tmp" \
  --customize-hook='chroot "$1" sh /tmp/recipe/setup.sh' \
  --customize-hook='rm -rf "$1/tmp/recipe"' \
  -- \
  'ENV PATH=/opt/toolchain/bin:/usr/local/bin:/usr/bin:/bin' \
  'ENV LANG=C.UTF-8' \
  'ENV HOME=/home/sandbox' \
  'USER 1000:1000' \
  'WORKDIR /workspace' \
  "LABEL org.opencontainers.image.title=$name ambient.recipe=$recipe_hash" \
  || fail "the image build"
docker tag "$tag" "$name:latest"
echo "sandbox image $tag built offline in ${SECONDS}s (also tagged $name:latest)"
