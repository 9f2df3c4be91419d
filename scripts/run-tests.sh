#!/usr/bin/env bash
# The test suite proper: the sandbox image (built once, reused by its recipe hash), then pytest.
set -euo pipefail
if docker info >/dev/null 2>&1; then
  sandbox/image/build.sh
elif [ "${CI:-}" = true ]; then
  echo "CI=true but no Docker engine is reachable: the Docker sandbox tests will fail" >&2
fi
.venv/bin/python -m pytest -p no:cacheprovider --cov --cov-report=term "$@"
