"""`ambient task PATH`: the task flow on a local checkout. The same plan, reproduction test and
fix loop as an issue on GitHub (`bot.flows.task`); a verified change lands as a review branch
and a `.patch` file of the checkout, never in its working tree. A task too vague to act on ends
with the planner's question and nothing else."""

from __future__ import annotations

from agents.fixer import Fixer, FixTask
from agents.llm import LLM
from agents.planner import IssueText, make_plan, plan_text
from agents.reproducer import reproduce
from bot.flows.local import LocalRun
from bot.git import Workspace, run_git
from bot.patch import apply
from bot.pipeline import Outcome, Report, Timings, checked, checks_for, finish, pass_gates, tally
from bot.publish import LocalPublisher

__all__ = ["local_task"]


async def local_task(run: LocalRun, model: LLM, issue: IssueText) -> Report:
    """Plan `issue`, show a bug with a failing test, fix and verify it in a worktree of the
    checkout; a verified change becomes a review branch."""
    timings = Timings()
    head = (await run_git(["rev-parse", "HEAD"], run.target)).text.strip()
    async with await Workspace.clone(
        str(run.target), head, None, run.workspace_root, "local-task"
    ) as workspace:
        worktree = await workspace.add_worktree("task")
        listed = await run_git(["ls-files", "-z"], worktree)
        plan = await make_plan(model, issue, tuple(p for p in listed.text.split("\0") if p))
        if not plan.actionable:
            asked = (f"one question before this can start: {plan.question}",)
            return Report("task", str(run.target), (), asked, usage=plan.usage.summary())
        commands, policy = checks_for(run.config, worktree)
        path_policy = run.config.gates.path_policy
        async with run.config.checks_on(worktree, policy) as box:
            before = await checked(worktree, box, tuple(commands))
            kept = ""
            notes = [f"plan:\n{plan_text(plan)}", f"before: {before.summary()}"]
            if plan.bug:
                shown = await reproduce(
                    model,
                    issue.render(),
                    worktree,
                    verify=lambda: checked(worktree, box, tuple(commands)),
                    reset=lambda: workspace.reset(worktree),
                    policy=path_policy,
                )
                kept = shown.diff
                notes.append(f"reproduction: {shown.line()}")

            async def reset() -> None:
                await workspace.reset(worktree)
                if kept:
                    await apply(worktree, kept, policy=path_policy)

            task = FixTask(
                f"{issue.render()}\n\n## The plan\n\n{plan_text(plan)}",
                "",
                plan.files,
                tuple(map(str, commands)),
            )
            result = await Fixer(model, policy=path_policy).fix(
                task, worktree, verify=lambda: checked(worktree, box, tuple(commands)), reset=reset
            )
        if result.proposal is None or result.verification is None:
            reason = f"no verified change in {len(result.rounds)} rounds"
            outcome = Outcome("fixer", plan.summary[:80], "failed", reason)
        else:
            gated = await pass_gates(
                result.proposal,
                worktree,
                options=run.config.gates,
                diff_of=workspace.diff,
                timings=timings,
                verified=result.verification,
            )
            publisher = LocalPublisher(run.target, "task")
            outcome = await finish(gated, workspace, worktree, publisher, 1, timings)
    return Report(
        "task",
        str(run.target),
        tuple(tally((outcome,))),
        tuple(notes),
        usage=(plan.usage + result.usage).summary(),
        timings=tuple(timings.stages.items()),
    )
