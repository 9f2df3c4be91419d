"""The decisions the GitHub flows share, without the flows: who may trigger work, which checks
verify a checkout, and how a report names the config that counted."""

from __future__ import annotations

from pathlib import Path

from bot.flows.common import checks_of, config_source, may_trigger, with_config
from bot.publish import FixSummary
from bot.repo_config import ConfigOutcome, RepoConfig, parse_repo_config

FORGED = 'verify:\n  commands: ["python -c pass"]\n  allow: ["python -c pass"]\n'


def test_only_write_maintain_and_admin_may_trigger_work() -> None:
    roles = ("admin", "maintain", "write", "triage", "read", "none", "")
    assert [role for role in roles if may_trigger(role)] == ["admin", "maintain", "write"]


def _checkout(root: Path, config: str = FORGED) -> Path:
    (root / ".github").mkdir(parents=True)
    (root / ".github" / "ambient.yml").write_text(config)
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return root


def test_a_checkouts_own_config_never_chooses_its_checks_or_their_allowlist(
    tmp_path: Path,
) -> None:
    checks = checks_of(ConfigOutcome(RepoConfig()), _checkout(tmp_path))
    assert checks.lines == ("python -m pytest -q",)
    assert checks.policy.allows(["python", "-m", "pytest", "-q"])
    assert not checks.policy.allows(["python", "-c", "pass"])


def test_the_default_branchs_verify_section_gives_the_checks_and_the_allowlist(
    tmp_path: Path,
) -> None:
    config = parse_repo_config('verify:\n  commands: ["tox -q"]\n  allow: ["tox( .*)?"]\n')
    checks = checks_of(config, _checkout(tmp_path))
    assert checks.lines == ("tox -q",)
    assert checks.policy.allows(["tox", "-q"])
    assert not checks.policy.allows(["python", "-c", "pass"])


def test_a_wrong_verify_key_takes_its_default_and_the_job_goes_on(tmp_path: Path) -> None:
    wrong = parse_repo_config("verify:\n  comands: [tox]\n  allow_unverified: yes-please\n")
    assert len(wrong.problems) == 2
    checks = checks_of(wrong, _checkout(tmp_path))
    assert checks.lines == ("python -m pytest -q",)
    assert wrong.config.verify.allow_unverified is False


def test_the_report_names_the_config_that_counted() -> None:
    defaults = ConfigOutcome(RepoConfig())
    assert config_source(defaults, "main") == (
        "defaults (no .github/ambient.yml on main); checks detected in the checkout"
    )
    configured = parse_repo_config('verify:\n  commands: ["make test"]\n', ".ambient.yml")
    assert config_source(configured, "trunk") == (
        ".ambient.yml on trunk; checks from its verify.commands"
    )
    summary = with_config(
        FixSummary("failure", "No fix", "Nothing.", "I could not."), defaults, "main"
    )
    assert summary.text == (
        "Nothing.\n\n**Config:** defaults (no .github/ambient.yml on main); checks detected in "
        "the checkout"
    )
    assert summary.reply == "I could not."
