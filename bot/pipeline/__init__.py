"""The one flow every proposal takes: apply, verify, secret-scan and gate it in its own worktree,
then hand it to a publisher; with the checks that verify a repository and the run's report.
"""

from __future__ import annotations

from bot.pipeline.checks import CONFIG_PATH, detected_checks, read_checks
from bot.pipeline.environment import Environments, Prepared, SetupOptions
from bot.pipeline.gates import Timings, gate_options, pass_gates
from bot.pipeline.process import (
    Outcome,
    PipelineConfig,
    Publication,
    Report,
    SetupChoice,
    artifacts_discarded,
    checked,
    checks_for,
    finish,
    process,
    tally,
)
from bot.pipeline.view import render_json, render_terminal

__all__ = [
    "CONFIG_PATH",
    "Environments",
    "Outcome",
    "PipelineConfig",
    "Prepared",
    "Publication",
    "Report",
    "SetupChoice",
    "SetupOptions",
    "Timings",
    "artifacts_discarded",
    "checked",
    "checks_for",
    "detected_checks",
    "finish",
    "gate_options",
    "pass_gates",
    "process",
    "read_checks",
    "render_json",
    "render_terminal",
    "tally",
]
