"""The ordered registry of triggers: routes for the receiver, jobs for the worker."""

from __future__ import annotations

from typing import Final

from bot.events import JobFunction, Route
from handlers import ci_failure, comment, installation, issue_task, outcomes, review, sweep

__all__ = ["JOBS", "ROUTES"]

ROUTES: Final[tuple[Route, ...]] = (
    issue_task.route,
    comment.route,
    ci_failure.route,
    sweep.route,
    installation.route,
    outcomes.route,
    review.route,
)

JOBS: Final[tuple[JobFunction, ...]] = (
    *comment.JOBS,
    *issue_task.JOBS,
    *ci_failure.JOBS,
    *sweep.JOBS,
    *installation.JOBS,
    *outcomes.JOBS,
    *review.JOBS,
)
