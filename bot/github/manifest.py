"""The GitHub App manifest (`app.yml`): what Ambient asks GitHub for, and why. Pure.

`PERMISSIONS` and `EVENTS` name the feature behind every permission and event; tests hold
`app.yml` to them, to the events the router handles and to the permissions the jobs ask their
installation tokens for, and the installation guide's table is generated from them.
`build_manifest` fills in what only `ambient app create` knows: the webhook URL and its own
redirect URL.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote, urlsplit

import yaml

from bot.errors import ConfigError

__all__ = [
    "ALWAYS_SENT",
    "EVENTS",
    "PERMISSIONS",
    "Need",
    "api_url_for",
    "build_manifest",
    "events_table",
    "find_app_yml",
    "load_app_yml",
    "manifest_json",
    "permissions_table",
    "registration_url",
]


@dataclass(frozen=True, slots=True)
class Need:
    """One permission at the level a feature needs, and the calls that need it."""

    level: Literal["read", "write"]
    why: str


#: Derived from the REST routes in bot/github/repo.py, writes.py and client.py.
PERMISSIONS: Final[Mapping[str, Need]] = {
    "contents": Need(
        "write",
        "clone over HTTPS; read `.github/ambient.yml` and CODEOWNERS; create the blobs, trees, "
        "commits and branches of a fix (commits made through the API are signed by GitHub); "
        "the `push` event",
    ),
    "pull_requests": Need(
        "write",
        "read the pull request to fix and its files; open fix, sweep and task pull requests; "
        "request CODEOWNERS reviews; label pull requests; reply to review comments; the "
        "`pull_request_review` and `pull_request_review_comment` events",
    ),
    "issues": Need(
        "write",
        "reply to `@app` comments and react to them; read the issue a task comes from; open "
        "and update the quality dashboard issue; the `issue_comment` and `issues` events",
    ),
    "checks": Need(
        "write",
        "the `Ambient fix` check run on a fix's commit; read a commit's failed check runs to "
        "find their logs; the `check_suite` event",
    ),
    "actions": Need(
        "read",
        "download the logs of failed Actions jobs; the `workflow_run` event",
    ),
    "metadata": Need(
        "read",
        "the repository, its branches and rulesets, and a commenter's role on it "
        "(GitHub grants it to every App)",
    ),
}

#: Every event `app.yml` subscribes to, and the handler that acts on it.
EVENTS: Final[Mapping[str, str]] = {
    "issue_comment": "`@app fix`, `@app sweep` and help replies (handlers/comment.py); "
    "`@app <instructions>` on an issue (handlers/issue_task.py)",
    "issues": "ticked boxes on the quality dashboard issue (handlers/sweep.py); an issue "
    "opened with `@app`, assigned to the App or given the `tasks.label` label becomes a pull "
    "request (handlers/issue_task.py)",
    "check_suite": "a failed check suite becomes a fix pull request (handlers/ci_failure.py)",
    "workflow_run": "a failed Actions run becomes a fix pull request (handlers/ci_failure.py)",
    "push": "pushes to the default branch mark the files the sweep looks at (handlers/sweep.py)"
    " and reverts of Ambient's merged PRs (handlers/outcomes.py)",
    "pull_request": "Ambient's PRs closed, merged or reopened: counted, and a rejected "
    "proposal is not proposed again (handlers/outcomes.py)",
    "pull_request_review": "a review requesting changes on one of Ambient's pull requests "
    "starts a follow-up commit (handlers/review.py)",
    "pull_request_review_comment": "review comments on one of Ambient's pull requests start a "
    "follow-up commit, and each is answered in its thread (handlers/review.py)",
}

#: Sent to every App whatever it subscribes to; GitHub refuses them in `default_events`.
ALWAYS_SENT: Final = frozenset({"installation", "installation_repositories"})

_KEYS: Final = frozenset(
    {
        "name",
        "description",
        "url",
        "public",
        "hook_attributes",
        "default_permissions",
        "default_events",
        "setup_url",
        "setup_on_update",
        "callback_urls",
        "request_oauth_on_install",
    }
)
_LEVELS: Final = frozenset({"read", "write", "admin"})
_CHECKOUT: Final = Path(__file__).resolve().parents[2]


def find_app_yml(explicit: Path | None = None) -> Path:
    """The manifest to use: `explicit`, else the checkout's `app.yml`, else the installed copy.

    An installed package finds it in `<prefix>/share/ambient/app.yml` when the wheel ships it
    there; otherwise `ConfigError` asks for `--manifest`.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: no such manifest file")
        return explicit
    for candidate in (_CHECKOUT / "app.yml", Path(sys.prefix) / "share" / "ambient" / "app.yml"):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        "app.yml not found beside this installation: pass --manifest with the app.yml from "
        "Ambient's source"
    )


def _check_permissions(where: str, value: object) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: default_permissions must map permission names to levels")
    for name, level in value.items():
        if not isinstance(name, str) or level not in _LEVELS:
            raise ConfigError(f"{where}: default_permissions.{name} must be read, write or admin")


def _check_events(where: str, value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(e, str) for e in value):
        raise ConfigError(f"{where}: default_events must be a list of event names")
    refused = sorted(ALWAYS_SENT.intersection(value))
    if refused:
        raise ConfigError(
            f"{where}: default_events may not name {', '.join(refused)}: GitHub sends "
            "installation events to every App and refuses them in a manifest"
        )


def load_app_yml(text: str, where: str = "app.yml") -> dict[str, Any]:
    """Parse and check a manifest template; `ConfigError` names the field that is wrong."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: must be a mapping of manifest fields")
    unknown = sorted(str(k) for k in document if k not in _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown manifest field {unknown[0]}")
    if not isinstance(document.get("name"), str) or not document["name"].strip():
        raise ConfigError(f"{where}: name must be the App's name")
    hook = document.get("hook_attributes", {})
    if not isinstance(hook, dict):
        raise ConfigError(f"{where}: hook_attributes must be a mapping")
    _check_permissions(where, document.get("default_permissions", {}))
    _check_events(where, document.get("default_events", []))
    return document


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{what} must be an http:// or https:// URL, not {value!r}")
    return value


def build_manifest(
    template: Mapping[str, Any],
    *,
    webhook_url: str,
    redirect_url: str,
    name: str | None = None,
) -> dict[str, Any]:
    """The manifest to POST to GitHub: the template with the run's URLs (and name) filled in."""
    _http_url(webhook_url, "--webhook-url")
    manifest = dict(template)
    if name is not None:
        if not name.strip():
            raise ConfigError("--name must not be blank")
        manifest["name"] = name.strip()
    hook = dict(manifest.get("hook_attributes") or {})
    hook["url"] = webhook_url
    hook.setdefault("active", True)
    manifest["hook_attributes"] = hook
    if not manifest.get("url"):
        # GitHub requires a homepage; the receiver's origin is the one URL known to be the App's.
        parts = urlsplit(webhook_url)
        manifest["url"] = f"{parts.scheme}://{parts.netloc}"
    manifest["redirect_url"] = redirect_url
    return manifest


def registration_url(github_url: str, org: str | None, state: str) -> str:
    """Where the browser POSTs the manifest: the account's (or `org`'s) new-App page."""
    base = _http_url(github_url, "--github-url").rstrip("/")
    where = f"/organizations/{quote(org, safe='')}" if org else ""
    return f"{base}{where}/settings/apps/new?state={quote(state, safe='')}"


def api_url_for(github_url: str) -> str:
    """The REST API beside a GitHub web URL: api.github.com, or HOST/api/v3 (Enterprise Server)."""
    parts = urlsplit(_http_url(github_url, "--github-url"))
    if parts.netloc.lower() in ("github.com", "www.github.com"):
        return "https://api.github.com"
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/api/v3"


def manifest_json(manifest: Mapping[str, Any]) -> str:
    """The manifest as the JSON text of the form field GitHub reads."""
    return json.dumps(manifest, separators=(",", ":"), sort_keys=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def permissions_table() -> str:
    """The Markdown table of permissions, levels and the features that need them."""
    rows = [(f"`{name}`", need.level, need.why) for name, need in PERMISSIONS.items()]
    return _table(("permission", "level", "what needs it"), rows)


def events_table() -> str:
    """The Markdown table of subscribed events and what acts on them."""
    rows = [(f"`{name}`", why) for name, why in EVENTS.items()]
    return _table(("event", "what acts on it"), rows)
