"""The secret gate: detect-secrets over the lines a diff adds, with Ambient's plugins."""

from __future__ import annotations

from bot.secrets.diff import parse_additions
from bot.secrets.scan import Finding, ScanReport, scan_diff_text

__all__ = ["Finding", "ScanReport", "parse_additions", "scan_diff_text"]
