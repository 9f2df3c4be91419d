"""Import each plugin or filter file that detect-secrets loads by path once per process.

detect-secrets imports a `file://` plugin file once per plugin entry that names it (its
`get_mapping_from_secret_type_to_class` loops over `plugins_used`) and a filter file once per
filter, re-running every module body with its regexes: about 0.1 s of CPU at each start of
`ambient scan-diff` with Ambient's 30-odd entries. `once_per_path()` puts a memo in front of
its importer, only while the gate's scan holds the lock, and takes it away after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from detect_secrets import settings as _settings
from detect_secrets.core.plugins import util as _plugin_util
from detect_secrets.util import importlib as _importlib

__all__ = ["once_per_path"]

_MODULES: dict[str, ModuleType] = {}
_IMPORTERS = (_settings, _plugin_util)


def _import_once(filename: str, name: str | None = None) -> ModuleType:
    if filename not in _MODULES:
        _MODULES[filename] = _importlib.import_file_as_module(filename, name)
    return _MODULES[filename]


@contextmanager
def once_per_path() -> Iterator[None]:
    """While inside, detect-secrets' path imports are memoized (callers hold the scan lock)."""
    for module in _IMPORTERS:
        module.import_file_as_module = _import_once  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in _IMPORTERS:
            module.import_file_as_module = _importlib.import_file_as_module  # type: ignore[attr-defined]
