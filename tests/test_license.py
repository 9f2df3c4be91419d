"""The MIT licence ships: the file, the project metadata that names it, and the installed
distribution's metadata, which carries its text.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import distributions
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).parent.parent
LICENSE = ROOT / "LICENSE"


def test_the_licence_file_is_the_mit_licence() -> None:
    text = LICENSE.read_text()
    assert text.startswith("MIT License\n\nCopyright (c) 2026 The Ambient authors\n")
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def test_pyproject_names_the_licence_and_a_backend_that_understands_it() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["license"] == "MIT"
    assert data["project"]["license-files"] == ["LICENSE"]
    # A licence expression and license-files (PEP 639) need setuptools 77 or later; an older
    # one rejects `license = "MIT"` outright.
    (backend,) = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    allowed = SpecifierSet(re.sub(r"^setuptools\s*", "", backend))
    assert "76.1" not in allowed
    assert "77.0.3" in allowed


def test_the_installed_distribution_carries_the_licence() -> None:
    # What `pip install` made of pyproject.toml: a stale install is refreshed by `make venv`,
    # which reinstalls whenever pyproject.toml changes. Only an installed wheel's .dist-info
    # has a WHEEL file (the ambient.egg-info a build leaves in the checkout has none), and one
    # install is found once per time its directory is on sys.path: keyed by its RECORD.
    installed = {
        d.read_text("RECORD"): d for d in distributions(name="ambient") if d.read_text("WHEEL")
    }
    (dist,) = installed.values()
    assert dist.metadata["License-Expression"] == "MIT"
    assert dist.metadata.get_all("License-File") == ["LICENSE"]
    shipped = [f for f in dist.files or () if f.name == "LICENSE" and "licenses" in f.parts]
    assert len(shipped) == 1, dist.files
    assert shipped[0].read_text() == LICENSE.read_text()
