"""The error tree: every error Ambient raises on purpose is an `AmbientError`.

`Retryable` errors are transient (a rate limit, a 5xx, a lost Redis connection) and a job
that meets one is retried later; `Permanent` errors are reported once and never retried.
Each message is one line that says what was wrong and where, and, when a self-hoster can
fix it, what to do.
"""

from __future__ import annotations

__all__ = [
    "AmbientError",
    "ConfigError",
    "GitHubError",
    "GitHubRateLimited",
    "PatchDoesNotApply",
    "PathNotAllowed",
    "Permanent",
    "PolicyDenied",
    "QueueUnavailable",
    "Retryable",
    "SandboxError",
    "SandboxTimeout",
    "SecretFound",
    "SignatureInvalid",
    "WebhookMalformed",
]


class AmbientError(Exception):
    """Root of Ambient's own errors."""


class Retryable(AmbientError):
    """A transient failure: the job may succeed if run again later."""


class Permanent(AmbientError):
    """A failure that retrying cannot fix; report it and stop."""


class ConfigError(Permanent):
    """A setting or a repository config is missing or malformed."""


class SignatureInvalid(Permanent):
    """A webhook's X-Hub-Signature-256 is missing, malformed, or does not match."""


class WebhookMalformed(Permanent):
    """A webhook body or header cannot be understood."""


class QueueUnavailable(Retryable):
    """Redis cannot be reached."""


class GitHubError(Permanent):
    """GitHub refused a call (401/403/404/422); the message names the call and the repo."""


class GitHubRateLimited(Retryable):
    """GitHub asked us to slow down (429 or a secondary rate limit)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PatchDoesNotApply(Permanent):
    """A patch could not be applied; the worktree is unchanged."""


class PathNotAllowed(Permanent):
    """A patch or a model named a path outside the worktree or on the forbidden list."""


class SecretFound(Permanent):
    """The secret gate found a secret in the added lines of a diff."""


class PolicyDenied(Permanent):
    """A policy (permissions, branch protection, limits) forbids the action."""


class SandboxError(AmbientError):
    """The sandbox could not run a command (refused by policy, backend failure)."""


class SetupFailed(Permanent):
    """The repository's environment could not be set up, so its checks could not run."""


class SandboxTimeout(SandboxError, TimeoutError):
    """A sandboxed command outlived its wall-clock timeout and was killed."""
