"""Branch protection and ruleset decisions, shared by the ref API and the pre-receive hook.

Pure functions over plain data, so a push over smart HTTP and a PATCH of a ref are refused
for the same reasons and with the same words GitHub uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["RefUpdate", "Violations", "check_update"]

PR_REQUIRED = "Changes must be made through a pull request."
NO_FORCE = "Cannot force-push to this branch"
SIGNATURES = "Commits must have verified signatures."
LINEAR = "This branch must not contain merge commits."


@dataclass(frozen=True, slots=True)
class RefUpdate:
    """What a push or ref update would do to one branch."""

    branch: str
    old: str | None
    new: str | None
    fast_forward: bool
    unverified: bool = False
    merge_commits: bool = False
    passed_checks: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Violations:
    branch: str
    classic: tuple[str, ...] = ()
    ruleset: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.classic or self.ruleset)

    def api_message(self) -> str:
        """The message of the 422 that the REST ref API answers with."""
        if self.ruleset:
            return "Repository rule violations found\n\n" + "\n\n".join(self.ruleset) + "\n\n"
        return f"Protected branch update failed for refs/heads/{self.branch}."

    def push_lines(self, html_url: str) -> list[str]:
        """What `git push` prints after "remote: " when the pre-receive check refuses."""
        ref = f"refs/heads/{self.branch}"
        lines: list[str] = []
        if self.classic:
            lines.append(f"error: GH006: Protected branch update failed for {ref}.")
            lines += [f"error: {message}" for message in self.classic]
        if self.ruleset:
            lines.append(f"error: GH013: Repository rule violations found for {ref}.")
            lines.append(f"Review all repository rules at {html_url}/rules?ref={ref}")
            lines.append("")
            lines += [f"- {message}" for message in self.ruleset]
        return lines


def _required_checks_missing(names: list[str], passed: frozenset[str]) -> list[str]:
    return [f'Required status check "{name}" is expected.' for name in names if name not in passed]


def _classic(protection: dict[str, Any], update: RefUpdate) -> list[str]:
    found: list[str] = []
    if update.new is None:
        return ["Cannot delete this protected branch"]
    if protection.get("require_pr"):
        found.append(PR_REQUIRED)
    if not update.fast_forward and not protection.get("allow_force_pushes"):
        found.append(NO_FORCE)
    if protection.get("required_signatures") and update.unverified:
        found.append(SIGNATURES)
    if protection.get("linear_history") and update.merge_commits:
        found.append(LINEAR)
    found += _required_checks_missing(
        list(protection.get("required_checks", [])), update.passed_checks
    )
    return found


def _rule(rule: dict[str, Any], update: RefUpdate) -> list[str]:
    kind = rule.get("type")
    params: dict[str, Any] = rule.get("parameters") or {}
    found: list[str] = []
    if kind == "pull_request":
        found.append(PR_REQUIRED)
    elif kind == "non_fast_forward" and not update.fast_forward and update.old is not None:
        found.append(NO_FORCE)
    elif kind == "update" and update.old is not None and update.new is not None:
        found.append("Cannot update this protected ref.")
    elif kind == "deletion" and update.new is None:
        found.append("Cannot delete this protected ref.")
    elif kind == "creation" and update.old is None:
        found.append("Cannot create ref due to creations being restricted.")
    elif kind == "required_signatures" and update.unverified:
        found.append(SIGNATURES)
    elif kind == "required_linear_history" and update.merge_commits:
        found.append(LINEAR)
    elif kind == "required_status_checks":
        names = [c.get("context", "") for c in params.get("required_status_checks", [])]
        found += _required_checks_missing(names, update.passed_checks)
    return found


def check_update(
    protection: dict[str, Any] | None, rules: list[dict[str, Any]], update: RefUpdate
) -> Violations:
    """Why GitHub would refuse this update of a branch (empty when it would allow it)."""
    classic = _classic(protection, update) if protection is not None else []
    ruleset: list[str] = []
    for rule in rules:
        for message in _rule(rule, update):
            if message not in ruleset:
                ruleset.append(message)
    return Violations(update.branch, tuple(classic), tuple(ruleset))
