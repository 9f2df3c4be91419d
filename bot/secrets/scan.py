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

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.core.scan import get_filters_with_parameter
from detect_secrets.settings import get_plugins, get_settings, transient_settings
from detect_secrets.util.code_snippet import get_code_snippet
from detect_secrets.util.inject import call_function_with_arguments, get_injectable_variables

from bot.errors import SecretFound
from bot.secrets.diff import FileAdditions, parse_additions
from bot.secrets.kubernetes import manifest_value_lines, secret_values
from bot.secrets.loading import once_per_path
from bot.secrets.plugins import custom_plugin_names, gate_config
from bot.secrets.prefilter import LiteralGate

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
    """One secret: where it is and what kind, identified by a hash and never by its value.

    `rule` names the rule that fired (`gitleaks:<id>`, `detect-secrets:<plugin>` or
    `ambient:<plugin>`) and `why` says in one sentence why it counted; neither takes part in
    equality, so a finding is the same finding whichever rule named it.
    """

    file: str
    line: int
    type: str
    hashed_secret: str
    rule: str = field(default="", compare=False)
    why: str = field(default="", compare=False)

    def describe(self) -> str:
        """`path:line: type (sha1 0123456789ab)`, safe to show anywhere."""
        return f"{self.file}:{self.line}: {self.type} (sha1 {self.hashed_secret[:12]})"

    def explain(self) -> str:
        """`describe()` plus the rule and the reason, for a person deciding what to do."""
        return f"{self.describe()} [{self.rule}: {self.why}]" if self.rule else self.describe()


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
                {
                    "file": f.file,
                    "line": f.line,
                    "type": f.type,
                    "hashed_secret": f.hashed_secret,
                    "rule": f.rule,
                    "why": f.why,
                }
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
        bound = [_BoundPlugin.of(plugin) for plugin in plugins]
        gate = LiteralGate.of(plugins)
        for item in files:
            if _filtered(["filename"], filename=item.path):
                continue
            files_scanned += 1
            lines_scanned += len(item.lines)
            found.update(_defer_to_manifest(item, _scan_file(item, bound, gate)))
            found.update(_kubernetes_secrets(item))
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


def _specificity(finding: Finding) -> tuple[int, str, str]:
    """Vendor formats of detect-secrets and Ambient first, then gitleaks' vendor rules, then
    the guesses (keyword and entropy rules of either)."""
    if finding.type in _GUESSED_TYPES or finding.rule.startswith("gitleaks:generic"):
        rank = 2
    else:
        rank = 1 if finding.rule.startswith("gitleaks:") else 0
    return rank, finding.type, finding.rule


def _one_per_secret(found: set[Finding]) -> tuple[Finding, ...]:
    """One finding per (file, line, secret), named by the most specific plugin."""
    best: dict[tuple[str, int, str], Finding] = {}
    for finding in sorted(found, key=_specificity):
        best.setdefault((finding.file, finding.line, finding.hashed_secret), finding)
    return tuple(sorted(best.values(), key=lambda f: (f.file, f.line, f.type, f.hashed_secret)))


@contextmanager
def _scan_settings(config: Mapping[str, Any]) -> Iterator[None]:
    """detect-secrets' `transient_settings(config)`, with Ambient's plugins registered."""
    with once_per_path(), transient_settings(dict(config)):
        # The built-in scan always drops files missing on disk; the gate scans diff text.
        get_settings().disable_filters("detect_secrets.filters.common.is_invalid_file")
        plugins: Mapping[str, type] = get_mapping_from_secret_type_to_class()
        known = {plugin.__name__ for plugin in plugins.values()}
        if not set(custom_plugin_names()) <= known:
            # The map is cached once per process and would miss plugins loaded by path.
            get_mapping_from_secret_type_to_class.cache_clear()
        get_plugins.cache_clear()
        yield


_LINE_ARGUMENTS = frozenset({"filename", "line", "line_number", "context"})


@dataclass(frozen=True, slots=True)
class _BoundPlugin:
    """A plugin with the `analyze_line` arguments it asks for, worked out once per scan.

    detect-secrets' `call_function_with_arguments` inspects the signature on every call; with
    some 45 plugins that was a third of a whole-repository scan. Passing the same subset of
    arguments directly gives the same call.
    """

    plugin: Any
    arguments: frozenset[str]

    @classmethod
    def of(cls, plugin: Any) -> _BoundPlugin:
        method = plugin.analyze_line
        names = set(get_injectable_variables(method.__func__)) & _LINE_ARGUMENTS
        return cls(plugin, frozenset(names))

    def analyze_line(self, **available: Any) -> Any:
        return self.plugin.analyze_line(**{k: available[k] for k in self.arguments})


def _scan_file(
    item: FileAdditions, bound: Sequence[_BoundPlugin], gate: LiteralGate
) -> Iterator[Finding]:
    """The findings on the file's added lines, each plugin run where `gate` says it may find
    something."""
    texts = [text.rstrip() for _, text in item.lines]
    for index, (number, raw) in enumerate(item.lines):
        line = raw.rstrip()
        context = get_code_snippet(lines=texts, line_number=index + 1)
        if _filtered(["line"], filename=item.path, line=line, context=context):
            continue
        for binding, runs in zip(bound, gate.runners(line), strict=True):
            if not runs:
                continue
            plugin = binding.plugin
            for potential in binding.analyze_line(
                filename=item.path, line=line, line_number=number, context=context
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
                rule, why = _rule_and_reason(plugin, potential)
                yield Finding(item.path, number, potential.type, potential.secret_hash, rule, why)


# Guesses added with the rule set that a Secret manifest's decoded value overrules.
_DEFERRING_RULES = ("ambient:PlainPasswordDetector", "gitleaks:generic")


def _defer_to_manifest(item: FileAdditions, found: Iterator[Finding]) -> Iterator[Finding]:
    """Drop the newer guesses on a Secret manifest's value lines: the decoded value decides
    there (`password: Y2hhbmdlbWU=` is `changeme`). The older plugins keep their say."""
    judged = manifest_value_lines(item.lines)
    for finding in found:
        if finding.line not in judged or not finding.rule.startswith(_DEFERRING_RULES):
            yield finding


def _kubernetes_secrets(item: FileAdditions) -> Iterator[Finding]:
    """Values of a Kubernetes Secret manifest, decoded, that are not placeholders."""
    from bot.secrets.plugins.filters import is_filler, is_placeholder

    for value in secret_values(item.lines, lambda v: is_placeholder(v) or is_filler(v)):
        how = "base64-decoded value" if value.encoded else "value"
        yield Finding(
            item.path,
            value.line,
            "Kubernetes Secret Data",
            PotentialSecret.hash_secret(value.value),
            "ambient:kubernetes-secret",
            f"{how} of key {value.key!r} in a manifest of kind Secret",
        )


def _rule_and_reason(plugin: Any, potential: Any) -> tuple[str, str]:
    """The rule that fired and why, from the plugin (or what it attached to the finding)."""
    name = type(plugin).__name__
    if hasattr(potential, "ambient_rule"):
        return str(potential.ambient_rule), str(potential.ambient_why)
    origin = "detect-secrets" if type(plugin).__module__.startswith("detect_secrets") else "ambient"
    if hasattr(plugin, "entropy_limit"):
        return f"{origin}:{name}", (
            f"a {plugin.secret_type.lower()} in a quoted string, entropy above "
            f"{plugin.entropy_limit:g} bits per character"
        )
    if origin == "detect-secrets":
        return f"{origin}:{name}", f"matches detect-secrets' {plugin.secret_type} rule"
    doc = " ".join((type(plugin).__doc__ or plugin.secret_type).split())
    clause = re.split(r"[:.;(]", doc, maxsplit=1)[0].strip()
    return f"{origin}:{name}", f"matches Ambient's rule for {clause}"


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
