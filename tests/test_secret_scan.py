"""The secret gate: diff parsing, detection, reporting without values, labelled-case rates."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from detect_secrets.settings import get_settings

from bot.cli.secrets import scan_diff
from bot.errors import Permanent, SecretFound
from bot.secrets.diff import parse_additions
from bot.secrets.plugins import baseline_config, custom_plugin_names, gate_config
from bot.secrets.scan import Finding, SecretsInDiff, scan_diff_text
from tests.data.secrets.labelled import all_cases, as_diff

ROOT = Path(__file__).resolve().parent.parent
_ALNUM = string.ascii_letters + string.digits


def token(prefix: str, length: int, seed: int = 1, alphabet: str = _ALNUM) -> str:
    """A random token-shaped value, built at run time so no literal token sits in the repo."""
    rng = random.Random(seed)
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


def added(path: str, *lines: str) -> str:
    body = "".join(f"+{line}\n" for line in lines)
    return f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"


GH = token("ghp_", 36)


# --- diff parsing -----------------------------------------------------------------------


def test_parse_follows_new_line_numbers_through_context_and_removals() -> None:
    diff = (
        "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n"
        "@@ -10,4 +10,5 @@ def f():\n context\n-removed\n+first\n context\n+second\n+third\n"
        "\\ No newline at end of file\n"
    )
    (item,) = parse_additions(diff)
    assert item.path == "app.py"
    assert item.lines == ((11, "first"), (13, "second"), (14, "third"))


def test_parse_takes_plus_plus_lines_inside_a_hunk_as_added() -> None:
    diff = "--- a/x.md\n+++ b/x.md\n@@ -1,0 +1,2 @@\n+++ not a header\n+--- nor this\n"
    (item,) = parse_additions(diff)
    assert item.lines == ((1, "++ not a header"), (2, "--- nor this"))


def test_parse_handles_new_deleted_quoted_crlf_and_binary_files() -> None:
    diff = (
        "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n"
        "@@ -0,0 +1 @@\n+hello\r\n"
        "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n"
        "+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
        'diff --git "a/d\\303\\251j\\303\\240.txt" "b/d\\303\\251j\\303\\240.txt"\n'
        '--- "a/d\\303\\251j\\303\\240.txt"\n+++ "b/d\\303\\251j\\303\\240.txt"\n'
        "@@ -1 +1 @@\n-a\n+b\n"
        "diff --git a/logo.bin b/logo.bin\nBinary files a/logo.bin and b/logo.bin differ\n"
    )
    items = parse_additions(diff)
    assert [(i.path, i.lines, i.binary) for i in items] == [
        ("new.txt", ((1, "hello"),), False),
        ("déjà.txt", ((1, "b"),), False),
        ("logo.bin", (), True),
    ]


def test_parse_fails_closed_when_hunk_counts_are_short() -> None:
    diff = "--- a/.env\n+++ b/.env\n@@ -1,1 +1,1 @@\n-A=1\n+A=2\n+LEFT_OVER=3\n"
    (item,) = parse_additions(diff)
    assert item.lines == ((1, "A=2"), (2, "LEFT_OVER=3"))


# --- the gate ---------------------------------------------------------------------------


def test_finds_a_token_passed_to_a_call_which_the_defaults_miss() -> None:
    diff = added("app/client.py", "import os", f'client = Client(token="{GH}")')
    report = scan_diff_text(diff)
    assert report.findings == (
        Finding(
            "app/client.py",
            2,
            "Code Host Token",
            hashlib.sha1(GH.encode(), usedforsecurity=False).hexdigest(),
        ),
    )
    assert scan_diff_text(diff, config=baseline_config()).clean


def test_report_never_holds_the_value() -> None:
    secret = token("sk_live_", 24, seed=7)
    report = scan_diff_text(added("billing.py", f'STRIPE = "{secret}"', f"OTHER = '{GH}'"))
    assert len(report.findings) == 2
    with pytest.raises(SecretsInDiff) as caught:
        report.raise_for_findings()
    error = caught.value
    assert isinstance(error, SecretFound)
    assert isinstance(error, Permanent)
    shown = [
        str(error),
        report.summary(),
        json.dumps(report.to_json()),
        repr(report),
        *(f.describe() for f in report.findings),
    ]
    for text in shown:
        assert secret not in text
        assert GH not in text
    assert "billing.py:1" in str(error)
    assert "\n" not in str(error)


def test_clean_diff_reports_what_was_scanned() -> None:
    diff = added("README.md", "# Title", "Some text.") + added("b.py", "x = 1")
    report = scan_diff_text(diff)
    assert report.clean
    assert (report.files_scanned, report.lines_scanned) == (2, 3)
    report.raise_for_findings()


@pytest.mark.parametrize(
    "line",
    [
        f'GITHUB_TOKEN = "ghp_{"x" * 36}"',
        "api_key = os.environ['API_KEY']",
        "token: ${{ secrets.GITHUB_TOKEN }}",
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "password: changeme",
        f"rev: {token('', 40, alphabet='0123456789abcdef')}",
        "max_tokens = 4096",
    ],
)
def test_look_alikes_pass(line: str) -> None:
    assert scan_diff_text(added("conf.yaml", line)).clean


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("a.py", f'x = "{GH}"  # pragma: allowlist secret'),
        ("swagger/config.py", f'x = "{GH}"'),
        (".env", f"DB_PASSWORD={token('', 16, seed=3)}!"),
        ("deploy.sh", f'curl -H "Authorization: Bearer {token("", 40, seed=4)}" https://api'),
        ("settings.py", f'REDIS = "redis://:{token("", 14, seed=5)}@cache:6379/0"'),
    ],
)
def test_no_bypass_and_no_quotes_needed(path: str, line: str) -> None:
    assert not scan_diff_text(added(path, line)).clean


def test_binary_files_are_read_from_the_worktree_or_listed(tmp_path: Path) -> None:
    (tmp_path / "blob.dat").write_bytes(b"\x00\x01" + f"token={GH}".encode() + b"\x00")
    diff = "diff --git a/blob.dat b/blob.dat\nBinary files /dev/null and b/blob.dat differ\n"
    without = scan_diff_text(diff)
    assert (without.unscanned, without.findings) == (("blob.dat",), ())
    with_worktree = scan_diff_text(diff, tmp_path)
    assert with_worktree.unscanned == ()
    assert [f.type for f in with_worktree.findings] == ["Code Host Token"]


def test_binary_path_outside_the_worktree_is_never_read(tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (tmp_path / "outside.dat").write_text(GH)
    diff = "diff --git a/x b/x\nBinary files /dev/null and b/../outside.dat differ\n"
    assert scan_diff_text(diff, worktree).unscanned == ("../outside.dat",)


def test_all_custom_plugins_load_through_detect_secrets() -> None:
    names = {p["name"] for p in gate_config()["plugins_used"]}
    assert set(custom_plugin_names()) <= names
    before = get_settings().json()
    report = scan_diff_text(added("k.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----"))
    assert [f.type for f in report.findings] == ["Private Key (other formats)"]
    assert get_settings().json() == before


async def test_concurrent_scans_from_threads_agree_with_sequential_ones() -> None:
    diffs = [added(f"f{i}.py", f'k = "{token("ghp_", 36, seed=i)}"') for i in range(6)]
    diffs += [added(f"g{i}.py", f'n = "{i}"') for i in range(6)]
    expected = [scan_diff_text(d) for d in diffs]
    configs = [None, baseline_config()] * 6
    results = await asyncio.gather(
        *(asyncio.to_thread(scan_diff_text, d) for d in diffs),
        *(
            asyncio.to_thread(scan_diff_text, d, None, config=c)
            for d, c in zip(diffs, configs, strict=True)
        ),
    )
    assert list(results[: len(diffs)]) == expected


# --- labelled cases ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tune", "holdout", "fresh", "final", "upstream"])
def test_labelled_cases_meet_the_gate_targets(name: str) -> None:
    cases = all_cases()[name]
    report = scan_diff_text(as_diff(cases))
    hits = {f.file.split("/")[1] for f in report.findings}
    positives = [c for c in cases if c.secret]
    negatives = [c for c in cases if not c.secret]
    recall = sum(c.id in hits for c in positives) / len(positives)
    false_block = sum(c.id in hits for c in negatives) / len(negatives)
    assert recall >= 0.90, f"{name}: recall {recall:.3f}"
    assert false_block <= 0.05, f"{name}: false-block rate {false_block:.3f}"


# --- the command ------------------------------------------------------------------------


def test_cli_exit_codes_and_output(tmp_path: Path) -> None:
    dirty = tmp_path / "dirty.diff"
    dirty.write_text(added("app.py", f'T = "{GH}"'))
    clean = tmp_path / "clean.diff"
    clean.write_text(added("app.py", "x = 1"))
    runner = CliRunner()
    found = runner.invoke(scan_diff, [str(dirty)])
    assert found.exit_code == 1
    assert "app.py:1: Code Host Token (sha1 " in found.output
    assert GH not in found.output
    as_json = runner.invoke(scan_diff, ["--json", str(dirty)])
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["findings"][0]["line"] == 1
    assert runner.invoke(scan_diff, [str(clean)]).exit_code == 0
    not_a_diff = tmp_path / "notes.txt"
    not_a_diff.write_text("just words\n")
    refused = runner.invoke(scan_diff, [str(not_a_diff)])
    assert refused.exit_code == 2
    assert "not a unified diff" in refused.output


def test_cli_runs_as_a_module_on_stdin() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bot.cli.secrets", "-"],
        input=added(".env", f"GITHUB_TOKEN={GH}"),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    assert ".env:1: Code Host Token" in completed.stdout
    assert GH not in completed.stdout + completed.stderr
