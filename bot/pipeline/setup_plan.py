"""Which commands set up a repository's environment: from its config, or from its files.

Pure: reads a checkout's files, runs nothing. The environment is a virtualenv at `ENV_TARGET`
inside the sandbox, outside the work tree, so the tree under test stays exactly the proposal.
In order, the first that applies decides:

1. `setup.commands` in the repository config (default branch): a venv is made, then the
   commands run in it as given (the config's word beats any guess).
2. A lock file, honoured exactly: `uv.lock` (`uv sync --frozen`), else `poetry.lock` or
   `pdm.lock` (every locked version becomes a constraint of the install below).
3. Detection: the project itself, editable (src layouts included), with its extras named
   test/tests/testing/dev (`[project.optional-dependencies]`, setup.cfg, setup.py), its PEP 735
   `[dependency-groups]` of those names, and the test requirement files (`requirements*test*.txt`,
   `test-requirements.txt`, `requirements/test*.txt`; the dev ones when no test one exists),
   else tox.ini's `[testenv] deps`; a checkout with no installable project gets its
   `requirements.txt` instead.

The checks' toolchain (pytest and the rest, `sandbox.toolchain`) stays importable from the
environment behind everything it installs, so a suite runs with the repository's own pinned
pytest when it names one, and with the toolchain's when it does not.

Everything installs with uv (fast, and resolves once); `pip` is the fallback when the sandbox
image has no uv.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
import shlex
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

__all__ = [
    "CONSTRAINTS_FILE",
    "ENV_TARGET",
    "SCRATCH_TARGET",
    "SetupPlan",
    "cython_pending",
    "dependency_files",
    "native_sources",
    "plan_setup",
    "poetry_constraint",
    "poetry_requirement",
]

#: Where the environment lives inside the sandbox (the same path for setup and for checks).
ENV_TARGET: Final = "/opt/env"
#: The setup's own scratch space (installer cache, temporary build files), discarded after.
SCRATCH_TARGET: Final = "/opt/setup"
_TEST_NAMES: Final = ("test", "tests", "testing")
_DEV_NAMES: Final = ("dev",)
_SCM_BACKENDS: Final = re.compile(r"setuptools[-_]scm|hatch[-_]vcs|versioningit")
#: Where a lock file's versions are written for the installer, inside the setup's scratch.
CONSTRAINTS_FILE: Final = f"{SCRATCH_TARGET}/constraints.txt"
_REQUIREMENT_GLOBS: Final = (
    "requirements*.txt",
    "test-requirements.txt",
    "test_requirements.txt",
    "requirements/*.txt",
    "requirements/*.in",
)

_NATIVE_SUFFIXES: Final = frozenset(
    {".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".pyx", ".pxd", ".pxi", ".rs"}
)
_NATIVE_NAMES: Final = frozenset({"Cargo.toml", "Cargo.lock", "meson.build", "CMakeLists.txt"})
_NOT_SOURCE: Final = frozenset({"node_modules", "build", "dist", "__pycache__", "venv"})
_NATIVE_MAX: Final = 5000

Installer = Literal["uv", "pip"]


@dataclass(frozen=True, slots=True)
class SetupPlan:
    """The commands that set up an environment, and what they were made from.

    `steps` run in order in the sandbox (each an argv); `inputs` are the repository files the
    plan depends on (their contents key the cache); `summary` says in one line what is
    installed, `source` where the plan came from.
    """

    steps: tuple[tuple[str, ...], ...]
    inputs: tuple[str, ...]
    summary: str
    source: str
    python: str = "python3"
    variables: tuple[tuple[str, str], ...] = field(default=())
    #: `name==version` lines the install must keep to (from poetry.lock or pdm.lock).
    constraints: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.steps

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(shlex.join(step) for step in self.steps)


def _read_toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _names(table: object) -> list[str]:
    return [str(k) for k in table] if isinstance(table, dict) else []


def _wanted(names: Iterable[str]) -> list[str]:
    """The test extras or groups among `names`; the dev ones only when there is none, since a
    dev group often pulls in docs and release tools that need another Python."""
    normal = {re.sub(r"[-_.]+", "-", n).lower(): n for n in names}
    chosen = [normal[n] for n in _TEST_NAMES if n in normal]
    return chosen or [normal[n] for n in _DEV_NAMES if n in normal]


def _setup_cfg_extras(root: Path) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(root / "setup.cfg")
    except configparser.Error:
        return []
    if not parser.has_section("options.extras_require"):
        return []
    return list(parser["options.extras_require"])


def _setup_py_extras(root: Path) -> list[str]:
    """Keys of a literal `extras_require={...}` in setup.py (it is parsed, never run)."""
    try:
        tree = ast.parse((root / "setup.py").read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return []
    keys: list[str] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.keyword)
            and node.arg == "extras_require"
            and isinstance(node.value, ast.Dict)
        ):
            keys += [
                k.value
                for k in node.value.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
    return keys


def _requirement_files(root: Path) -> list[str]:
    """The test requirement files, else the dev ones (a dev file often pulls docs and tools)."""
    found = sorted(
        {str(p.relative_to(root)) for g in _REQUIREMENT_GLOBS for p in root.glob(g) if p.is_file()}
    )
    found = [f for f in found if not (f.endswith(".in") and f[:-3] + ".txt" in found)]
    tests = [f for f in found if re.search(r"test", Path(f).name, re.I)]
    if tests:
        return tests
    return [f for f in found if re.search(r"dev", Path(f).name, re.I)]


def _installs_for_tests(path: Path) -> bool:
    """Whether a project's `requirements.txt` is its test environment (it installs the project
    itself, or names pytest), as some projects' own install scripts use it."""
    text = path.read_text(errors="replace")
    return bool(re.search(r"(?m)^\s*(-e\s+\.|pytest\b)", text))


def _tox_config(root: Path, pyproject: dict[str, object]) -> configparser.ConfigParser:
    """tox's ini configuration: tox.ini, else pyproject.toml's `[tool.tox] legacy_tox_ini`."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        if (root / "tox.ini").is_file():
            parser.read(root / "tox.ini")
        else:
            tox = _table(_table(pyproject, "tool"), "tox")
            legacy = tox.get("legacy_tox_ini")
            if isinstance(legacy, str):
                parser.read_string(legacy)
    except configparser.Error:
        return configparser.ConfigParser(interpolation=None)
    return parser


def _tox_lines(parser: configparser.ConfigParser, option: str) -> list[str]:
    """`[testenv]`'s `option`, one entry a line (or comma), `{[section]key}` references
    followed; factor-conditional lines (`py311: x`) and other substitutions are skipped
    rather than guessed."""
    if not parser.has_option("testenv", option):
        return []
    raw = parser.get("testenv", option)
    for _ in range(3):  # references to references, not forever
        raw = re.sub(
            r"\{\[([^\]]+)\]([\w-]+)\}",
            lambda m: parser.get(m[1], m[2], fallback=""),
            raw,
        )
    lines = []
    for line in raw.splitlines():
        line = (
            line.split(" #", 1)[0].strip().replace("{toxinidir}/", "").replace("{toxinidir}", ".")
        )
        if not line or line.startswith("#") or "{" in line or re.match(r"^[\w,!-]+:\s", line):
            continue
        lines.append(line)
    return lines


def _tox_deps(root: Path, pyproject: dict[str, object]) -> list[str]:
    """tox's test dependencies: `[testenv] deps` (plain requirements and `-r` files), or the
    native `[tool.tox.env_run_base] deps` of pyproject.toml."""
    deps = _tox_lines(_tox_config(root, pyproject), "deps")
    if deps:
        return deps
    base = _table(_table(_table(pyproject, "tool"), "tox"), "env_run_base")
    listed = base.get("deps")
    return [d for d in listed if isinstance(d, str)] if isinstance(listed, list) else []


def _tox_extras(root: Path, pyproject: dict[str, object]) -> list[str]:
    """The extras tox installs the project with for its tests."""
    extras = [
        e.strip()
        for line in _tox_lines(_tox_config(root, pyproject), "extras")
        for e in line.split(",")
        if e.strip()
    ]
    if extras:
        return extras
    base = _table(_table(_table(pyproject, "tool"), "tox"), "env_run_base")
    listed = base.get("extras")
    return [e for e in listed if isinstance(e, str)] if isinstance(listed, list) else []


def _table(table: object, key: str) -> dict[str, object]:
    value = table.get(key) if isinstance(table, dict) else None
    return value if isinstance(value, dict) else {}


def _installable(root: Path, pyproject: dict[str, object]) -> bool:
    return "build-system" in pyproject or "project" in pyproject or (root / "setup.py").is_file()


def _locked_pins(path: Path) -> list[str]:
    """Every `name==version` of a poetry.lock or pdm.lock (both list `[[package]]` tables)."""
    packages = _read_toml(path).get("package", [])
    pins = []
    for package in packages if isinstance(packages, list) else []:
        if isinstance(package, dict) and package.get("name") and package.get("version"):
            pins.append(f"{package['name']}=={package['version']}")
    return pins


def dependency_files(root: Path) -> tuple[str, ...]:
    """The files whose contents decide what a setup installs or builds (the cache key's
    inputs): the declaring files, and the sources of compiled extensions, whose build the
    environment keeps (a proposal changing one gets an environment built with its change)."""
    names = ["pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "uv.lock", "poetry.lock",
             "pdm.lock", "package.json", "package-lock.json"]  # fmt: skip
    found = [n for n in names if (root / n).is_file()]
    found += [
        str(p.relative_to(root)) for g in _REQUIREMENT_GLOBS for p in root.glob(g) if p.is_file()
    ]
    return tuple(sorted({*found, *native_sources(root)}))


def native_sources(root: Path) -> list[str]:
    """The sources of compiled extensions under `root` (C, C++, Cython, Rust, and their build
    files), outside hidden and vendored directories, at most `_NATIVE_MAX` of them."""
    found: list[str] = []
    for base, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_SOURCE)
        for name in sorted(files):
            if Path(name).suffix in _NATIVE_SUFFIXES or name in _NATIVE_NAMES:
                found.append(str(Path(base, name).relative_to(root)))
                if len(found) >= _NATIVE_MAX:
                    return found
    return found


def _venv(installer: Installer, python: str, *, with_pip: bool = False) -> tuple[str, ...]:
    # Configured commands may call pip: the standard library's venv brings its own copy
    # (ensurepip, offline), where uv's --seed would fetch one from the index.
    if installer == "uv" and not with_pip:
        return ("uv", "venv", "--quiet", "--python", python, ENV_TARGET)
    return (python, "-m", "venv", ENV_TARGET)


def _install(installer: Installer, args: Sequence[str]) -> tuple[str, ...]:
    if installer == "uv":
        return ("uv", "pip", "install", "--python", f"{ENV_TARGET}/bin/python", *args)
    return (f"{ENV_TARGET}/bin/python", "-m", "pip", "install", "--no-input", *args)


def plan_setup(
    root: Path,
    *,
    commands: Sequence[str] = (),
    python: str = "",
    installer: Installer = "uv",
    config_source: str = ".github/ambient.yml",
    last_tag: str = "",
) -> SetupPlan:
    """The setup of the checkout at `root`: `commands` from the repository config when given,
    else what its files declare. An empty plan means there is nothing to install. `last_tag`
    (git's latest tag) versions a build that asks git, which the setup's copy has not."""
    interpreter = f"python{python}" if python else "python3"
    inputs = dependency_files(root)
    pyproject = _read_toml(root / "pyproject.toml")
    variables = _scm_variables(root, pyproject, last_tag)
    if commands:
        steps = (
            _venv(installer, interpreter, with_pip=True),
            *(tuple(shlex.split(c)) for c in commands),
        )
        summary = f"{len(commands)} setup command(s) from setup.commands"
        return SetupPlan(steps, inputs, summary, f"setup.commands in {config_source}",
                         interpreter, variables)  # fmt: skip
    if installer == "uv" and (root / "uv.lock").is_file() and "project" in pyproject:
        return _uv_sync(pyproject, inputs, interpreter, variables)
    return _detected(root, pyproject, inputs, interpreter, installer, variables)


def _uv_sync(
    pyproject: dict[str, object],
    inputs: tuple[str, ...],
    interpreter: str,
    variables: tuple[tuple[str, str], ...],
) -> SetupPlan:
    project = pyproject.get("project")
    extras = _wanted(
        _names(project.get("optional-dependencies")) if isinstance(project, dict) else []
    )
    groups = _wanted(_names(pyproject.get("dependency-groups")))
    step = ("uv", "sync", "--frozen", "--python", interpreter,
            *(a for e in extras for a in ("--extra", e)),
            *(a for g in groups for a in ("--group", g)))  # fmt: skip
    chosen = ", ".join([*extras, *groups])
    summary = "the project and its locked dependencies (uv.lock)" + (
        f" with {chosen}" if chosen else ""
    )
    sync_env = (("UV_PROJECT_ENVIRONMENT", ENV_TARGET), *variables)
    return SetupPlan((step,), inputs, summary, "uv.lock", interpreter, sync_env)


def _project_extras(pyproject: dict[str, object]) -> list[str]:
    project = pyproject.get("project")
    return _names(project.get("optional-dependencies")) if isinstance(project, dict) else []


def _project_args(
    root: Path, pyproject: dict[str, object], installer: Installer
) -> tuple[list[str], list[str]]:
    """The editable install of the project with its test extras and groups, and what it says."""
    if not _installable(root, pyproject):
        return [], []
    declared = _project_extras(pyproject) + _setup_cfg_extras(root) + _setup_py_extras(root)
    extras = _wanted(declared)
    tox = _tox_extras(root, pyproject)
    known = {_normal(e) for e in declared}
    extras += [e for e in tox if not known or _normal(e) in known]
    extras = list({_normal(e): e for e in extras}.values())
    args = ["-e", f".[{','.join(extras)}]" if extras else "."]
    said = ["the project (editable)" + (f" with {', '.join(extras)}" if extras else "")]
    if installer == "uv":
        for group in _wanted(_names(pyproject.get("dependency-groups"))):
            args += ["--group", group]
            said.append(f"group {group}")
    for group, requirements in _poetry_groups(pyproject):
        args += requirements
        said.append(f"poetry group {group}")
    return args, said


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _poetry_groups(pyproject: dict[str, object]) -> list[tuple[str, list[str]]]:
    """Poetry's dependency groups of the test names (else dev), as requirements: Poetry
    installs them, but they are neither extras nor PEP 735 groups. The legacy
    `[tool.poetry.dev-dependencies]` is the dev group."""
    poetry = _table(_table(pyproject, "tool"), "poetry")
    groups = {
        name: _table(table, "dependencies")
        for name, table in _table(poetry, "group").items()
        if isinstance(table, dict)
    }
    legacy = _table(poetry, "dev-dependencies")
    if legacy and "dev" not in groups:
        groups["dev"] = legacy
    chosen = []
    for name in _wanted(groups):
        requirements = [
            r
            for dep, spec in groups[name].items()
            if dep.lower() != "python" and (r := poetry_requirement(dep, spec))
        ]
        if requirements:
            chosen.append((name, requirements))
    return chosen


def poetry_requirement(name: str, spec: object) -> str:
    """A PEP 508 requirement for one Poetry dependency (`"^1.2"`, or a table with version,
    extras and python); "" for one from a path, git or URL, which no index serves."""
    if isinstance(spec, dict):
        if any(k in spec for k in ("path", "git", "url", "file")):
            return ""
        version = spec.get("version", "*")
        extras = spec.get("extras", [])
        python = spec.get("python", "")
    else:
        version, extras, python = spec, [], ""
    text = name
    if isinstance(extras, list) and extras:
        text += f"[{','.join(str(e) for e in extras)}]"
    text += ",".join(poetry_constraint(str(version)))
    if isinstance(python, str) and python:
        clauses = poetry_constraint(python)
        if clauses:
            marker = " and ".join(
                f'python_full_version {m[1]} "{m[2]}"'
                for c in clauses
                if (m := re.match(r"(==|!=|>=|<=|~=|>|<)\s*(.+)", c))
            )
            text += f" ; {marker}"
    return text


def poetry_constraint(constraint: str) -> list[str]:
    """PEP 440 clauses for a Poetry version constraint: `^` and `~` become ranges, a bare
    version pins; `||` (either of two) is not expressible as one range and gives none."""
    if "||" in constraint or "|" in constraint:
        return []
    clauses: list[str] = []
    for part in re.split(r"\s*,\s*|\s+(?=[<>=!^~])", constraint.strip()):
        part = part.strip()
        if part in ("", "*"):
            continue
        if part.startswith(("^", "~")) and not part.startswith("~="):
            version = part.lstrip("^~").strip()
            release = [int(n) for n in re.findall(r"\d+", version.split("-")[0])[:3]]
            if not release:
                continue
            if part.startswith("^"):
                index = next((i for i, n in enumerate(release) if n), len(release) - 1)
            else:
                index = min(1, len(release) - 1) if len(release) > 1 else 0
            upper = [*release[:index], release[index] + 1]
            clauses += [f">={version}", f"<{'.'.join(map(str, upper))}"]
        elif re.match(r"(==|!=|>=|<=|~=|>|<)", part):
            clauses.append(part.replace(" ", ""))
        else:
            clauses.append(f"=={part}")
    return clauses


def _requirements_args(
    root: Path, pyproject: dict[str, object]
) -> tuple[list[str], list[str], list[str]]:
    """The requirement files (or tox.ini's deps) to install, what it says, and the files."""
    files = _requirement_files(root)
    if (root / "requirements.txt").is_file() and (
        not _installable(root, pyproject) or _installs_for_tests(root / "requirements.txt")
    ):
        files = ["requirements.txt", *[f for f in files if f != "requirements.txt"]]
    if files:
        return [a for name in files for a in ("-r", name)], list(files), files
    deps = _tox_deps(root, pyproject)
    args = [a for dep in deps for a in (["-r", dep[2:].strip()] if dep.startswith("-r") else [dep])]
    return args, (["tox.ini [testenv] deps"] if deps else []), []


def _detected(
    root: Path,
    pyproject: dict[str, object],
    inputs: tuple[str, ...],
    interpreter: str,
    installer: Installer,
    variables: tuple[tuple[str, str], ...],
) -> SetupPlan:
    args, said = _project_args(root, pyproject, installer)
    more, more_said, _ = _requirements_args(root, pyproject)
    args, said = args + more, said + more_said
    if not args:
        return SetupPlan((), inputs, "nothing to install", "detected", interpreter, variables)
    source, pins = "detected", tuple[str, ...]()
    for lock in ("poetry.lock", "pdm.lock"):
        pins = tuple(_locked_pins(root / lock))
        if pins:
            source = f"detected, pinned by {lock}"
            said.append(f"every version from {lock}")
            args += ["-c", CONSTRAINTS_FILE]
            break
    steps: tuple[tuple[str, ...], ...] = (_venv(installer, interpreter),)
    pending = cython_pending(root)
    if pending and _installable(root, pyproject):
        pinned = ["-c", CONSTRAINTS_FILE] if pins else []
        steps += (
            _install(installer, ["cython", *more, *pinned]),
            (f"{ENV_TARGET}/bin/cython", *pending),
        )
        said.insert(1, f"C sources made by Cython from {', '.join(pending)}")
    steps += (_install(installer, args),)
    return SetupPlan(steps, inputs, ", ".join(said), source, interpreter, variables, pins)


def cython_pending(root: Path) -> list[str]:
    """The Cython sources whose C file the build names but the checkout lacks (projects that
    leave `cython x.pyx` to a Makefile step before `pip install`): the setup makes them first.
    Only a `.c` that setup.py, setup.cfg or pyproject.toml spells out counts, so a `.pyx` that
    another one includes is never compiled on its own."""
    texts = "".join(
        (root / n).read_text(errors="replace")
        for n in ("setup.py", "setup.cfg", "pyproject.toml")
        if (root / n).is_file()
    )
    pending = []
    for pyx in native_sources(root):
        if pyx.endswith(".pyx"):
            c_file = pyx[: -len(".pyx")] + ".c"
            if c_file in texts and not (root / c_file).exists():
                pending.append(pyx)
    return pending


def _scm_variables(
    root: Path, pyproject: dict[str, object], last_tag: str
) -> tuple[tuple[str, str], ...]:
    """A version for projects whose build asks git for it: the setup's copy has no .git."""
    texts = [str(pyproject.get("build-system", "")), str(pyproject.get("tool", ""))]
    for name in ("setup.py", "setup.cfg"):
        if (root / name).is_file():
            texts.append((root / name).read_text(errors="replace"))
    if not any(_SCM_BACKENDS.search(t) for t in texts):
        return ()
    return (("SETUPTOOLS_SCM_PRETEND_VERSION", pretend_version(last_tag)),)


def pretend_version(last_tag: str) -> str:
    """A version for a build that cannot ask git: just past the last release tag (so a
    `>=` on it still holds), in a form that version parsers splitting on dots accept."""
    found = re.search(r"\d+(\.\d+)*", last_tag)
    return f"{found.group(0)}.post0.dev0" if found else "0.0.0.dev0"
