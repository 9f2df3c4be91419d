"""What the setup installs, read from a checkout's files (pure: nothing runs)."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from bot.pipeline.setup_plan import (
    CONSTRAINTS_FILE,
    ENV_TARGET,
    dependency_files,
    plan_setup,
    poetry_constraint,
)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text))
    return root


def _install(plan_steps: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    (step,) = [s for s in plan_steps if s[:3] == ("uv", "pip", "install")]
    return step[5:]


def test_a_src_layout_project_is_installed_editable_with_its_test_extras(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                name = "demo"
                version = "1"
                [project.optional-dependencies]
                Tests = ["freezegun"]
                docs = ["sphinx"]
                dev = ["tox"]
            """,
            "src/demo/__init__.py": "",
        },
    )
    plan = plan_setup(root)
    assert plan.steps[0] == ("uv", "venv", "--quiet", "--python", "python3", ENV_TARGET)
    # dev is left out when a test extra exists: it often needs what the tests do not.
    assert _install(plan.steps) == ("-e", ".[Tests]")
    assert plan.summary == "the project (editable) with Tests"


def test_the_dev_extra_stands_in_when_there_is_no_test_one(tmp_path: Path) -> None:
    root = _tree(
        tmp_path, {"pyproject.toml": "[project]\n[project.optional-dependencies]\ndev = ['x']\n"}
    )
    plan = plan_setup(root)
    assert _install(plan.steps) == ("-e", ".[dev]")
    assert plan.source == "detected"


def test_dependency_groups_and_test_requirement_files_join_the_install(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": """
                [build-system]
                requires = ["flit_core"]
                [dependency-groups]
                test = ["pytest"]
                lint = ["ruff"]
            """,
            "requirements/tests.txt": "freezegun\n",
            "requirements/dev.txt": "-r tests.txt\ntox\n",
            "requirements/docs.txt": "sphinx\n",
        },
    )
    args = _install(plan_setup(root).steps)
    assert args == ("-e", ".", "--group", "test", "-r", "requirements/tests.txt")


def test_dev_requirements_stand_in_when_no_test_file_exists(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"setup.py": "from setuptools import setup\nsetup()\n",
                            "requirements-dev.txt": "pytest\n"})  # fmt: skip
    assert _install(plan_setup(root).steps) == ("-e", ".", "-r", "requirements-dev.txt")


def test_extras_of_setup_cfg_and_of_a_literal_setup_py_are_found_without_running_it(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {
            "setup.py": "import sys; sys.exit(1)\nsetup(extras_require={'testing': ['x']})\n",
            "setup.cfg": "[options.extras_require]\ntest =\n  pytest\n",
        },
    )
    assert _install(plan_setup(root).steps) == ("-e", ".[test,testing]")


def test_a_requirements_file_that_installs_the_project_is_the_test_environment(
    tmp_path: Path,
) -> None:
    root = _tree(tmp_path, {"setup.py": "", "requirements.txt": "-e .[http2]\npytest\ntrio\n"})
    assert _install(plan_setup(root).steps) == ("-e", ".", "-r", "requirements.txt")
    runtime = _tree(tmp_path / "b", {"setup.py": "", "requirements.txt": "requests==2\n"})
    assert _install(plan_setup(runtime).steps) == ("-e", ".")


def test_a_checkout_without_a_project_installs_its_requirements(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"requirements.txt": "requests\n", "test-requirements.txt": "pytest\n"})
    args = _install(plan_setup(root).steps)
    assert args == ("-r", "requirements.txt", "-r", "test-requirements.txt")


def test_tox_deps_are_used_when_nothing_else_names_the_test_dependencies(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "setup.py": "",
            "tox.ini": """
                [testenv]
                deps =
                    pytest>=7
                    py311: tomli
                    -r{toxinidir}/reqs.txt
                    mock  # for the old tests
                commands = pytest
            """,
        },
    )
    args = _install(plan_setup(root).steps)
    assert args == ("-e", ".", "pytest>=7", "-r", "reqs.txt", "mock")


def test_uv_lock_is_honoured_exactly_with_uv_sync(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                name = "demo"
                version = "1"
                [project.optional-dependencies]
                test = ["pytest"]
                [dependency-groups]
                dev = ["ruff"]
            """,
            "uv.lock": "version = 1\n",
        },
    )
    plan = plan_setup(root)
    assert plan.steps == (
        ("uv", "sync", "--frozen", "--python", "python3", "--extra", "test", "--group", "dev"),
    )
    assert ("UV_PROJECT_ENVIRONMENT", ENV_TARGET) in plan.variables
    assert plan.source == "uv.lock"


@pytest.mark.parametrize("lock", ["poetry.lock", "pdm.lock"])
def test_poetry_and_pdm_locks_pin_every_version(tmp_path: Path, lock: str) -> None:
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": '[build-system]\nrequires = ["poetry-core"]\n',
            lock: '[[package]]\nname = "freezer"\nversion = "1.0"\n\n'
            '[[package]]\nname = "six"\nversion = "1.16.0"\n',
        },
    )
    plan = plan_setup(root)
    assert plan.constraints == ("freezer==1.0", "six==1.16.0")
    assert _install(plan.steps)[-2:] == ("-c", CONSTRAINTS_FILE)
    assert plan.source == f"detected, pinned by {lock}"


def test_configured_commands_win_over_detection(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\nversion = '1'\n"})
    plan = plan_setup(root, commands=["pip install -e '.[all]'"], python="3.12")
    assert plan.steps == (
        ("python3.12", "-m", "venv", ENV_TARGET),
        ("pip", "install", "-e", ".[all]"),
    )
    assert plan.source == "setup.commands in .github/ambient.yml"


def test_pip_is_the_fallback_installer(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"setup.py": ""})
    plan = plan_setup(root, installer="pip")
    assert plan.steps == (
        ("python3", "-m", "venv", ENV_TARGET),
        (f"{ENV_TARGET}/bin/python", "-m", "pip", "install", "--no-input", "-e", "."),
    )


def test_a_version_from_git_is_stood_in_for_since_the_setup_copy_has_no_git(
    tmp_path: Path,
) -> None:
    root = _tree(
        tmp_path,
        {"pyproject.toml": '[build-system]\nrequires = ["hatchling", "hatch-vcs"]\n'},
    )
    assert ("SETUPTOOLS_SCM_PRETEND_VERSION", "0.0.0.dev0") in plan_setup(root).variables
    tagged = plan_setup(root, last_tag="v26.1.0").variables
    assert ("SETUPTOOLS_SCM_PRETEND_VERSION", "26.1.0.post0.dev0") in tagged


def test_nothing_to_install_is_an_empty_plan(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"README.md": "hi"})
    plan = plan_setup(root)
    assert plan.empty
    assert plan.summary == "nothing to install"


def test_the_cache_key_reads_every_dependency_declaring_file(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {"pyproject.toml": "", "requirements/tests.txt": "", "tox.ini": "", "src/x.py": ""},
    )
    assert dependency_files(root) == ("pyproject.toml", "requirements/tests.txt", "tox.ini")


def test_poetry_groups_become_requirements_the_lock_still_pins(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": """
                [build-system]
                requires = ["poetry-core"]
                build-backend = "poetry.core.masonry.api"
                [tool.poetry.dependencies]
                python = "^3.9"
                [tool.poetry.group.test.dependencies]
                pytest = "^8.1"
                pytest-mock = { version = "~3.12", extras = ["x"] }
                tomli = { version = ">=2", python = "<3.11" }
                local-thing = { path = "../thing" }
                [tool.poetry.group.docs.dependencies]
                sphinx = "*"
                [tool.poetry.dev-dependencies]
                black = "*"
            """,
            "poetry.lock": '[[package]]\nname = "pytest"\nversion = "8.1.2"\n',
        },
    )
    plan = plan_setup(root)
    assert _install(plan.steps) == (
        "-e",
        ".",
        "pytest>=8.1,<9",
        "pytest-mock[x]>=3.12,<3.13",
        'tomli>=2 ; python_full_version < "3.11"',
        "-c",
        CONSTRAINTS_FILE,
    )
    assert (
        plan.summary == "the project (editable), poetry group test, every version from poetry.lock"
    )


def test_the_legacy_poetry_dev_dependencies_stand_in_for_a_test_group(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": """
                [tool.poetry]
                name = "old"
                [tool.poetry.dev-dependencies]
                pytest = "6.2.5"
                [build-system]
                requires = ["poetry-core"]
            """
        },
    )
    assert _install(plan_setup(root).steps) == ("-e", ".", "pytest==6.2.5")


@pytest.mark.parametrize(
    ("constraint", "clauses"),
    [
        ("^1.2.3", [">=1.2.3", "<2"]),
        ("^0.2.3", [">=0.2.3", "<0.3"]),
        ("^0.0.3", [">=0.0.3", "<0.0.4"]),
        ("~1.2.3", [">=1.2.3", "<1.3"]),
        ("~1", [">=1", "<2"]),
        (">=2, <3", [">=2", "<3"]),
        (">= 2 < 3", [">=2", "<3"]),
        ("1.4", ["==1.4"]),
        ("~=1.4", ["~=1.4"]),
        ("*", []),
        ("^1 || ^2", []),
    ],
)
def test_poetry_constraints_become_pep_440_ranges(constraint: str, clauses: list[str]) -> None:
    assert poetry_constraint(constraint) == clauses


def test_tox_extras_and_section_references_are_followed(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                name = "demo"
                [project.optional-dependencies]
                testing = ["pytest"]
                toml = ["tomli"]
            """,
            "tox.ini": """
                [base]
                deps =
                    hypothesis
                [testenv]
                extras = toml
                deps =
                    {[base]deps}
                    coverage
            """,
        },
    )
    args = _install(plan_setup(root).steps)
    assert args == ("-e", ".[testing,toml]", "hypothesis", "coverage")


def test_tox_configured_in_pyproject_is_read(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                name = "demo"
                [project.optional-dependencies]
                cli = ["click"]
                [tool.tox.env_run_base]
                extras = ["cli"]
                deps = ["pytest>=8"]
            """
        },
    )
    assert _install(plan_setup(root).steps) == ("-e", ".[cli]", "pytest>=8")


def test_extension_sources_key_the_cache_and_vendored_trees_do_not(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "setup.py": "",
            "src/fast/_speedups.c": "",
            "src/fast/_lib.pyx": "",
            "rust/Cargo.toml": "",
            "node_modules/x/binding.c": "",
            ".tox/py/lib.c": "",
            "src/fast/__init__.py": "",
        },
    )
    assert dependency_files(root) == (
        "rust/Cargo.toml",
        "setup.py",
        "src/fast/_lib.pyx",
        "src/fast/_speedups.c",
    )


def test_c_sources_the_build_names_but_lacks_are_made_by_cython_first(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "setup.py": 'Extension("fast._core", sources=["fast/_core.c"])\n',
            "requirements.txt": "cython==3.2.5\npytest\n",
            "fast/_core.pyx": "include '_part.pyx'\n",
            "fast/_part.pyx": "",
            "fast/_made.pyx": "",
            "fast/_made.c": "",
        },
    )
    plan = plan_setup(root)
    # Only the .c setup.py names and the checkout lacks; an included .pyx is never compiled alone.
    assert plan.steps[1:] == (
        ("uv", "pip", "install", "--python", f"{ENV_TARGET}/bin/python", "cython",
         "-r", "requirements.txt"),
        (f"{ENV_TARGET}/bin/cython", "fast/_core.pyx"),
        ("uv", "pip", "install", "--python", f"{ENV_TARGET}/bin/python", "-e", ".",
         "-r", "requirements.txt"),
    )  # fmt: skip
    assert "C sources made by Cython from fast/_core.pyx" in plan.summary
