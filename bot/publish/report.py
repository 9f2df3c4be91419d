"""What a fix job tells people: the check run's output and the one reply. Text only, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace

from agents.fixer import FixResult
from bot.pipeline import Outcome
from bot.publish.github import Published

__all__ = ["Facts", "FixSummary", "failed_summary", "outcome_summary", "refusal_reply"]


@dataclass(frozen=True, slots=True)
class FixSummary:
    """The finished job as the check run (`conclusion`, `title`, `text`) and the reply tell it."""

    conclusion: str
    title: str
    text: str
    reply: str


@dataclass(frozen=True, slots=True)
class Facts:
    """What the report cites besides the outcome: model, config problems, why push or PR."""

    model: str
    config_problems: tuple[str, ...] = ()
    target_reason: str = ""
    rounds: int = 0
    usage: str = ""
    verification: str = ""
    scan: str = ""

    def with_result(self, result: FixResult, scan: str) -> Facts:
        """These facts plus the fixer's rounds, token use and verification, and the scan."""
        verification = result.verification.summary() if result.verification else ""
        return replace(
            self,
            rounds=len(result.rounds),
            usage=result.usage.summary(),
            verification=verification,
            scan=scan,
        )


def refusal_reply(login: str, role: str) -> str:
    """The one reply to a commenter without write access; nothing runs."""
    return (
        f"Sorry @{login}, only people with write, maintain or admin access to this repository "
        f"can ask me to work (your access: {role}). Nothing was run."
    )


def _evidence(facts: Facts) -> list[str]:
    lines = []
    if facts.verification:
        lines += ["**Verification** (in the sandbox, no network):", facts.verification, ""]
    if facts.scan:
        lines.append(f"**Secret scan:** {facts.scan}")
    usage = f"; {facts.usage}" if facts.usage else ""
    lines.append(f"**Model:** {facts.model}, {facts.rounds} fix round(s){usage}")
    lines += [f"**Config problem:** {p}" for p in facts.config_problems]
    return lines


def _published_lines(published: Published) -> tuple[str, str]:
    signed = "signed by GitHub" if published.verified else "signature not verified"
    if published.mode == "push":
        where = f"Pushed {published.commit[:7]} ({signed}) to `{published.branch}`"
    else:
        where = f"Opened #{published.pull_number} from `{published.branch}` ({signed})"
    reviewers = ", ".join(f"@{r.lstrip('@')}" for r in published.reviewers)
    asked = f"Review requested from {reviewers}." if reviewers else ""
    return where, asked


def outcome_summary(
    outcome: Outcome, facts: Facts, published: Published | None = None
) -> FixSummary:
    """The report of a fix that was published, or of one the gates or the fixer stopped."""
    if published is None or outcome.fate not in ("published", "awaiting-approval"):
        reason = f"{outcome.fate}: {outcome.reason}" if outcome.reason else outcome.fate
        text = "\n".join([f"Nothing was published ({reason}).", "", *_evidence(facts)])
        reply = f"I could not fix this: {reason}. Nothing was published."
        return FixSummary("failure", "No fix published", text, reply)
    where, asked = _published_lines(published)
    link = published.pull_url if published.mode == "pull-request" else published.url
    text = "\n".join(
        [
            f"{where}: {outcome.title}.",
            f"Why there: {facts.target_reason}.",
            asked,
            "",
            *_evidence(facts),
        ]
    )
    checks = facts.verification.splitlines()[0] if facts.verification else "no checks ran"
    reply_lines = [
        f"{where}: **{outcome.title}**" + (f" ({link})" if link else "") + ".",
        f"Verified: {checks}.",
        asked,
    ]
    if outcome.reason:
        reply_lines.append(outcome.reason)
    return FixSummary(
        "success", f"Fixed: {outcome.title}"[:120], text, "\n".join(x for x in reply_lines if x)
    )


def failed_summary(reason: str, check_url: str) -> FixSummary:
    """The report of a job that stopped on a permanent error (`reason` is one line)."""
    link = f" Details: {check_url}" if check_url else ""
    return FixSummary(
        "failure", "Ambient could not fix this", reason, f"I could not fix this: {reason}.{link}"
    )
