"""The one gateway to GitHub: the App's client and narrowed installation tokens, reads and
writes of one repository, retries, the values they return, CODEOWNERS and branch rules, and
the App's manifest and registration.
"""

from __future__ import annotations

from bot.github.branch_policy import BranchPolicy
from bot.github.client import GitHubApp, InstallationClient
from bot.github.codeowners import Reviewers
from bot.github.manifest import ALWAYS_SENT, EVENTS, api_url_for
from bot.github.registration import CreateOptions, register_app
from bot.github.retry import BranchMoved, GitHubNotFound
from bot.github.values import (
    CheckRunOutput,
    CheckRunRef,
    Delivery,
    Issue,
    JobLog,
    PullRequest,
    hidden_marker,
)

__all__ = [
    "ALWAYS_SENT",
    "EVENTS",
    "BranchMoved",
    "BranchPolicy",
    "CheckRunOutput",
    "CheckRunRef",
    "CreateOptions",
    "Delivery",
    "GitHubApp",
    "GitHubNotFound",
    "InstallationClient",
    "Issue",
    "JobLog",
    "PullRequest",
    "Reviewers",
    "api_url_for",
    "hidden_marker",
    "register_app",
]
