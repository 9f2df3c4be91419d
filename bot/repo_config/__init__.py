"""The per-repository config `.github/ambient.yml`: its model, loading from the default branch,
its problems reported per key, and its generated reference.
"""

from __future__ import annotations

from bot.repo_config.load import (
    CONFIG_PATHS,
    ConfigOutcome,
    Problem,
    json_schema,
    load_repo_config_file,
    parse_repo_config,
    repo_config_table,
)
from bot.repo_config.model import RepoConfig

__all__ = [
    "CONFIG_PATHS",
    "ConfigOutcome",
    "Problem",
    "RepoConfig",
    "json_schema",
    "load_repo_config_file",
    "parse_repo_config",
    "repo_config_table",
]
