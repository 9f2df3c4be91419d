"""The secret gate: scan the lines a diff adds with detect-secrets, report without the values.

The gate runs detect-secrets' plugins and filters (with Ambient's own, see
`bot.secrets.plugins`) over each added line itself instead of calling `scan_diff`, so it needs
no working directory and files need not exist on disk. detect-secrets keeps its settings in
process-wide state, so every scan holds one lock; a scan is CPU-bound and synchronous, and
asyncio callers run it with `asyncio.to_thread`.

A `Finding` names file, line, secret type and the SHA-1 that detect-secrets' baselines use;
the value itself is dropped as soon as it is hashed and is never stored, logged or printed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.scan import get_filters_with_parameter
from detect_secrets.settings import get_plugins, get_settings, transient_settings
from detect_secrets.util.code_snippet import get_code_snippet
from detect_secrets.util.inject import call_function_with_arguments

from bot.errors import SecretFound
from bot.secrets.diff import FileAdditions, parse_additions
from bot.secrets.plugins import custom_plugin_names, gate_config

__all__ = [
    "Finding",
    "ScanReport",
    "SecretsInDiff",
    "scan_additions",
    "scan_diff_text",
]

# detect-secrets' settings, plugin and filter caches are module globals: one scan at a time.
_LOCK = threading.Lock()
# The post-image of a binary-marked file is scanned only up to this size.
_MAX_BINARY_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Finding:
    """One secret: where it is and what kind, identified by a hash and never by its value."""

    file: str
    line: int
    type: str
    hashed_secret: str

    def describe(self) -> str:
        """`path:line: type (sha1 0123456789ab)`, safe to show anywhere."""
        return f"{self.file}:{self.line}: {self.type} (sha1 {self.hashed_secret[:12]})"


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What the gate saw: findings, how much it scanned, and files it could not read."""

    findings: tuple[Finding, ...]
    files_scanned: int
    lines_scanned: int
    unscanned: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        """True when no secret was found (files in `unscanned` are the caller's policy)."""
        return not self.findings

    def summary(self) -> str:
        """One line for logs, comments and errors."""
        if self.clean:
            return f"no secrets in {self.lines_scanned} added lines of {self.files_scanned} files"
        where = ", ".join(f"{f.file}:{f.line} ({f.type})" for f in self.findings[:5])
        more = f" and {len(self.findings) - 5} more" if len(self.findings) > 5 else ""
        return f"{len(self.findings)} possible secrets in the diff: {where}{more}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (hashes, never values)."""
        return {
            "clean": self.clean,
            "files_scanned": self.files_scanned,
            "lines_scanned": self.lines_scanned,
            "unscanned": list(self.unscanned),
            "findings": [
                {"file": f.file, "line": f.line, "type": f.type, "hashed_secret": f.hashed_secret}
                for f in self.findings
            ],
        }

    def raise_for_findings(self) -> None:
        """Raise `SecretsInDiff` if anything was found; publication must stop then."""
        if not self.clean:
            raise SecretsInDiff(self)


class SecretsInDiff(SecretFound):
    """The secret gate blocked a diff; `report` holds the findings (hashes only)."""

    def __init__(self, report: ScanReport) -> None:
        super().__init__(f"secret gate: {report.summary()}")
        self.report = report


def scan_diff_text(
    diff_text: str,
    worktree: Path | None = None,
    *,
    config: Mapping[str, Any] | None = None,
) -> ScanReport:
    """Scan the lines `diff_text` adds; never raises on what it finds (see `raise_for_findings`).

    `worktree` is the checkout the diff was applied to: files the diff marks as binary are then
    read from it and scanned whole; without it they are listed in `ScanReport.unscanned`.
    `config` replaces the gate's detect-secrets settings (the benchmark's baseline uses it).
    Synchronous and CPU-bound: call it through `asyncio.to_thread` from async code.
    """
    additions = parse_additions(diff_text)
    readable: list[FileAdditions] = []
    unscanned: list[str] = []
    for item in additions:
        if not item.binary:
            readable.append(item)
            continue
        post_image = _read_post_image(worktree, item.path)
        if post_image is None:
            unscanned.append(item.path)
        else:
            readable.append(post_image)
    report = scan_additions(readable, config=config)
    return ScanReport(
        findings=report.findings,
        files_scanned=report.files_scanned,
        lines_scanned=report.lines_scanned,
        unscanned=tuple(unscanned),
    )


def scan_additions(
    files: Sequence[FileAdditions], *, config: Mapping[str, Any] | None = None
) -> ScanReport:
    """Scan already-parsed added lines with the gate's (or the given) detect-secrets settings."""
    found: set[Finding] = set()
    files_scanned = lines_scanned = 0
    with _LOCK, _scan_settings(config if config is not None else gate_config()):
        plugins = get_plugins()
        for item in files:
            if _filtered(["filename"], filename=item.path):
                continue
            files_scanned += 1
            lines_scanned += len(item.lines)
            found.update(_scan_file(item, plugins))
    return ScanReport(
        findings=_one_per_secret(found), files_scanned=files_scanned, lines_scanned=lines_scanned
    )


# Types that say less than a vendor type; a secret found by both is reported by the latter.
_GUESSED_TYPES = frozenset(
    {
        "Base64 High Entropy String",
        "Hex High Entropy String",
        "Secret Keyword",
        "Secret Keyword Assignment",
        "Password Assignment",
        "Basic Auth Credentials",
        "URL Credentials",
    }
)


def _one_per_secret(found: set[Finding]) -> tuple[Finding, ...]:
    """One finding per (file, line, secret), named by the most specific plugin."""
    best: dict[tuple[str, int, str], Finding] = {}
    for finding in sorted(found, key=lambda f: (f.type in _GUESSED_TYPES, f.type)):
        best.setdefault((finding.file, finding.line, finding.hashed_secret), finding)
    return tuple(sorted(best.values(), key=lambda f: (f.file, f.line, f.type, f.hashed_secret)))


@contextmanager
def _scan_settings(config: Mapping[str, Any]) -> Iterator[None]:
    """detect-secrets' `transient_settings(config)`, with Ambient's plugins registered."""
    with transient_settings(dict(config)):
        # The built-in scan always drops files missing on disk; the gate scans diff text.
        get_settings().disable_filters("detect_secrets.filters.common.is_invalid_file")
        plugins: Mapping[str, type] = get_mapping_from_secret_type_to_class()
        known = {plugin.__name__ for plugin in plugins.values()}
        if not set(custom_plugin_names()) <= known:
            # The map is cached once per process and would miss plugins loaded by path.
            get_mapping_from_secret_type_to_class.cache_clear()
        get_plugins.cache_clear()
        yield


def _scan_file(item: FileAdditions, plugins: Sequence[Any]) -> Iterator[Finding]:
    texts = [text.rstrip() for _, text in item.lines]
    for index, (number, raw) in enumerate(item.lines):
        line = raw.rstrip()
        context = get_code_snippet(lines=texts, line_number=index + 1)
        if _filtered(["line"], filename=item.path, line=line, context=context):
            continue
        for plugin in plugins:
            for potential in call_function_with_arguments(
                plugin.analyze_line,
                filename=item.path,
                line=line,
                line_number=number,
                context=context,
            ):
                secret = potential.secret_value
                if _filtered(
                    ["secret"], filename=item.path, secret=secret, plugin=plugin, line=line
                ) or _filtered(
                    ["context"],
                    filename=item.path,
                    secret=secret,
                    plugin=plugin,
                    line=line,
                    context=context,
                ):
                    continue
                yield Finding(item.path, number, potential.type, potential.secret_hash)


def _filtered(parameters: list[str], **kwargs: Any) -> bool:
    """detect-secrets' filter pass, minus its debug logging (which could carry the value)."""
    for filter_fn in get_filters_with_parameter(*parameters):
        try:
            if call_function_with_arguments(filter_fn, **kwargs):
                return True
        except TypeError:
            # A filter that needs an argument this stage does not have runs at a later stage.
            continue
    return False


def _read_post_image(worktree: Path | None, path: str) -> FileAdditions | None:
    """A binary-marked file's whole new content as added lines, if it is safe and small."""
    if worktree is None:
        return None
    root = worktree.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return None
    if target.stat().st_size > _MAX_BINARY_BYTES:
        return None
    text = target.read_bytes().decode("utf-8", "replace").replace("\x00", "\n")
    lines = tuple(enumerate(text.splitlines(), start=1))
    return FileAdditions(path=path, lines=lines)
