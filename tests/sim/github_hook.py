"""The simulator's pre-receive hook: refuse pushes that branch protection or rules forbid.

git runs it inside `receive-pack` with the pushed objects quarantined; the simulator keeps
the policy of each repository in `sim-policy.json` inside the bare repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.sim.github_rules import RefUpdate, check_update

ZERO = "0" * 40


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def _update(branch: str, old: str, new: str, policy: dict[str, Any]) -> RefUpdate:
    old_sha = None if old == ZERO else old
    new_sha = None if new == ZERO else new
    fast_forward = True
    commits: list[str] = []
    merges = False
    if new_sha is not None:
        if old_sha is not None:
            fast_forward = _git("merge-base", "--is-ancestor", old_sha, new_sha).returncode == 0
        span = [new_sha, "--not", "--branches"] if old_sha is None else [f"{old_sha}..{new_sha}"]
        commits = _git("rev-list", *span).stdout.split()
        merges = bool(_git("rev-list", "--min-parents=2", *span).stdout.split())
    verified = set(policy.get("verified", []))
    passed = policy.get("passed_checks", {}).get(new_sha or "", [])
    return RefUpdate(
        branch=branch,
        old=old_sha,
        new=new_sha,
        fast_forward=fast_forward,
        unverified=any(sha not in verified for sha in commits),
        merge_commits=merges,
        passed_checks=frozenset(passed),
    )


def main() -> int:
    policy_file = Path(os.environ.get("GIT_DIR", ".")) / "sim-policy.json"
    policy: dict[str, Any] = json.loads(policy_file.read_text()) if policy_file.exists() else {}
    refused = False
    for line in sys.stdin.read().splitlines():
        old, new, ref = line.split(" ", 2)
        if not ref.startswith("refs/heads/"):
            continue
        branch = ref.removeprefix("refs/heads/")
        protection = policy.get("protection", {}).get(branch)
        rules = policy.get("rules", {}).get(branch, [])
        if protection is None and not rules:
            continue
        violations = check_update(protection, rules, _update(branch, old, new, policy))
        if violations:
            refused = True
            for text in violations.push_lines(policy.get("html_url", "")):
                sys.stderr.write(text + "\n")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
