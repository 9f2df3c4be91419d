"""A build's generated files laid into the checks' workspace (`Provision.generated`), on both
backends: laid where the workspace has nothing, read by the command, taken away at close, and
never written through a symlink out of the workspace."""

from __future__ import annotations

from pathlib import Path

from sandbox import Command, Provision
from sandbox.generated import GeneratedFiles
from tests.fixtures.sandbox import SandboxFactory


def _files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


async def test_generated_files_are_there_for_every_command_and_gone_at_close(
    sandbox_factory: SandboxFactory, sandbox_workspace: Path, tmp_path: Path
) -> None:
    generated = _files(
        tmp_path / "generated",
        {
            "pkg/_version.py": "VERSION = 'built'\n",
            "pkg/ext/speedups.txt": "compiled\n",
            "README.md": "the build's copy\n",
        },
    )
    _files(sandbox_workspace, {"pkg/__init__.py": "", "README.md": "the proposal's\n"})
    sandbox = await sandbox_factory(sandbox_workspace, provision=Provision(generated=generated))
    read = Command(("python", "-c", "import pkg._version as v; print(v.VERSION)"))
    first = await sandbox.run(read)
    assert (first.ok, first.stdout) == (True, "built\n"), first.stderr
    # A command that removes a laid file finds it again at the next command.
    gone = await sandbox.run(Command(("python", "-c", "import os; os.remove('pkg/_version.py')")))
    assert gone.ok, gone.stderr
    again = await sandbox.run(read)
    assert again.stdout == "built\n", again.stderr
    # What the workspace has is never replaced.
    assert (sandbox_workspace / "README.md").read_text() == "the proposal's\n"
    assert (sandbox_workspace / "pkg" / "ext" / "speedups.txt").read_text() == "compiled\n"
    await sandbox.close()
    assert not (sandbox_workspace / "pkg" / "_version.py").exists()
    assert not (sandbox_workspace / "pkg" / "ext").exists()
    assert (sandbox_workspace / "pkg" / "__init__.py").exists()
    assert (sandbox_workspace / "README.md").read_text() == "the proposal's\n"
    assert (generated / "pkg" / "_version.py").read_text() == "VERSION = 'built'\n"


def test_nothing_is_laid_through_a_symlink_out_of_the_workspace(tmp_path: Path) -> None:
    generated = _files(tmp_path / "generated", {"pkg/_version.py": "x\n", "ok/a.txt": "a\n"})
    outside = tmp_path / "outside"
    outside.mkdir()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "pkg").symlink_to(outside)
    laid = GeneratedFiles(generated, workspace)
    assert laid.lay() == 1
    assert list(outside.iterdir()) == []
    assert (workspace / "ok" / "a.txt").read_text() == "a\n"
    assert laid.lay() == 0  # already there
    laid.remove()
    assert sorted(p.name for p in workspace.iterdir()) == ["pkg"]
