"""The queue's consumer side: the arq worker (jobs from `handlers`, the crons, the resources
built once per worker), and the job records `ambient jobs` lists, exports and retries.
"""

from __future__ import annotations

from bot.jobs.admin import JobStore, open_store
from bot.jobs.records import STATES, JobRecord, RetryStep, plan_retries
from bot.jobs.worker import create_worker

__all__ = [
    "STATES",
    "JobRecord",
    "JobStore",
    "RetryStep",
    "create_worker",
    "open_store",
    "plan_retries",
]
