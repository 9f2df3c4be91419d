"""Documentation generated from code must equal what the code generates now."""

from __future__ import annotations

from pathlib import Path

from bot.settings_doc import settings_table

DOCS = Path(__file__).parent.parent / "docs"


def test_the_settings_table_in_the_installation_guide_is_current() -> None:
    text = (DOCS / "installation.md").read_text()
    begin = text.index("<!-- settings:begin -->\n") + len("<!-- settings:begin -->\n")
    end = text.index("<!-- settings:end -->")
    assert text[begin:end] == settings_table(), "regenerate with `ambient config env`"
