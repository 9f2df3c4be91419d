"""What a fix job tells people: the check run's output and the one reply. Text only, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace

from agents.fixer import FixResult, FixRound
from bot.pipeline import Outcome
from bot.publish.github import Published

__all__ = [
    "Facts",
    "FixSummary",
    "evidence_text",
    "failed_summary",
    "moved_summary",
    "outcome_summary",
    "refusal_reply",
    "tried_text",
]


@dataclass(frozen=True, slots=True)
class FixSummary:
    """The finished job as the check run (`conclusion`, `title`, `text`) and the reply tell it.

    `commit` is the published commit the report proves (its check run goes there), and
    `pointer` says where it is, for the run on the commit the job started from.
    """

    conclusion: str
    title: str
    text: str
    reply: str
    commit: str = ""
    pointer: str = ""


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
    tried: str = ""
    #: The job's token budget and where it came from, when a repository's config set it.
    budget: str = ""

    def with_result(self, result: FixResult, scan: str) -> Facts:
        """These facts plus the fixer's rounds, token use and verification, and the scan."""
        verification = result.verification.summary() if result.verification else ""
        return replace(
            self,
            rounds=len(result.rounds),
            usage=result.usage.summary(),
            verification=verification,
            scan=scan,
            tried=tried_text(result.rounds),
        )


def tried_text(rounds: tuple[FixRound, ...]) -> str:
    """One line per round of the fixer: what it did and what became of it."""
    lines = [f"- round {r.number}: {r.outcome}: {r.detail[:300]}" for r in rounds]
    return "\n".join(lines) or "- no round ran"


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
    if facts.budget:
        lines.append(f"**Budget:** {facts.budget}")
    lines += [f"**Config problem:** {p}" for p in facts.config_problems]
    return lines


def evidence_text(facts: Facts) -> str:
    """The verification section of a fix's report: checks, secret scan, model and rounds.

    A fix opened as a pull request carries the same section in its body."""
    return "\n".join(_evidence(facts))


def _commit_link(published: Published) -> str:
    short = published.commit[:7]
    return f"[{short}]({published.url})" if published.url else short


def _published_lines(published: Published, *, linked: bool) -> tuple[str, str]:
    signed = "signed by GitHub" if published.verified else "signature not verified"
    commit = _commit_link(published) if linked else published.commit[:7]
    if published.mode == "push":
        where = f"Pushed {commit} ({signed}) to `{published.branch}`"
    else:
        where = (
            f"Opened #{published.pull_number} from `{published.branch}` with {commit} ({signed})"
        )
    reviewers = ", ".join(f"@{r.lstrip('@')}" for r in published.reviewers)
    asked = f"Review requested from {reviewers}." if reviewers else ""
    return where, asked


def outcome_summary(
    outcome: Outcome, facts: Facts, published: Published | None = None
) -> FixSummary:
    """The report of a fix that was published, or of one the gates or the fixer stopped."""
    if published is None or outcome.fate not in ("published", "awaiting-approval"):
        reason = f"{outcome.fate}: {outcome.reason}" if outcome.reason else outcome.fate
        tried = ["**What was tried:**", facts.tried, ""] if facts.tried else []
        text = "\n".join([f"Nothing was published ({reason}).", "", *tried, *_evidence(facts)])
        reply = f"I could not fix this: {reason}. Nothing was published."
        return FixSummary("failure", "No fix published", text, reply)
    where, asked = _published_lines(published, linked=False)
    linked, _ = _published_lines(published, linked=True)
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
    reply_lines = [f"{linked}: **{outcome.title}**.", f"Verified: {checks}.", asked]
    if outcome.reason:
        reply_lines.append(outcome.reason)
    return FixSummary(
        "success",
        f"Fixed: {outcome.title}"[:120],
        text,
        "\n".join(x for x in reply_lines if x),
        published.commit,
        _pointer(published),
    )


def _pointer(published: Published) -> str:
    short = published.commit[:7]
    if published.mode == "push":
        return f"The fix is {short}, pushed to `{published.branch}`."
    return f"The fix is {short}, the head of #{published.pull_number}."


def moved_summary(summary: FixSummary, evidence_url: str) -> FixSummary:
    """What the run on the commit the job started from says once the evidence is on the
    published commit: where that is (a neutral conclusion: this commit itself is not fixed)."""
    link = f"[its check run]({evidence_url})" if evidence_url else "its check run"
    text = f"{summary.pointer} The evidence is on that commit, in {link}."
    return FixSummary("neutral", f"Evidence on {summary.commit[:7]}", text, summary.reply)


def failed_summary(reason: str, check_url: str) -> FixSummary:
    """The report of a job that stopped on a permanent error (`reason` is one line)."""
    link = f" Details: {check_url}" if check_url else ""
    return FixSummary(
        "failure", "Ambient could not fix this", reason, f"I could not fix this: {reason}.{link}"
    )
