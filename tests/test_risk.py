"""Risk rules on top of the model's claim: each rule, its threshold, and what must not fire."""

from __future__ import annotations

import difflib

import pytest

from agents.proposal import Proposal, RiskLevel, diff_paths
from agents.risk import RiskRules, assess, changed_lines


def edit(path: str, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )


def proposal(
    diff: str,
    risk: RiskLevel = "low",
    tags: tuple[str, ...] = (),
    files: tuple[str, ...] | None = None,
) -> Proposal:
    return Proposal(
        agent="StyleEnforcer",
        title="A change",
        description="",
        diff=diff,
        risk_level=risk,
        rationale="",
        files_touched=diff_paths(diff) if files is None else files,
        estimated_loc_change=0,
        tags=tags,
    )


PLAIN = edit("src/report.py", "x = 1\ny = 2\n", "x = 1\ny = 3\n")


def test_the_claim_stands_when_no_rule_fires() -> None:
    decision = assess(proposal(PLAIN, "medium"))
    assert (decision.level, decision.rejected, decision.reasons) == ("medium", False, ())
    assert not decision.needs_approval


def test_rules_never_lower_the_claim() -> None:
    decision = assess(proposal(edit("src/auth/login.py", "a\n", "b\n"), "critical"))
    assert decision.level == "critical"
    assert decision.needs_approval
    assert decision.reasons == ("touches authentication code (src/auth/login.py)",)


@pytest.mark.parametrize(
    ("path", "topic"),
    [
        ("src/auth/views.py", "authentication"),
        ("app/OAuthHandler.py", "authentication"),
        ("lib/authorization.py", "authentication"),
        ("accounts/password_reset.py", "authentication"),
        ("shop/payments/refund.py", "payment"),
        ("billing.py", "payment"),
        ("api/stripe_webhook.py", "payment"),
        ("core/crypto_utils.py", "cryptography"),
        ("lib/encryption.py", "cryptography"),
    ],
)
def test_sensitive_paths_raise_the_level_to_high(path: str, topic: str) -> None:
    decision = assess(proposal(edit(path, "a\n", "b\n")))
    assert decision.level == "high"
    assert decision.reasons == (f"touches {topic} code ({path})",)


@pytest.mark.parametrize(
    "path", ["docs/authors.md", "src/author.py", "src/payload.py", "src/session_timer.py"]
)
def test_look_alike_paths_do_not_count_as_sensitive(path: str) -> None:
    assert assess(proposal(edit(path, "a\n", "b\n"))).level == "low"


def test_cryptographic_code_in_any_file_is_high() -> None:
    diff = edit(
        "src/util.py",
        "import hashlib\nh = hashlib.md5(data)\n",
        "import hashlib\nh = hashlib.sha256(data)\n",
    )
    decision = assess(proposal(diff))
    assert decision.level == "high"
    assert decision.reasons == ("changes lines that use cryptographic code",)


def test_sensitive_tags_raise_the_level() -> None:
    decision = assess(proposal(PLAIN, tags=("security", "auth")))
    assert decision.level == "high"
    assert decision.reasons == ("tagged auth (authentication)",)


@pytest.mark.parametrize(
    "path",
    [
        ".github/workflows/ci.yml",
        "pyproject.toml",
        "requirements-dev.txt",
        "web/package.json",
        "web/package-lock.json",
        "go.sum",
        "Cargo.lock",
    ],
)
def test_workflows_and_dependency_manifests_are_high(path: str) -> None:
    decision = assess(proposal(edit(path, "a = 1\n", "a = 2\n")))
    assert decision.level == "high"
    assert len(decision.reasons) == 1
    assert path in decision.reasons[0]


def test_more_than_500_changed_lines_is_high_and_500_is_not() -> None:
    old = "".join(f"line {n}\n" for n in range(250))
    new = "".join(f"LINE {n}\n" for n in range(250))
    at_limit = edit("src/data.py", old, new)
    assert sum(map(len, changed_lines(at_limit))) == 500
    assert assess(proposal(at_limit)).level == "low"
    over = edit("src/data.py", old + "x\n", new + "X\n")
    decision = assess(proposal(over))
    assert decision.level == "high"
    assert decision.reasons == ("changes 502 lines (more than 500)",)


def test_more_than_ten_files_is_rejected() -> None:
    ten = "".join(edit(f"src/m{n}.py", "a\n", "b\n") for n in range(10))
    assert not assess(proposal(ten)).rejected
    eleven = ten + edit("src/m10.py", "a\n", "b\n")
    decision = assess(proposal(eleven))
    assert decision.rejected
    assert decision.reasons[-1] == "touches 11 files (more than 10); split it"


def test_files_the_model_claims_count_with_the_diff() -> None:
    claimed = tuple(f"src/other{n}.py" for n in range(10))
    decision = assess(proposal(PLAIN, files=claimed))
    assert decision.rejected


def test_thresholds_can_be_tightened() -> None:
    rules = RiskRules(high_lines=1, max_files=1)
    two = edit("a.py", "a\n", "b\n") + edit("b.py", "a\n", "b\n")
    decision = assess(proposal(two), rules)
    assert decision.level == "high"
    assert decision.rejected
