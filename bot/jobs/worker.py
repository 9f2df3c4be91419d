"""The arq worker: every job the router can produce, explicit limits, resources built once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, Final

from arq import cron
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.worker import Worker
from prometheus_client import start_http_server

from agents.llm import OpenAIModel
from agents.roles import RoleModels, models_from_settings
from bot.config import Settings, load_settings
from bot.deps import Deps
from bot.errors import SandboxError
from bot.events import MAX_TRIES, deserialize, serialize
from bot.git import reap_stale
from bot.github import GitHubApp
from bot.pipeline import Environments, SetupOptions
from handlers import JOBS
from handlers.redelivery import redeliver_failed
from handlers.sweep import scheduled_sweep
from sandbox import reap_orphans
from sandbox.bwrap import reap_scratch
from sandbox.docker import NO_RUNSC, engine_runtimes

__all__ = ["WorkerSettings", "create_worker", "crons"]

log = logging.getLogger("ambient.worker")

# The default of `Settings.job_timeout_s`; a failed job is retried a few times at most
# (Retryable errors only: permanent failures return instead of raising).
JOB_TIMEOUT_S: Final = 1800


def _github_app(settings: Settings, redis: Any) -> GitHubApp | None:
    """The App when its id and key are configured; jobs that need it say so otherwise."""
    key = settings.private_key_pem()
    if settings.github_app_id is None or key is None:
        log.warning("AMBIENT_GITHUB_APP_ID or the private key is not set: GitHub jobs cannot run")
        return None
    return GitHubApp(
        app_id=settings.github_app_id,
        private_key=key,
        base_url=settings.github_api_url,
        app_slug=settings.app_slug,
        redis=redis,
    )


def crons(redelivery_interval_min: int) -> list[CronJob]:
    """The crons: the daily sweep, and the redelivery every so many minutes (0: none)."""
    # Every day 06:00 UTC: each repository's job sweeps when its `sweep.schedule` is due.
    # `unique` keeps two workers from both running it (the per-day job ids of `sweep_repo`
    # make a second run enqueue nothing anyway).
    jobs = [cron(scheduled_sweep, hour=6, minute=0, unique=True)]
    if redelivery_interval_min:
        minutes = set(range(0, 60, redelivery_interval_min))
        # Its figures (asked, pending, given up) stay readable in Redis for an hour. No timeout of
        # its own: arq holds every job's in-progress lock for the longest function timeout + 10 s,
        # so a longer one here would delay the re-run of any job whose worker died.
        redeliver = cron(redeliver_failed, minute=minutes, unique=True, keep_result=3600)
        jobs.append(redeliver)
    return jobs


def _has_model(settings: Settings) -> bool:
    return bool(settings.llm_base_url and settings.llm_model)


async def on_startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or load_settings()
    ctx["deps"] = Deps(
        settings=settings,
        redis=ctx["redis"],
        github=_github_app(settings, ctx["redis"]),
        model=models_from_settings(settings) if _has_model(settings) else None,
        environments=(
            Environments(SetupOptions.from_settings(settings)) if settings.setup == "auto" else None
        ),
    )
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    # Sandboxes and workspaces left by a worker that was killed are removed before any job.
    if settings.sandbox == "docker":
        try:
            await reap_orphans()
            if settings.sandbox_runtime == "runsc" and "runsc" not in await engine_runtimes(
                fresh=True
            ):
                # Said at start, not only by each job that verifies.
                log.error(NO_RUNSC)
        except SandboxError as exc:
            # The engine may come up after the worker; jobs that verify fail until it does.
            log.warning("sandboxes not reaped: %s", exc)
    # Longer than any job may run, so a reaper never removes a live job's workspace.
    stale_s = 2 * max(JOB_TIMEOUT_S, settings.job_timeout_s)
    await reap_stale(settings.workspace_root, older_than_s=stale_s)
    await asyncio.to_thread(reap_scratch, stale_s)
    log.info("worker started", extra={"jobs": [job.__name__ for job in JOBS]})


async def on_shutdown(ctx: dict[str, Any]) -> None:
    log.info("worker stopping")
    deps: Deps | None = ctx.get("deps")
    if deps is None:
        return
    if deps.github is not None:
        await deps.github.aclose()
    if isinstance(deps.model, OpenAIModel | RoleModels):
        await deps.model.aclose()
    if deps.environments is not None:
        await deps.environments.close()


class WorkerSettings:
    """arq settings; `create_worker` fills in Redis and the Settings for one process."""

    functions: ClassVar = list(JOBS)
    cron_jobs: ClassVar = crons(Settings.model_fields["redelivery_interval_min"].default)
    on_startup = staticmethod(on_startup)
    on_shutdown = staticmethod(on_shutdown)
    job_timeout = JOB_TIMEOUT_S
    max_tries = MAX_TRIES
    keep_result = 24 * 3600
    job_serializer = staticmethod(serialize)
    job_deserializer = staticmethod(deserialize)
    allow_abort_jobs = True
    # arq's default 0.5 s poll was half of an `@app help` reply's latency (bench/e2e_latency.py);
    # an idle worker asking Redis ten times a second costs next to nothing.
    poll_delay = 0.1


_OPTIONS: Final = (
    "functions",
    "cron_jobs",
    "on_startup",
    "on_shutdown",
    "job_timeout",
    "max_tries",
    "keep_result",
    "job_serializer",
    "job_deserializer",
    "allow_abort_jobs",
    "poll_delay",
)


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """An arq `Worker` for `settings` (run it with `.async_run()` or `.run()`)."""
    options: dict[str, Any] = {name: getattr(WorkerSettings, name) for name in _OPTIONS}
    options["redis_settings"] = RedisSettings.from_dsn(settings.redis_url)
    options["ctx"] = {"settings": settings}
    # arq keeps a running job's in-progress key for job_timeout + 10 s: after a worker is
    # killed, its job runs again on another worker once that key expires.
    options["job_timeout"] = settings.job_timeout_s
    options["max_jobs"] = settings.worker_max_jobs
    options["cron_jobs"] = crons(settings.redelivery_interval_min)
    options.update(overrides)
    return Worker(**options)
