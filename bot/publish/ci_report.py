"""What a CI fix says: the diagnosis of one failure and the texts of its check run and PR."""

from __future__ import annotations

from dataclasses import dataclass

from agents.hot_paths import HotPath
from agents.proposal import Proposal
from bot.github import JobLog
from bot.publish.report import FixSummary
from sandbox.verify import Verification

__all__ = [
    "Diagnosis",
    "ci_fix_branch",
    "not_fixed",
    "not_reproduced",
    "pull_body",
]


def not_reproduced(diagnosis: Diagnosis) -> FixSummary:
    text = (
        f"The failing CI jobs ({diagnosis.jobs()}) do not fail in the sandbox at "
        f"{diagnosis.head_sha[:7]}, so there is nothing to verify a fix against; no pull "
        f"request was opened.\n\n{diagnosis.before_text()}"
    )
    return FixSummary("neutral", "CI failure not reproduced", text, text.splitlines()[0])


def not_fixed(diagnosis: Diagnosis, tried: str) -> FixSummary:
    text = "\n".join(
        [
            f"No fix verified for {diagnosis.jobs()} at {diagnosis.head_sha[:7]}; "
            "no pull request was opened.",
            "",
            "**What was tried:**",
            tried,
            "",
            diagnosis.before_text(),
            diagnosis.hot_text(),
        ]
    )
    return FixSummary("failure", "No verified fix", text, text.splitlines()[0])


def ci_fix_branch(branch: str, sha: str) -> str:
    """The branch a fix of `branch` failing at `sha` lives on (the same for every retry)."""
    return f"ambient/ci-fix/{branch}-{sha[:7]}"


def _fenced(text: str, limit: int = 2000) -> str:
    # A tilde fence: test output often holds backtick fences of its own.
    return f"~~~~text\n{text[-limit:].rstrip()}\n~~~~"


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What is known of one failure: the failed jobs, the files their logs point at, and the
    checks in the sandbox before (failing) and after the fix (passing)."""

    branch: str
    head_sha: str
    logs: tuple[JobLog, ...]
    hot: tuple[HotPath, ...]
    before: Verification
    after: Verification | None = None

    def jobs(self) -> str:
        """The failed jobs, by name."""
        return ", ".join(f"`{j.name}`" for j in self.logs) or "no job log was readable"

    def hot_text(self) -> str:
        """The files the logs point at, with lines."""
        spots = [f"`{h.path}`" + (f" (line {h.lines[0]})" if h.lines else "") for h in self.hot]
        return f"**Where the logs point:** {', '.join(spots[:8])}" if spots else ""

    def before_text(self) -> str:
        """The failing output, as the sandbox reproduced it."""
        failing = self.before.failed
        tail = _fenced(failing.output_tail) if failing else ""
        return "\n".join(["**Before** (in the sandbox):", self.before.summary(), tail])

    def after_text(self) -> str:
        """The passing output after the fix."""
        if self.after is None:
            return ""
        runs = self.after.runs
        tail = _fenced(runs[-1].output_tail, 1200) if runs else ""
        return "\n".join(["**After** (in the sandbox, no network):", self.after.summary(), tail])


def pull_body(diagnosis: Diagnosis, proposal: Proposal) -> str:
    """The PR's body: root-cause analysis, the failing output before, the passing one after."""
    why = "\n\n".join(p for p in (proposal.description, proposal.rationale) if p)
    return "\n\n".join(
        part
        for part in (
            f"CI failed on `{diagnosis.branch}` at {diagnosis.head_sha[:7]} "
            f"(failed jobs: {diagnosis.jobs()}).",
            f"## Root cause\n\n{why}",
            diagnosis.hot_text(),
            diagnosis.before_text(),
            diagnosis.after_text(),
        )
        if part
    )
