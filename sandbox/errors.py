"""The sandbox's own failures, apart from `base` so that its helpers raise them too."""

from __future__ import annotations

from bot.errors import Permanent, Retryable, SandboxError

__all__ = ["SandboxBackendFailed", "SandboxUnavailable"]


class SandboxUnavailable(SandboxError, Permanent):
    """This backend cannot run here (missing binary, image, runtime or cgroup)."""


class SandboxBackendFailed(SandboxError, Retryable):
    """The backend failed while running a command (engine error); the job may be retried."""
