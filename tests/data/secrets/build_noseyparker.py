"""Rebuild `noseyparker_cases.jsonl.gz` from a checkout of praetorian-inc/noseyparker.

Usage: python tests/data/secrets/build_noseyparker.py GIT_DIR [COMMIT]

Every rule file under crates/noseyparker/data/default/builtin/rules/ lists `examples` (text the
rule must match) and `negative_examples` (text it must not). One case per distinct text: a
secret when any rule lists it as an example, a look-alike when rules list it only as a negative
example (a negative example of one rule is often another rule's positive). An example of a
rule whose `categories` lack "secret" (identifiers such as OAuth client ids, bucket names) is
`in_scope=false` unless some secret rule lists it too: the gate looks for credentials. The split is fixed
by the rule file's name (a stable hash), so cases of one provider never straddle the sets.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import yaml

RULES = "crates/noseyparker/data/default/builtin/rules/"
OUT = Path(__file__).resolve().parent / "noseyparker_cases.jsonl.gz"


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=True
    ).stdout


def _split(rule_file: str) -> str:
    digest = hashlib.sha256(rule_file.encode()).digest()
    return "np-tune" if digest[0] % 2 == 0 else "np-holdout"


def main() -> None:
    git_dir = sys.argv[1]
    commit = sys.argv[2] if len(sys.argv) > 2 else "HEAD"
    names = [n for n in _git(git_dir, "ls-tree", "-r", "--name-only", commit).splitlines()]
    cases: dict[str, dict[str, object]] = {}
    for name in sorted(n for n in names if n.startswith(RULES) and n.endswith(".yml")):
        rule_file = name.removeprefix(RULES)
        doc = yaml.safe_load(_git(git_dir, "show", f"{commit}:{name}"))
        for rule in doc.get("rules", []):
            is_secret_rule = "secret" in (rule.get("categories") or [])
            for key, secret in (("examples", True), ("negative_examples", False)):
                for text in rule.get(key) or []:
                    text = text.rstrip("\n")
                    row = cases.setdefault(
                        text,
                        {
                            "text": text,
                            "secret": False,
                            "in_scope": not secret,
                            "rules": [],
                            "split": _split(rule_file),
                        },
                    )
                    row["secret"] = bool(row["secret"]) or secret
                    row["in_scope"] = bool(row["in_scope"]) or is_secret_rule
                    row["rules"].append(f"{rule['id']}:{'+' if secret else '-'}")  # type: ignore[union-attr]
    with gzip.open(OUT, "wt", encoding="utf-8") as out:
        for index, row in enumerate(cases.values()):
            row["id"] = f"np-{index:04d}"
            out.write(json.dumps(row, sort_keys=True) + "\n")
    print(f"{len(cases)} cases from {commit} -> {OUT.name}")  # noqa: T201


if __name__ == "__main__":
    main()
