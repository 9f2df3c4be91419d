"""What Ambient publishes: commits, branches, pull requests, check runs and replies on GitHub
(`github`, `sweep`, `ci`), review branches and `.patch` files locally (`local`), and the texts
they carry (`report`, `ci_report`, `dashboard`).
"""

from __future__ import annotations

from bot.publish.ci import CiPublisher
from bot.publish.ci_report import Diagnosis, not_fixed, not_reproduced
from bot.publish.dashboard import Entry, Status, status_of
from bot.publish.github import GitHubPublisher, HeadMoved, fix_target
from bot.publish.local import LocalPublisher, state_dir
from bot.publish.report import (
    Facts,
    FixSummary,
    evidence_text,
    failed_summary,
    moved_summary,
    outcome_summary,
    refusal_reply,
    tried_text,
)
from bot.publish.sweep import (
    DASHBOARD_TITLE,
    SWEEP_CHECK,
    Pushed,
    SweepPublisher,
    approve_ticked,
    find_dashboard,
    open_pulls,
    proven,
    proven_conclusion,
    upsert_dashboard,
)
from bot.publish.task import TaskFacts, TaskPublisher, task_branch

__all__ = [
    "DASHBOARD_TITLE",
    "SWEEP_CHECK",
    "CiPublisher",
    "Diagnosis",
    "Entry",
    "Facts",
    "FixSummary",
    "GitHubPublisher",
    "HeadMoved",
    "LocalPublisher",
    "Pushed",
    "Status",
    "SweepPublisher",
    "TaskFacts",
    "TaskPublisher",
    "approve_ticked",
    "evidence_text",
    "failed_summary",
    "find_dashboard",
    "fix_target",
    "moved_summary",
    "not_fixed",
    "not_reproduced",
    "open_pulls",
    "outcome_summary",
    "proven",
    "proven_conclusion",
    "refusal_reply",
    "state_dir",
    "status_of",
    "task_branch",
    "tried_text",
    "upsert_dashboard",
]
