"""May Ambient push? The pure decision over branch, rules and classic protection JSON."""

from __future__ import annotations

from typing import Any

import pytest

from bot.github.branch_policy import decide_branch_policy

# Shapes as GitHub's REST description documents them (branch-protection, repository-rule).
FULL_PROTECTION: dict[str, Any] = {
    "required_status_checks": {"strict": True, "contexts": ["ci"], "checks": [{"context": "ci"}]},
    "enforce_admins": {"enabled": False},
    "required_pull_request_reviews": {"required_approving_review_count": 1},
    "required_signatures": {"enabled": True},
    "required_linear_history": {"enabled": True},
}


def test_unprotected_branch_without_rules_may_be_pushed() -> None:
    policy = decide_branch_policy("feature", protected=False)
    assert policy.may_push
    assert not policy.requires_pr
    assert policy.reasons == ()
    assert policy.details_visible


@pytest.mark.parametrize(
    ("rule", "may_push", "requires_pr"),
    [
        (
            {"type": "pull_request", "parameters": {"required_approving_review_count": 1}},
            False,
            True,
        ),
        ({"type": "update"}, False, False),
        ({"type": "required_deployments", "parameters": {}}, False, False),
        ({"type": "merge_queue"}, False, False),
        # non_fast_forward only forbids force pushes; our fast-forward update is still fine.
        ({"type": "non_fast_forward"}, True, False),
        ({"type": "required_signatures"}, True, False),
        ({"type": "required_linear_history"}, True, False),
        ({"type": "deletion"}, True, False),
        ({"type": "creation"}, True, False),
    ],
)
def test_rules(rule: dict[str, Any], may_push: bool, requires_pr: bool) -> None:
    policy = decide_branch_policy("main", protected=False, rules=[rule])
    assert policy.may_push is may_push
    assert policy.requires_pr is requires_pr


def test_rules_record_signatures_linear_history_and_checks() -> None:
    rules: list[dict[str, Any]] = [
        {"type": "required_signatures"},
        {"type": "required_linear_history"},
        {
            "type": "required_status_checks",
            "parameters": {"required_status_checks": [{"context": "tests"}, {"context": "lint"}]},
        },
    ]
    policy = decide_branch_policy("main", protected=False, rules=rules)
    assert policy.requires_signatures
    assert policy.linear_history
    assert policy.required_checks == ("tests", "lint")
    assert not policy.may_push  # a push must not skip required checks


def test_visible_classic_protection() -> None:
    policy = decide_branch_policy("main", protected=True, protection=FULL_PROTECTION)
    assert not policy.may_push
    assert policy.requires_pr
    assert policy.requires_signatures
    assert policy.linear_history
    assert policy.required_checks == ("ci",)
    assert policy.details_visible


def test_visible_protection_that_allows_a_push() -> None:
    protection = {"required_signatures": {"enabled": True}, "enforce_admins": {"enabled": True}}
    policy = decide_branch_policy("main", protected=True, protection=protection)
    assert policy.may_push
    assert policy.requires_signatures


def test_push_restrictions_allow_only_listed_apps() -> None:
    protection = {"restrictions": {"users": [], "teams": [], "apps": [{"slug": "ambient"}]}}
    assert decide_branch_policy(
        "main", protected=True, protection=protection, app_slug="ambient"
    ).may_push
    assert not decide_branch_policy(
        "main", protected=True, protection=protection, app_slug="other"
    ).may_push


def test_locked_branch() -> None:
    policy = decide_branch_policy(
        "main", protected=True, protection={"lock_branch": {"enabled": True}}
    )
    assert not policy.may_push


def test_protection_not_visible_is_conservative() -> None:
    summary = {
        "enabled": True,
        "required_status_checks": {"enforcement_level": "non_admins", "contexts": ["build"]},
    }
    policy = decide_branch_policy(
        "main", protected=True, protection=None, protection_summary=summary
    )
    assert not policy.may_push
    assert policy.requires_pr
    assert not policy.details_visible
    assert policy.required_checks == ("build",)
    assert "not visible" in policy.reasons[0]


def test_summary_with_checks_switched_off_adds_none() -> None:
    summary = {"required_status_checks": {"enforcement_level": "off", "contexts": ["build"]}}
    policy = decide_branch_policy("main", protected=False, protection_summary=summary)
    assert policy.required_checks == ()
    assert policy.may_push


def test_unknown_rule_type_blocks_with_a_reason() -> None:
    policy = decide_branch_policy(
        "main", protected=False, rules=[{"type": "file_path_restriction"}]
    )
    assert not policy.may_push
    assert policy.reasons == ("a ruleset has a file_path_restriction rule",)
