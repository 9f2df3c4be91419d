"""The flows a trigger starts: fix a pull request, fix a failed CI run, sweep a repository,
turn an issue into a pull request, and their local counterparts for `ambient sweep|fix|watch`;
with the daily limits, the sweep schedule and the redelivery plan they follow.
"""

from __future__ import annotations

from bot.flows.ci import CiRequest, fix_ci_failure, made_by_ambient, report_ci_unfinished
from bot.flows.fix import FixRequest, fix_pull_request, report_fix_unfinished
from bot.flows.followup import FollowupRequest, follow_up
from bot.flows.local import LocalRun, local_fix, local_sweep
from bot.flows.local_task import local_task
from bot.flows.redelivery import (
    MAX_ASKS,
    RETENTION_S,
    Asked,
    Checkpoint,
    horizon,
    keep_paging,
    plan,
    unsettled,
)
from bot.flows.sweep import SweepRequest, approve_from_dashboard, sweep_repository
from bot.flows.task import TaskRequest, TaskTrigger, report_task_unfinished, run_task
from bot.flows.watch import watch_checkout

__all__ = [
    "MAX_ASKS",
    "RETENTION_S",
    "Asked",
    "Checkpoint",
    "CiRequest",
    "FixRequest",
    "FollowupRequest",
    "LocalRun",
    "SweepRequest",
    "TaskRequest",
    "TaskTrigger",
    "approve_from_dashboard",
    "fix_ci_failure",
    "fix_pull_request",
    "follow_up",
    "horizon",
    "keep_paging",
    "local_fix",
    "local_sweep",
    "local_task",
    "made_by_ambient",
    "plan",
    "report_ci_unfinished",
    "report_fix_unfinished",
    "report_task_unfinished",
    "run_task",
    "sweep_repository",
    "unsettled",
    "watch_checkout",
]
