"""What to do when a GitHub call fails: wait and retry, or raise which error. Pure decisions.

GitHub's rules (REST docs, "Rate limits for the REST API" and "Best practices"): on 429, or on
403 with `retry-after` or a "secondary rate limit" message, wait `retry-after` seconds (or
until `x-ratelimit-reset` when `x-ratelimit-remaining` is 0, or at least a minute); 5xx and
dropped connections are transient; any other 4xx will fail the same way again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final, Literal

import httpx

from bot.errors import AmbientError, GitHubError, GitHubRateLimited, PolicyDenied, Retryable

__all__ = [
    "BranchMoved",
    "BranchProtected",
    "Failure",
    "GitHubAuthFailed",
    "GitHubForbidden",
    "GitHubNotFound",
    "GitHubUnavailable",
    "GitHubUnprocessable",
    "RetryPolicy",
    "classify",
    "delay_before_retry",
    "error_for",
    "error_message",
    "retry_after_s",
    "whole_seconds_retry_after",
]

FailureKind = Literal["rate_limited", "server", "network", "client"]

# Waiting for a secondary limit without `retry-after`: "wait for at least one minute".
_SECONDARY_DEFAULT_WAIT_S: Final = 60.0


class GitHubAuthFailed(GitHubError):
    """401: the App's JWT or an installation token was refused."""


class GitHubForbidden(GitHubError):
    """403 (not a rate limit): the token lacks a permission or the repository."""


class GitHubNotFound(GitHubError):
    """404: the object does not exist, or is outside the token's repositories."""


class GitHubUnprocessable(GitHubError):
    """422 and other 4xx: GitHub understood the call and refused it."""


class BranchMoved(GitHubUnprocessable):
    """A fast-forward update was refused because the branch moved since we read it."""


class BranchProtected(GitHubUnprocessable, PolicyDenied):
    """GitHub refused a ref update because of branch protection or a ruleset."""


class GitHubUnavailable(Retryable):
    """GitHub answered 5xx or could not be reached, after every retry."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: `max_attempts` calls in all; longer rate-limit waits go to the queue."""

    max_attempts: int = 5
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_rate_limit_wait_s: float = 120.0


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed call: the HTTP status (None when no answer came), GitHub's message, headers."""

    status: int | None
    message: str
    headers: Mapping[str, str]

    @property
    def kind(self) -> FailureKind:
        return classify(self.status, self.headers, self.message)


def classify(status: int | None, headers: Mapping[str, str], message: str) -> FailureKind:
    """Sort a failure into rate limit, server error, network error, or client error."""
    if status is None:
        return "network"
    lowered = {k.lower(): v for k, v in headers.items()}
    if status == 429:
        return "rate_limited"
    if status == 403 and (
        "retry-after" in lowered
        or lowered.get("x-ratelimit-remaining") == "0"
        or "rate limit" in message.lower()
    ):
        return "rate_limited"
    return "server" if status >= 500 else "client"


def retry_after_s(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds GitHub asked us to wait, from `retry-after` or `x-ratelimit-reset`; None if unsaid.

    `now` is the current Unix time (for `x-ratelimit-reset` and HTTP-date values).
    """
    lowered = {k.lower(): v.strip() for k, v in headers.items()}
    value = lowered.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                return None
    if lowered.get("x-ratelimit-remaining") == "0" and lowered.get("x-ratelimit-reset"):
        try:
            return max(0.0, float(lowered["x-ratelimit-reset"]) - now)
        except ValueError:
            return None
    return None


def delay_before_retry(
    failure: Failure, attempt: int, policy: RetryPolicy, now: float
) -> float | None:
    """Seconds to wait before try number `attempt + 1`, or None to stop trying.

    `attempt` counts the calls made so far (1 after the first failure).
    """
    kind = failure.kind
    if kind == "client" or attempt >= policy.max_attempts:
        return None
    asked = retry_after_s(failure.headers, now)
    if kind == "rate_limited":
        wait = _SECONDARY_DEFAULT_WAIT_S if asked is None else asked
        return wait if wait <= policy.max_rate_limit_wait_s else None
    backoff = min(policy.max_delay_s, policy.base_delay_s * 2.0 ** (attempt - 1))
    return backoff if asked is None else min(max(asked, backoff), policy.max_rate_limit_wait_s)


_HINTS: Final[Mapping[int, str]] = {
    401: "check AMBIENT_GITHUB_APP_ID and the App's private key",
    403: "the App lacks a permission this call needs, or the repository is outside its token",
    404: "it does not exist, or the App is not installed on the repository",
}


def _reason(failure: Failure) -> str:
    message = " ".join(failure.message.split()) or "no message"
    status = "no answer" if failure.status is None else str(failure.status)
    hint = _HINTS.get(failure.status or 0)
    return f"{status} {message}" + (f" ({hint})" if hint else "")


def error_for(call: str, repo: str, failure: Failure, now: float) -> AmbientError:
    """The one error to raise for a failure we will not retry (any more), naming call and repo."""
    where = f"GitHub {call} on {repo}"
    kind = failure.kind
    if kind == "rate_limited":
        asked = retry_after_s(failure.headers, now)
        wait = _SECONDARY_DEFAULT_WAIT_S if asked is None else asked
        return GitHubRateLimited(f"{where}: rate limited; retry in {wait:.0f}s", wait)
    if kind in ("server", "network"):
        return GitHubUnavailable(f"{where} failed: {_reason(failure)}")
    lowered = failure.message.lower()
    if "fast forward" in lowered or "fast-forward" in lowered:
        return BranchMoved(f"{where}: the branch moved (not a fast forward)")
    if "protected branch" in lowered or "rule violation" in lowered:
        return BranchProtected(f"{where}: refused by branch protection or a ruleset")
    error_type: type[GitHubError] = {
        401: GitHubAuthFailed,
        403: GitHubForbidden,
        404: GitHubNotFound,
    }.get(failure.status or 0, GitHubUnprocessable)
    return error_type(f"{where} failed: {_reason(failure)}")


def error_message(response: httpx.Response) -> str:
    """GitHub's error message, with the details of a 422's `errors` list."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if not isinstance(body, Mapping):
        return ""
    parts = [str(body.get("message", ""))]
    for error in body.get("errors") or ():
        detail = error.get("message") or error.get("code") if isinstance(error, Mapping) else error
        if detail:
            parts.append(str(detail))
    return "; ".join(p for p in parts if p)


async def whole_seconds_retry_after(response: httpx.Response) -> None:
    """httpx response hook: rewrite a fractional or HTTP-date `retry-after` to whole seconds.

    githubkit parses the header with int(); HTTP also allows fractions and dates (a proxy in
    front of GitHub Enterprise may send them), which would crash the call instead.
    """
    value = response.headers.get("retry-after")
    if value is None or value.strip().isdigit():
        return
    seconds = retry_after_s({"retry-after": value}, time.time())
    response.headers["retry-after"] = str(math.ceil(seconds if seconds is not None else 60.0))
