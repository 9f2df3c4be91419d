# Sourced (not run) by the scripts that build images without a container registry: a minimal
# Debian root file system from Debian's own packages (mmdebstrap), turned into an image with
# `docker import`. Needs mmdebstrap and a Docker engine; runs as root (mmdebstrap's chroot mode).

# offline_debian_image TAG SUITE PACKAGES LOG [MMDEBSTRAP_OPTION...] [-- IMPORT_CHANGE...]
#   Builds TAG unless the engine has it already. PACKAGES is comma-separated, added to the
#   `minbase` variant. Options before `--` go to mmdebstrap (customize hooks, say), the ones after
#   it to `docker import --change` (ENV, USER, WORKDIR, LABEL). Output goes to LOG; returns
#   non-zero, naming the step, when a step fails.
offline_debian_image() {
  local tag=$1 suite=$2 packages=$3 log=$4
  shift 4
  local options=() changes=() rootfs status change tool
  while [ $# -gt 0 ] && [ "$1" != -- ]; do options+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  for change in "$@"; do changes+=(--change "$change"); done
  if docker image inspect "$tag" >/dev/null 2>&1; then
    return 0
  fi
  for tool in mmdebstrap docker; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >>"$log"; return 1; }
  done
  rootfs=$(mktemp --suffix=.tar)
  status=0
  mmdebstrap --variant=minbase --include="$packages" "${options[@]}" \
    "$suite" "$rootfs" >>"$log" 2>&1 || status=$?
  if [ "$status" -eq 0 ]; then
    docker import "${changes[@]}" "$rootfs" "$tag" >>"$log" 2>&1 || status=$?
    [ "$status" -eq 0 ] || echo "docker import of $tag failed" >>"$log"
  else
    echo "mmdebstrap of $tag failed" >>"$log"
  fi
  rm -f "$rootfs"
  return "$status"
}

# choose_pip PROJECT: sets the array `pip` to $PIP (split on spaces), else PROJECT's .venv pip,
#   else `python3 -m pip`.
choose_pip() {
  if [ -n "${PIP:-}" ]; then
    read -r -a pip <<<"$PIP"
  elif [ -x "$1/.venv/bin/pip" ]; then
    pip=("$1/.venv/bin/pip")
  else
    pip=(python3 -m pip)
  fi
}

# build_workdir SCRIPT: sets `work` (a scratch directory removed at exit) and `log` (its build
#   log), and defines `fail STEP`, which names the step and shows the log's last lines.
build_workdir() {
  work=$(mktemp -d)
  log="$work/build.log"
  touch "$log"
  trap 'rm -rf "$work"' EXIT
  eval "fail() {
    echo \"$1: \$1 failed; the last lines of its log:\" >&2
    tail -n 25 \"\$log\" >&2
    exit 1
  }"
}
