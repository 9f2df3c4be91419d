"""May Ambient push to a branch? A pure decision over what GitHub says about the branch.

Inputs are the JSON-ish answers of three endpoints: the branch (`protected` and its
`protection` summary, readable with metadata permission), `rules/branches/{b}` (rulesets,
also metadata), and classic protection (administration permission only; `None` when GitHub
would not show it). When protection exists but its details are hidden, the answer is the
conservative one: no direct push, open a PR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["BranchPolicy", "decide_branch_policy"]

# Ruleset rules that never stop a fast-forward push of a signed API commit:
# `non_fast_forward` only forbids force pushes, our commits are signed by GitHub and linear.
_HARMLESS_RULES: Final = frozenset(
    {"creation", "deletion", "non_fast_forward", "required_signatures", "required_linear_history"}
)


@dataclass(frozen=True, slots=True)
class BranchPolicy:
    """What a push to `branch` must respect; `reasons` say why `may_push` is False."""

    branch: str
    protected: bool
    may_push: bool
    requires_pr: bool
    requires_signatures: bool
    required_checks: tuple[str, ...]
    linear_history: bool
    details_visible: bool
    reasons: tuple[str, ...] = ()


def _enabled(protection: Mapping[str, Any], key: str) -> bool:
    value = protection.get(key)
    return isinstance(value, Mapping) and bool(value.get("enabled"))


def _check_names(section: object) -> list[str]:
    """Check names from `required_status_checks` (classic) or its ruleset parameters."""
    if not isinstance(section, Mapping):
        return []
    names = [str(c) for c in section.get("contexts") or ()]
    for check in section.get("checks") or section.get("required_status_checks") or ():
        if isinstance(check, Mapping) and check.get("context"):
            names.append(str(check["context"]))
    return names


@dataclass(slots=True)
class _Tally:
    requires_pr: bool = False
    requires_signatures: bool = False
    linear_history: bool = False
    checks: dict[str, None] | None = None
    reasons: list[str] | None = None

    def block(self, reason: str) -> None:
        self.reasons = [*(self.reasons or []), reason]

    def add_checks(self, names: Sequence[str]) -> None:
        self.checks = {**(self.checks or {}), **dict.fromkeys(names)}


def _apply_rules(tally: _Tally, rules: Sequence[Mapping[str, Any]]) -> None:
    for rule in rules:
        kind = str(rule.get("type", ""))
        if kind == "pull_request":
            tally.requires_pr = True
            tally.block("a ruleset requires a pull request")
        elif kind == "required_signatures":
            tally.requires_signatures = True
        elif kind == "required_linear_history":
            tally.linear_history = True
        elif kind == "required_status_checks":
            tally.add_checks(_check_names(rule.get("parameters")))
            tally.block("a ruleset requires status checks to pass first")
        elif kind == "update":
            tally.block("a ruleset forbids updates")
        elif kind not in _HARMLESS_RULES:
            tally.block(f"a ruleset has a {kind or 'nameless'} rule")


def _apply_protection(tally: _Tally, protection: Mapping[str, Any], app_slug: str | None) -> None:
    if protection.get("required_pull_request_reviews"):
        tally.requires_pr = True
        tally.block("branch protection requires a pull request")
    names = _check_names(protection.get("required_status_checks"))
    if names:
        tally.add_checks(names)
        tally.block("branch protection requires status checks to pass first")
    if _enabled(protection, "required_signatures"):
        tally.requires_signatures = True
    if _enabled(protection, "required_linear_history"):
        tally.linear_history = True
    if _enabled(protection, "lock_branch"):
        tally.block("the branch is locked")
    restrictions = protection.get("restrictions")
    if isinstance(restrictions, Mapping):
        apps = {
            str(a.get("slug")) for a in restrictions.get("apps") or () if isinstance(a, Mapping)
        }
        if app_slug is None or app_slug not in apps:
            tally.block("pushes are restricted to listed people, teams or apps")


def decide_branch_policy(
    branch: str,
    *,
    protected: bool,
    rules: Sequence[Mapping[str, Any]] = (),
    protection: Mapping[str, Any] | None = None,
    protection_summary: Mapping[str, Any] | None = None,
    app_slug: str | None = None,
) -> BranchPolicy:
    """Decide from the branch's `protected` flag, its rules and (when visible) its protection.

    `protection` is the classic protection body, or None when GitHub did not show it;
    `protection_summary` is the `protection` object of the branch answer, which lists the
    required checks even without administration permission.
    """
    tally = _Tally()
    _apply_rules(tally, rules)
    summary_checks = (protection_summary or {}).get("required_status_checks")
    if isinstance(summary_checks, Mapping) and summary_checks.get("enforcement_level") != "off":
        tally.add_checks(_check_names(summary_checks))
    visible = not protected or protection is not None
    if protection is not None:
        _apply_protection(tally, protection, app_slug)
    elif protected:
        # Classic protection needs administration permission to read: unknown, so assume the
        # strictest common case, a required pull request.
        tally.requires_pr = True
        tally.block("the branch is protected and its protection is not visible to the App")
    reasons = tuple(tally.reasons or ())
    return BranchPolicy(
        branch=branch,
        protected=protected,
        may_push=not reasons,
        requires_pr=tally.requires_pr,
        requires_signatures=tally.requires_signatures,
        required_checks=tuple(tally.checks or ()),
        linear_history=tally.linear_history,
        details_visible=visible,
        reasons=reasons,
    )
