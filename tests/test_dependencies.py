"""Pins that protect the install: githubkit must import next to the hishel it gets."""

from __future__ import annotations

from importlib.metadata import version


def test_githubkit_imports_with_app_auth() -> None:
    from githubkit import AppAuthStrategy, GitHub

    assert GitHub is not None
    assert AppAuthStrategy is not None


def test_hishel_stays_below_2_until_githubkit_supports_it() -> None:
    assert int(version("hishel").split(".")[0]) < 2
