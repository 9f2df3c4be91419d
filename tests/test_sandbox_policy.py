"""The sandbox's pure parts: command policy, command validation, output capping, repo checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.errors import ConfigError, PolicyDenied, SandboxError
from bot.pipeline.checks import read_checks
from sandbox import Command, CommandPolicy, CommandRefused, Limits, Result
from sandbox.base import SandboxBase
from sandbox.capture import TailBuffer, exit_code

ALLOWED = [
    "pytest",
    "pytest -q tests/test_x.py -k 'a and b'",
    "python -m pytest -x",
    "python3 -m pytest",
    "python3.11 -m mypy --strict src",
    "ruff check .",
    "ruff format --check .",
    "mypy src",
    "make test",
    "make lint",
    "npm test",
    "cargo clippy --all-targets",
    "go test ./...",
    "go vet ./...",
    "git status --short",
    "git diff HEAD~1",
    "git log -n 5",
]
REFUSED = [
    "curl https://example.com",
    "sh -c pytest",
    "bash",
    "python -c 'import os'",
    "python script.py",
    "make install",
    "make test install",
    "npm install",
    "git push origin main",
    "git -c core.pager=sh log",
    "git commit -m x",
    "rm -rf /",
    "/usr/bin/pytest",
]


@pytest.mark.parametrize("line", ALLOWED)
def test_default_policy_allows(line: str) -> None:
    CommandPolicy().check(Command.parse(line).argv)


@pytest.mark.parametrize("line", REFUSED)
def test_default_policy_refuses(line: str) -> None:
    with pytest.raises(CommandRefused, match="default sandbox policy") as refused:
        CommandPolicy().check(Command.parse(line).argv)
    assert isinstance(refused.value, PolicyDenied)
    assert isinstance(refused.value, SandboxError)


def test_an_argument_cannot_pose_as_words() -> None:
    # One argv item "pytest -q" is not the command `pytest -q`: it renders quoted.
    assert not CommandPolicy().allows(["pytest -q"])
    assert not CommandPolicy().allows(["pytest", "-q\nrm -rf /"])
    assert not CommandPolicy().allows([])


def test_refusal_names_the_command_and_the_policy() -> None:
    policy = CommandPolicy().extended(["tox( .*)?"], ".github/ambient.yml")
    with pytest.raises(CommandRefused) as refused:
        policy.check(["wget", "x" * 500])
    message = str(refused.value)
    assert "wget" in message
    assert "default + .github/ambient.yml" in message
    assert len(message) < 400
    policy.check(["tox", "-e", "py311"])


def test_extended_policy_keeps_the_defaults_and_ignores_repeats() -> None:
    policy = CommandPolicy()
    assert policy.extended([], "repo") is policy
    assert policy.extended([policy.patterns[0]], "repo") is policy
    assert policy.extended(["tox"], "repo").patterns[-1] == "tox"


def test_invalid_pattern_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"pattern '\(unclosed' is invalid"):
        CommandPolicy().extended(["(unclosed"], "repo")


class _Recorder(SandboxBase):
    kind = "bwrap"

    def __init__(self, workspace: Path) -> None:
        super().__init__(workspace, Limits(), CommandPolicy())
        self.ran: list[tuple[Command, str, dict[str, str]]] = []

    def search_path(self) -> str:
        return "/usr/bin"

    async def _execute(
        self, command: Command, cwd: str, env: dict[str, str], over_bound: asyncio.Future[None]
    ) -> Result:
        self.ran.append((command, cwd, env))
        return Result(0, "", "", 0.0)

    async def _release(self) -> None:
        pass


async def test_run_validates_cwd_env_and_timeout_before_anything_runs(tmp_path: Path) -> None:
    sandbox = _Recorder(tmp_path)
    bad = [
        Command(("pytest",), cwd="../elsewhere"),
        Command(("pytest",), cwd="/etc"),
        Command(("pytest",), cwd="missing"),
        Command(("pytest",), env={"GITHUB_TOKEN": "x"}),
        Command(("pytest",), env={"AMBIENT_WEBHOOK_SECRET": "x"}),
        Command(("pytest",), env={"OPENAI_API_KEY": "x"}),
        Command(("pytest",), env={"BAD=NAME": "x"}),
        Command(("pytest",), timeout_s=0),
        Command(("curl", "x")),
    ]
    for command in bad:
        with pytest.raises(CommandRefused):
            await sandbox.run(command)
    assert sandbox.ran == []


async def test_run_builds_a_closed_environment(tmp_path: Path) -> None:
    sandbox = _Recorder(tmp_path)
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    await sandbox.run(Command(("pytest",), cwd="pkg/sub", env={"PYTHONHASHSEED": "0"}))
    _, cwd, env = sandbox.ran[0]
    assert cwd == "/workspace/pkg/sub"
    assert env["PYTHONHASHSEED"] == "0"
    assert env["HOME"] == "/tmp"
    assert env["PATH"] == "/usr/bin"
    assert set(env) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "USER",
        "PYTHONHASHSEED",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_KEY_0",
        "GIT_CONFIG_VALUE_0",
    }


async def test_closed_sandbox_refuses_to_run(tmp_path: Path) -> None:
    async with _Recorder(tmp_path) as sandbox:
        pass
    await sandbox.close()
    with pytest.raises(SandboxError, match="is closed"):
        await sandbox.run(Command(("pytest",)))


def test_tail_buffer_keeps_the_end_and_says_what_it_dropped() -> None:
    buffer = TailBuffer(10)
    for chunk in (b"0123456789", b"abcdef", b"XYZ"):
        buffer.write(chunk)
    assert buffer.dropped == 9
    assert buffer.text() == "[output truncated: the first 9 bytes were dropped]\n9abcdefXYZ"
    small = TailBuffer(10)
    small.write("é".encode())
    assert small.text() == "é"


def test_exit_codes_read_like_a_shell() -> None:
    assert exit_code(0) == 0
    assert exit_code(3) == 3
    assert exit_code(-9) == 137
    assert exit_code(-15) == 143


def test_result_ok() -> None:
    assert Result(0, "", "", 1.0).ok
    assert not Result(1, "", "", 1.0).ok
    assert not Result(0, "", "", 1.0, timed_out=True).ok
    assert not Result(137, "", "", 1.0, oom_killed=True).ok
    assert not Result(0, "", "", 1.0, workspace_exceeded=True).ok


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Limits(pids=0)
    with pytest.raises(ValueError, match="positive"):
        Limits(cpus=0)
    for name in ("file_bytes", "open_files", "workspace_bytes", "mount_bytes"):
        with pytest.raises(ValueError, match="positive"):
            Limits(**{name: 0})


def test_checks_from_the_repository_config(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ambient.yml").write_text(
        "other: kept for others\nverify:\n  commands: ['python -m pytest -q', 'tox -e lint']\n"
        "  allow: ['tox( .*)?']\n"
    )
    checks = read_checks(tmp_path)
    assert checks.commands == ("python -m pytest -q", "tox -e lint")
    assert checks.allow == ("tox( .*)?",)
    assert [c.argv for c in checks.as_commands(30)] == [
        ("python", "-m", "pytest", "-q"),
        ("tox", "-e", "lint"),
    ]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"Makefile": "lint:\n\ttrue\ntest: lint\n\tpytest\n"}, ("make test",)),
        ({"Makefile": "all:\n\ttrue\n", "pyproject.toml": ""}, ("python -m pytest -q",)),
        # msgpack's: a `make test` that installs first cannot run offline; pytest instead.
        (
            {
                "Makefile": ".PHONY: test\ncython:\n\tcython a.pyx\n\ntest: cython\n"
                "\tpip install -e .\n\tpytest -v test\n",
                "setup.py": "",
            },
            ("python -m pytest -q",),
        ),
        # An installing prerequisite counts too; `pip list` reaches no index.
        (
            {"Makefile": "deps:\n\tuv sync\ntest: deps\n\tpytest\n", "pyproject.toml": ""},
            ("python -m pytest -q",),
        ),
        ({"Makefile": "test:\n\tpip list\n\tpython -m pytest tests\n"}, ("make test",)),
        ({"package.json": "{}"}, ("npm test",)),
        ({"Cargo.toml": ""}, ("cargo test",)),
        ({"go.mod": ""}, ("go test ./...",)),
        ({"README": ""}, ()),
    ],
)
def test_checks_detected(tmp_path: Path, files: dict[str, str], expected: tuple[str, ...]) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    checks = read_checks(tmp_path)
    assert checks.commands == expected
    assert checks.source == "detected"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("verify: [1, 2]", "verify must be a mapping"),
        ("verify:\n  commands: 'pytest'", "verify.commands must be a list"),
        ("verify:\n  allow: ['']", "verify.allow must be a list"),
        ("verify: {commands: [pytest", "not valid YAML"),
    ],
)
def test_malformed_config_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ambient.yml").write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        read_checks(tmp_path)
    assert "\n" not in str(error.value)
