"""Documentation generated from code must equal what the code generates now."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cli.settings_doc import settings_table

DOCS = Path(__file__).parent.parent / "docs"
TESTS = Path(__file__).parent


def test_the_settings_table_in_the_installation_guide_is_current() -> None:
    text = (DOCS / "installation.md").read_text()
    begin = text.index("<!-- settings:begin -->\n") + len("<!-- settings:begin -->\n")
    end = text.index("<!-- settings:end -->")
    assert text[begin:end] == settings_table(), "regenerate with `ambient config env`"


def test_every_test_the_security_model_names_exists() -> None:
    text = (DOCS / "security.md").read_text()
    named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", text)
    files = re.findall(r"`(test_\w+\.py)(?:::\w+)?`", text)
    bare = re.findall(r"`(test_\w+)`", text)
    assert named
    assert bare
    every_test = "\n".join(path.read_text() for path in TESTS.glob("test_*.py"))
    missing = [f for f in files if not (TESTS / f).exists()]
    for module, function in named:
        source = (TESTS / module).read_text()
        if not re.search(rf"^(async )?def {function}\(", source, re.MULTILINE):
            missing.append(f"{module}::{function}")
    missing += [f for f in bare if not re.search(rf"^(async )?def {f}\(", every_test, re.M)]
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
