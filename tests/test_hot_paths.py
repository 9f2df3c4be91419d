"""Hot paths found in real failure logs (tests/data/logs, see PROVENANCE.md there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.hot_paths import Mention, RepoIndex, clean_log, find_mentions, hot_paths

LOGS = Path(__file__).parent / "data" / "logs"
# The project the logs were produced from; they show it at /home/runner/_work/calc/calc.
CALC = tuple(json.loads((LOGS / "calc-project.json").read_text()))


def found(log_name: str) -> list[tuple[str, tuple[int, ...]]]:
    text = (LOGS / log_name).read_text()
    return [(hot.path, hot.lines) for hot in hot_paths(text, CALC)]


@pytest.mark.parametrize(
    ("log_name", "expected"),
    [
        (
            "pytest-long.log",
            [("tests/test_core.py", (9, 13)), ("src/calc/core.py", (12, 21))],
        ),
        (
            "pytest-short.log",
            [
                ("tests/test_core.py", (9, 13)),
                ("tests/test_parse.py", (11, 14)),
                ("src/calc/core.py", (12, 21)),
                ("src/calc/parse.py", (11,)),
            ],
        ),
        (
            # Absolute paths from the CI machine; the standard library's frames are dropped.
            "unittest.log",
            [
                ("tests/test_parse.py", (11, 14)),
                ("src/calc/parse.py", (11,)),
                ("tests/test_config.py", (11,)),
                ("src/calc/config.py", (9,)),
            ],
        ),
        ("mypy.log", [("src/calc/core.py", (25,))]),
        ("ruff-concise.log", [("src/calc/parse.py", (5,))]),
        ("ruff-full.log", [("src/calc/parse.py", (5,))]),
        ("ruff-github.log", [("src/calc/parse.py", (5,))]),
        ("node-crash.log", [("web/format.js", (4,)), ("web/cli.js", (5,))]),
        ("node-test.log", [("web/format.test.js", (11, 12)), ("web/format.js", (4,))]),
    ],
)
def test_real_logs(log_name: str, expected: list[tuple[str, tuple[int, ...]]]) -> None:
    assert found(log_name) == expected


def test_actions_log_with_timestamps_colours_and_annotations() -> None:
    hot = dict(found("actions-job.log"))

    assert hot == {
        "tests/test_core.py": (9, 13),
        "tests/test_parse.py": (11, 14),
        "src/calc/parse.py": (5, 11),
        "src/calc/core.py": (12, 21, 25),
        "tests/test_config.py": (11,),
        "pyproject.toml": (3,),
        "src/calc/config.py": (9,),
    }


def test_clean_log_removes_actions_decoration() -> None:
    raw = "2024-11-18T14:02:12.5398400Z ##[error]\x1b[1m\x1b[31msrc/a.py\x1b[0m:3: boom\r\n"

    assert clean_log(raw) == "src/a.py:3: boom\n"


def test_kinds_of_mention() -> None:
    log = "\n".join(
        [
            '  File "/srv/app/src/a.py", line 3, in f',
            "FAILED tests/test_a.py::test_f - boom",
            "ERROR: test_g (tests.test_b.BTest.test_g)",
            "::error file=src/c.py,line=7,col=2::bad",
            "src/d.ts(12,5): error TS2322: Type 'number' is not assignable",
            "    at run (file:///srv/app/web/e.mjs:9:3)",
        ]
    )

    assert [(m.path, m.line, m.kind) for m in find_mentions(log)] == [
        ("/srv/app/src/a.py", 3, "traceback"),
        ("tests/test_a.py", None, "pytest"),
        ("tests.test_b.BTest.test_g", None, "unittest"),
        ("src/c.py", 7, "annotation"),
        ("src/d.ts", 12, "diagnostic"),
        ("/srv/app/web/e.mjs", 9, "diagnostic"),
    ]


def test_paths_from_other_machines_map_onto_the_repository() -> None:
    index = RepoIndex(["src/calc/core.py", "pyproject.toml", "a/x.py", "b/x.py"])

    def resolve(path: str, kind: str = "diagnostic") -> str | None:
        return index.resolve(Mention(path, 1, kind))

    assert resolve("/home/runner/_work/calc/calc/src/calc/core.py") == "src/calc/core.py"
    assert resolve("D:\\a\\calc\\calc\\src\\calc\\core.py") == "src/calc/core.py"
    assert resolve("./src/calc/core.py") == "src/calc/core.py"
    assert resolve("calc/core.py") == "src/calc/core.py"
    assert resolve("/builds/calc/pyproject.toml") == "pyproject.toml"
    assert resolve("calc.core", "unittest") == "src/calc/core.py"
    # Ambiguous, foreign, or unknown: no guess.
    assert resolve("x.py") is None
    assert resolve("/usr/lib/python3.11/calc/core.py") is None
    assert resolve("/opt/venv/lib/python3.11/site-packages/calc/core.py") is None
    assert resolve("/srv/other/thing.py") is None


def test_most_mentioned_first_then_first_seen() -> None:
    log = "b.py:1: x\na.py:2: y\na.py:3: z\nc.py:4: w\n"

    assert [h.path for h in hot_paths(log, ["a.py", "b.py", "c.py"])] == ["a.py", "b.py", "c.py"]


def test_no_mentions_in_plain_text() -> None:
    log = "Python 3.11.7, pytest-9.2.0\nhttps://example.com:443/x.html\n12:30:45.123 done\n"

    assert hot_paths(log, ["x.html", "done.py"]) == ()
