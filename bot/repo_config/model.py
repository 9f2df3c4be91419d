"""The model of a repository's `.github/ambient.yml`: every key, its default, what it means.

Pure pydantic, `extra="forbid"` at every level, frozen. Reading the file and turning errors
into one-line problems is `bot.repo_config.load`'s job; this module only says what is valid.
Field descriptions are the documentation: `docs/configuration.md`'s table is generated from
them.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from agents.risk import RiskRules
from agents.specialists import SpecialistsConfig, read_config
from bot.patch import DEFAULT_FORBIDDEN, PathPolicy, glob_matches
from bot.repo_config.values import (
    AgentsSection,
    CommandLines,
    Globs,
    Owners,
    Regexes,
    SpecialistNames,
    Strings,
    problem,
)

__all__ = [
    "CiAutofix",
    "Limits",
    "Paths",
    "RepoConfig",
    "Risk",
    "Setup",
    "Sweep",
    "Tasks",
    "Verify",
]

_RULES: Final = RiskRules()
_SECTION: Final = ConfigDict(frozen=True, extra="forbid")


class Verify(BaseModel):
    """`verify`: how a change is proven before it is published."""

    model_config = _SECTION

    commands: CommandLines = Field(
        default=(),
        description="commands that verify a change, run in the sandbox without a shell; "
        "empty: detected from the files present (make test, pytest, npm test, cargo, go)",
    )
    allow: Regexes = Field(
        default=(),
        description="regular expressions of further commands the sandbox may run",
    )
    allow_unverified: StrictBool = Field(
        default=False,
        description="publish a change whose checks fail; the pull request says so",
    )


class Setup(BaseModel):
    """`setup`: how the repository's environment is installed before its checks run."""

    model_config = _SECTION

    commands: CommandLines = Field(
        default=(),
        description="commands that install the project and its test dependencies into the "
        "environment (a venv at /opt/env, first on PATH), run in the sandbox with access to the "
        "package indexes only; empty: detected from the files present (lock files, extras, "
        "dependency groups, Poetry groups, requirement files, tox)",
    )
    python: str = Field(
        default="",
        pattern=r"^(3\.\d{1,2})?$",
        description="the Python version of the environment, such as 3.12, among those the "
        "sandbox image offers; empty: the image's python3",
    )


class Paths(BaseModel):
    """`paths`: what Ambient never changes."""

    model_config = _SECTION

    ignore: Globs = Field(
        default=(),
        description="gitignore-like globs of paths Ambient never changes (nor proposes changes "
        f"to), on top of {', '.join(f'`{glob}`' for glob in DEFAULT_FORBIDDEN)}",
    )


class CiAutofix(BaseModel):
    """`ci_autofix`: fixing failed CI runs."""

    model_config = _SECTION

    enabled: StrictBool = Field(default=True, description="fix failed CI runs")
    branches: Strings = Field(
        default=("*",),
        description="globs of the branches whose failures are fixed (`*` also spans `/`)",
    )
    attempts_per_sha: StrictInt = Field(
        default=2, ge=1, le=10, description="fix attempts for one head commit, then it stops"
    )

    def covers(self, branch: str) -> bool:
        """Whether a CI failure on `branch` is to be fixed."""
        return self.enabled and any(fnmatchcase(branch, glob) for glob in self.branches)


class Sweep(BaseModel):
    """`sweep`: the scheduled quality sweep."""

    model_config = _SECTION

    enabled: StrictBool = Field(
        default=True, description="run quality sweeps (scheduled, and asked for by comment)"
    )
    schedule: Literal["daily", "weekly", "monthly"] = Field(
        default="weekly", description="how often: daily, weekly or monthly"
    )
    agents: SpecialistNames = Field(
        default=None,
        description="the specialists a sweep runs; null: every one enabled under agents",
    )
    max_prs: StrictInt = Field(
        default=3,
        ge=0,
        le=50,
        description="pull requests a sweep opens at most (0: dashboard only)",
    )
    pause_after_rejections: StrictInt = Field(
        default=3,
        ge=0,
        le=50,
        description="a specialist whose last this many PRs were closed unmerged or reverted "
        "proposes nothing until one of its PRs merges; each rejection before that lowers its "
        "proposals per sweep by one (0: never held back)",
    )


class Limits(BaseModel):
    """`limits`: how much Ambient does for a repository."""

    model_config = _SECTION

    max_open_prs: StrictInt = Field(
        default=5, ge=1, le=100, description="Ambient's own open pull requests at most"
    )
    jobs_per_user_per_day: StrictInt = Field(
        default=10, ge=1, le=1000, description="jobs one person may start in a day"
    )


class Tasks(BaseModel):
    """`tasks`: issues turned into pull requests, and follow-ups on review."""

    model_config = _SECTION

    label: str = Field(
        default="ambient",
        min_length=1,
        max_length=50,
        description="the label that hands an issue to Ambient",
    )
    max_followups: StrictInt = Field(
        default=3,
        ge=0,
        le=20,
        description="follow-up commits Ambient pushes to one of its pull requests on review "
        "(0: none)",
    )
    token_budget: StrictInt = Field(
        default=200_000, ge=1000, description="model tokens one task or follow-up job may use"
    )
    daily_token_budget: StrictInt = Field(
        default=2_000_000,
        ge=1000,
        description="model tokens the task and follow-up jobs of this repository may use in "
        "a UTC day",
    )


class Risk(BaseModel):
    """`risk`: the thresholds of the risk rules."""

    model_config = _SECTION

    high_lines: StrictInt = Field(
        default=_RULES.high_lines, ge=1, description="a change of more lines is high risk"
    )
    max_files: StrictInt = Field(
        default=_RULES.max_files, ge=1, description="a change of more files is rejected"
    )


class RepoConfig(BaseModel):
    """A repository's `.github/ambient.yml` (or `.ambient.yml`), read from the default branch."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Ambient repository config")

    agents: AgentsSection = Field(
        default_factory=dict,
        description="`enabled`: the specialists that run (default: all); `<name>`: one "
        "specialist's tuning",
    )
    verify: Verify = Field(default_factory=Verify)
    setup: Setup = Field(default_factory=Setup)
    paths: Paths = Field(default_factory=Paths)
    protected_owners: Owners = Field(
        default=(),
        description="CODEOWNERS owners (@user, @org/team) whose files change only with "
        "a maintainer's approval",
    )
    allow_workflow_changes: StrictBool = Field(
        default=False, description="let changes touch .github/workflows/ (always high risk)"
    )
    ci_autofix: CiAutofix = Field(default_factory=CiAutofix)
    sweep: Sweep = Field(default_factory=Sweep)
    limits: Limits = Field(default_factory=Limits)
    risk: Risk = Field(default_factory=Risk)
    tasks: Tasks = Field(default_factory=Tasks)
    push_to_pr_branch: StrictBool = Field(
        default=True,
        description="push fixes to a pull request's own branch when it lives in this "
        "repository (never to a fork's); off: open a pull request against it",
    )
    draft_prs: StrictBool = Field(default=False, description="open pull requests as drafts")

    @model_validator(mode="after")
    def _sweep_agents_enabled(self) -> RepoConfig:
        wanted = self.sweep.agents or ()
        disabled = [name for name in wanted if not self.specialists.wants(name)]
        if disabled:
            raise problem(
                f"names {', '.join(disabled)}, not enabled under agents.enabled",
                "sweep",
                "agents",
            )
        return self

    @property
    def specialists(self) -> SpecialistsConfig:
        """The enabled specialists and their tuning (validated when the config was)."""
        return read_config(self.agents)

    def sweep_agents(self) -> tuple[str, ...]:
        """The short names of the specialists a sweep runs."""
        if self.sweep.agents is not None:
            return self.sweep.agents
        return self.specialists.enabled

    def is_ignored(self, path: str) -> bool:
        """Whether the clean relative `path` matches `paths.ignore` (never changed)."""
        return any(glob_matches(glob, path) for glob in self.paths.ignore)

    def protects(self, owners: Iterable[str]) -> bool:
        """Whether any of a file's CODEOWNERS `owners` is a protected owner (any case)."""
        protected = {owner.lower() for owner in self.protected_owners}
        return any(owner.lower() in protected for owner in owners)

    def path_policy(self) -> PathPolicy:
        """The path gate: the built-in forbidden list plus `paths.ignore`."""
        forbidden = tuple(dict.fromkeys((*DEFAULT_FORBIDDEN, *self.paths.ignore)))
        return PathPolicy(forbidden, self.allow_workflow_changes)

    def risk_rules(self) -> RiskRules:
        """The risk rules with this repository's thresholds."""
        return RiskRules(self.risk.high_lines, self.risk.max_files)
