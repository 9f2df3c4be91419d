#!/usr/bin/env bash
# `make run`: Ambient's main job on a laptop — a quality sweep of the bundled example project.
# The example is copied into .ambient/demo as a fresh git repository, so each run starts clean;
# proposals land there as review branches (ambient/sweep/…) and .ambient/proposals/*.patch.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=.ambient/demo
rm -rf "$demo"
mkdir -p .ambient
cp -r examples/python-demo "$demo"
git -C "$demo" init -q -b main
git -C "$demo" add -A
git -C "$demo" -c user.name=Ambient -c user.email=ambient@localhost commit -qm "inventory demo"
echo "sweeping $demo (a copy of examples/python-demo) ..."
.venv/bin/ambient sweep "$demo" "$@"
cat <<MSG

Review a proposal:     git -C $demo log --oneline --all   (branches ambient/sweep/*)
With a model:          AMBIENT_LLM_BASE_URL=… AMBIENT_LLM_MODEL=… make run
Fix the failing test:  .venv/bin/ambient fix $demo --task "make the tests pass"
As a GitHub App:       make services   (Redis, the webhook receiver and a worker)
MSG
