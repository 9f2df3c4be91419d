"""Iterating on Ambient's own pull requests: a review with changes requested, or review comments,
by someone with write access start a follow-up job that pushes one new verified commit
addressing them (the fix flow, `bot.flows.fix`, on the pull request's branch), or says why it
cannot; each line comment addressed gets a short reply in its thread.

Bounded per pull request by `tasks.max_followups`: a job counts once however often it is
retried (its own key remembers the count it was given), and a job past the cap replies once and
does nothing. Comments a follow-up answered are remembered, so a later one does not answer them
again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from redis.asyncio import Redis

from agents.llm import BudgetedModel
from agents.usage import TokenBudget
from bot.deps import Deps
from bot.errors import ConfigError
from bot.flows.common import may_trigger, refused_unless_writer, repo_config, stored
from bot.flows.fix import PERMISSIONS, FixRequest, fix_pull_request
from bot.flows.task_budget import DailyBudgetSpent, job_limit, spend
from bot.github import InstallationClient, hidden_marker

__all__ = ["FollowupRequest", "follow_up"]

log = logging.getLogger("ambient.flow.followup")

KEEP_S: Final = 90 * 24 * 3600


@dataclass(frozen=True, slots=True)
class FollowupRequest:
    """A review or review comment on one of Ambient's pull requests."""

    job_id: str
    installation_id: int
    owner: str
    repo: str
    number: int
    reviewer: str
    reviewer_is_bot: bool


def _key(full_name: str, number: int, what: str) -> str:
    return f"ambient:followup:{full_name.lower()}:{number}:{what}"


async def _count(redis: Redis, full_name: str, number: int, job_id: str) -> int:
    """This job's place among the pull request's follow-ups (counted once per job id)."""
    mine = f"ambient:followup:job:{job_id}"
    if await redis.set(mine, 0, nx=True, ex=KEEP_S):
        count = int(await redis.incr(_key(full_name, number, "count")))
        await redis.expire(_key(full_name, number, "count"), KEEP_S)
        await redis.set(mine, count, ex=KEEP_S)
        return count
    return int(await redis.get(mine) or 0)


async def _open_remarks(
    gh: InstallationClient, redis: Redis, full_name: str, number: int
) -> list[tuple[int, str, str]]:
    """(id, author, path) of the line comments and change requests people with write access
    made that no follow-up answered yet (bots' and readers' left out)."""
    # Through a pipeline: redis-py types a set command's result as "awaitable or not".
    async with redis.pipeline(transaction=False) as pipe:
        pipe.smembers(_key(full_name, number, "answered"))
        (members,) = await pipe.execute()
    answered = {int(x) for x in members}
    roles: dict[str, bool] = {}
    found = []
    for note in await gh.review_notes(number):
        if note.author_is_bot or note.id in answered:
            continue
        if note.state and note.state != "CHANGES_REQUESTED":
            continue
        if note.author not in roles:
            roles[note.author] = may_trigger(await gh.permission_of(note.author))
        if roles[note.author]:
            found.append((note.id, note.author, note.path))
    return found


async def follow_up(deps: Deps, request: FollowupRequest) -> dict[str, object]:
    """Run one follow-up on `request`'s pull request; see the module docstring."""
    if request.reviewer_is_bot:
        return {"status": "ignored", "reason": "bots do not trigger work"}
    if deps.github is None:
        raise ConfigError("AMBIENT_GITHUB_APP_ID and the App's private key are not set")
    gh = await deps.github.installation_client(
        request.installation_id, request.owner, request.repo, PERMISSIONS
    )
    marker = hidden_marker(f"job:{request.job_id}")
    refused = await refused_unless_writer(gh, request.reviewer, request.number, marker)
    if refused is not None:
        return refused
    repo = await gh.get_repo()
    tasks = (await repo_config(gh, repo.default_branch)).config.tasks
    count = await _count(deps.redis, repo.full_name, request.number, request.job_id)
    if count > tasks.max_followups:
        said = (
            f"I have made {tasks.max_followups} follow-up(s) on this pull request, the limit "
            "(`tasks.max_followups`); a person takes it from here. Nothing was run."
        )
        await gh.find_or_create_comment(request.number, marker, said)
        return {"status": "refused", "reason": "follow-up limit", "count": count}
    remarks = await _open_remarks(gh, deps.redis, repo.full_name, request.number)
    if not remarks:
        return {"status": "ignored", "reason": "no review remark left to address"}
    try:
        limit, _left = await job_limit(
            deps.redis,
            repo.full_name,
            datetime.now(UTC).date(),
            tasks.token_budget,
            tasks.daily_token_budget,
        )
    except DailyBudgetSpent as exc:
        await gh.find_or_create_comment(request.number, marker, f"I could not do this: {exc}.")
        return {"status": "refused", "reason": str(exc)}
    listed = ", ".join(
        f"@{author}" + (f" on `{path}`" if path else "") for _, author, path in remarks
    )
    fix = FixRequest(
        job_id=request.job_id,
        installation_id=request.installation_id,
        owner=request.owner,
        repo=request.repo,
        number=request.number,
        comment_id=0,
        commenter=request.reviewer,
        commenter_is_bot=False,
        instructions=f"Address what reviewers asked for on this pull request ({listed}).",
        react=False,
        token_budget=limit,
        remarks=tuple(remark_id for remark_id, _, _ in remarks),
    )
    # An unlimited budget around the worker's model only counts what the fix flow spends, for
    # the repository's day; the fix flow's own budget (`limit`) is what stops it.
    counted = BudgetedModel(deps.model, TokenBudget(None)) if deps.model else None
    today = datetime.now(UTC).date()
    try:
        result = await fix_pull_request(replace(deps, model=counted), fix)
    finally:
        if counted is not None:
            spent = counted.budget.usage.total.total_tokens
            await spend(deps.redis, repo.full_name, today, spent)
    summary = await stored(deps.redis, request.job_id)
    commit = summary.commit if summary else ""
    for ident, _author, path in remarks:
        if not path:
            continue  # a review's own text is answered by the reply on the pull request
        said = (
            f"Addressed in {commit[:7]}."
            if commit
            else "I could not address this; my reply on the pull request says why."
        )
        await gh.reply_to_review_comment(request.number, ident, marker, said)
    if commit:
        key = _key(repo.full_name, request.number, "answered")
        async with deps.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, *(i for i, _, _ in remarks))
            pipe.expire(key, KEEP_S)
            await pipe.execute()
    log.info("follow-up finished", extra={"pr": request.number, "commit": commit[:7]})
    return {**result, "followup": count, "remarks": len(remarks)}
