"""What Ambient publishes: commits, branches, pull requests, check runs and replies on GitHub
(`github`, `sweep`, `ci`), review branches and `.patch` files locally (`local`), and the texts
they carry (`report`, `ci_report`, `dashboard`).
"""

from __future__ import annotations

from bot.publish.ci import CiPublisher
from bot.publish.ci_report import Diagnosis, not_fixed, not_reproduced, tried_text
from bot.publish.dashboard import Entry
from bot.publish.github import GitHubPublisher, HeadMoved, fix_target
from bot.publish.local import LocalPublisher
from bot.publish.report import Facts, FixSummary, failed_summary, outcome_summary, refusal_reply
from bot.publish.sweep import (
    DASHBOARD_TITLE,
    SweepPublisher,
    approve_ticked,
    open_pulls,
    upsert_dashboard,
)

__all__ = [
    "DASHBOARD_TITLE",
    "CiPublisher",
    "Diagnosis",
    "Entry",
    "Facts",
    "FixSummary",
    "GitHubPublisher",
    "HeadMoved",
    "LocalPublisher",
    "SweepPublisher",
    "approve_ticked",
    "failed_summary",
    "fix_target",
    "not_fixed",
    "not_reproduced",
    "open_pulls",
    "outcome_summary",
    "refusal_reply",
    "tried_text",
    "upsert_dashboard",
]
