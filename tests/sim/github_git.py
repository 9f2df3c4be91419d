"""Bare-repository operations for the GitHub simulator, each an async git subprocess."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.sim.github_git_diff import DiffFile, diff_files

__all__ = [
    "CommitInfo",
    "DiffFile",
    "Git",
    "GitFailed",
    "Person",
    "TreeEdit",
    "TreeEntry",
]

ROOT = Path(__file__).resolve().parents[2]
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class GitFailed(Exception):
    """A git command exited non-zero; `stderr` says why."""

    def __init__(self, argv: tuple[str, ...], code: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(argv)} exited {code}: {stderr.strip()}")
        self.code = code
        self.stderr = stderr


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str
    date: int  # unix seconds
    tz: str = "+0000"


@dataclass(frozen=True, slots=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Person
    committer: Person
    message: str
    signed: bool


@dataclass(frozen=True, slots=True)
class TreeEntry:
    mode: str
    type: str
    sha: str
    size: int | None
    path: str


@dataclass(frozen=True, slots=True)
class TreeEdit:
    """One entry of a create-tree call: `sha None` deletes `path`."""

    path: str
    mode: str
    sha: str | None


def _parse_person(value: str) -> Person:
    name, _, rest = value.partition(" <")
    email, _, stamp = rest.partition("> ")
    seconds, _, tz = stamp.partition(" ")
    return Person(name=name, email=email, date=int(seconds), tz=tz or "+0000")


def parse_commit(sha: str, raw: bytes) -> CommitInfo:
    """Parse `git cat-file commit` output."""
    text = raw.decode("utf-8", "replace")
    header, _, message = text.partition("\n\n")
    fields: dict[str, list[str]] = {}
    for line in header.splitlines():
        if line.startswith(" "):
            continue  # continuation of a multi-line gpgsig header
        key, _, value = line.partition(" ")
        fields.setdefault(key, []).append(value)
    return CommitInfo(
        sha=sha,
        tree=fields["tree"][0],
        parents=tuple(fields.get("parent", [])),
        author=_parse_person(fields["author"][0]),
        committer=_parse_person(fields["committer"][0]),
        message=message,
        signed="gpgsig" in fields,
    )


class Git:
    """Runs git against one bare repository (GIT_DIR), never through a shell."""

    def __init__(self, git_dir: Path) -> None:
        self.git_dir = git_dir

    async def run(
        self,
        *args: str,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok_codes: tuple[int, ...] = (0,),
    ) -> bytes:
        full_env = {**os.environ, "GIT_DIR": str(self.git_dir), **(env or {})}
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=full_env,
        )
        out, err = await proc.communicate(stdin)
        code = proc.returncode if proc.returncode is not None else -1
        if code not in ok_codes:
            raise GitFailed(args, code, err.decode("utf-8", "replace"))
        return out

    async def code(self, *args: str) -> int:
        """The exit status of a git command (for predicates such as --is-ancestor)."""
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "GIT_DIR": str(self.git_dir)},
        )
        return await proc.wait()

    async def init_bare(self, default_branch: str) -> None:
        """Create the bare repository with the sim's push-policy hook installed."""
        self.git_dir.parent.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            "git",
            "init",
            "--quiet",
            "--bare",
            "--template=",
            f"--initial-branch={default_branch}",
            str(self.git_dir),
            stdout=asyncio.subprocess.DEVNULL,
        )
        if await proc.wait() != 0:
            raise GitFailed(("init",), 1, f"cannot create {self.git_dir}")
        with (self.git_dir / "config").open("a") as config:
            config.write("[http]\n\treceivepack = true\n")
        (self.git_dir / "hooks").mkdir(exist_ok=True)
        hook = self.git_dir / "hooks" / "pre-receive"
        hook.write_text(
            "#!/bin/sh\n"
            f"PYTHONPATH={shlex.quote(str(ROOT))} "
            f"exec {shlex.quote(sys.executable)} -m tests.sim.github_hook\n"
        )
        hook.chmod(0o755)

    # objects

    async def hash_object(self, data: bytes) -> str:
        return (await self.run("hash-object", "-w", "--stdin", stdin=data)).decode().strip()

    async def object_type(self, sha: str) -> str | None:
        out = await self.run("cat-file", "-t", sha, ok_codes=(0, 1, 128))
        kind = out.decode().strip()
        return kind or None

    async def read_blob(self, sha: str) -> bytes:
        return await self.run("cat-file", "blob", sha)

    async def read_commit(self, sha: str) -> CommitInfo:
        return parse_commit(sha, await self.run("cat-file", "commit", sha))

    async def ls_tree(self, tree: str, *, recursive: bool = False) -> list[TreeEntry]:
        args = ["ls-tree", "-z", "-l"]
        if recursive:
            args += ["-r", "-t"]
        out = await self.run(*args, tree)
        entries: list[TreeEntry] = []
        for record in out.decode("utf-8", "surrogateescape").split("\0"):
            if not record:
                continue
            meta, _, path = record.partition("\t")
            mode, kind, sha, size = meta.split()
            entries.append(TreeEntry(mode, kind, sha, None if size == "-" else int(size), path))
        return entries

    async def edit_tree(self, base_tree: str | None, edits: list[TreeEdit]) -> str:
        """Apply create-tree entries on top of `base_tree` (nested paths allowed)."""
        with tempfile.TemporaryDirectory(prefix="sim-index-") as tmp:
            # an empty work tree: update-index refuses --force-remove without one
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": tmp}
            await self.run("read-tree", base_tree or "--empty", env=env)
            for edit in edits:
                await self._remove_path(edit.path, env)
                if edit.sha is None:
                    continue
                if edit.mode == "040000":
                    await self.run("read-tree", f"--prefix={edit.path}/", edit.sha, env=env)
                else:
                    cacheinfo = f"{edit.mode},{edit.sha},{edit.path}"
                    await self.run("update-index", "--add", "--cacheinfo", cacheinfo, env=env)
            return (await self.run("write-tree", env=env)).decode().strip()

    async def _remove_path(self, path: str, env: dict[str, str]) -> None:
        listed = await self.run("ls-files", "-z", "--", path, env=env)
        names = [name for name in listed.decode().split("\0") if name]
        if names:
            await self.run(
                "update-index",
                "--force-remove",
                "-z",
                "--stdin",
                stdin="\0".join(names).encode() + b"\0",
                env=env,
            )

    async def commit_tree(
        self,
        tree: str,
        parents: list[str],
        message: str,
        author: Person,
        committer: Person,
    ) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": f"{author.date} {author.tz}",
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": f"{committer.date} {committer.tz}",
        }
        out = await self.run(*args, stdin=message.encode(), env=env)
        return out.decode().strip()

    async def import_commit(
        self,
        ref: str,
        parent: str | None,
        files: Mapping[str, bytes | None],
        executable: set[str],
        message: str,
        author: Person,
    ) -> str:
        """One commit of `files` on top of `parent`, written by a single `git fast-import`."""
        stream = bytearray()
        stamp = f"{author.name} <{author.email}> {author.date} {author.tz}\n".encode()
        msg = message.encode()
        stream += f"commit {ref}\nmark :1\n".encode()
        stream += b"author " + stamp + b"committer " + stamp
        stream += f"data {len(msg)}\n".encode() + msg + b"\n"
        if parent:
            stream += f"from {parent}\n".encode()
        for path, content in sorted(files.items()):
            quoted = '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
            if content is None:
                stream += f"D {quoted}\n".encode()
                continue
            mode = "100755" if path in executable else "100644"
            stream += f"M {mode} inline {quoted}\ndata {len(content)}\n".encode()
            stream += content + b"\n"
        with tempfile.TemporaryDirectory(prefix="sim-marks-") as tmp:
            marks = Path(tmp) / "marks"
            await self.run(
                "fast-import", "--quiet", "--force", f"--export-marks={marks}", stdin=bytes(stream)
            )
            return marks.read_text().split()[1]

    # refs

    async def ref_sha(self, ref: str) -> str | None:
        out = await self.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", ok_codes=(0, 1))
        return out.decode().strip() or None

    async def resolve(self, rev: str) -> str | None:
        """A branch name, tag, full ref or sha, resolved to a commit sha (None if unknown)."""
        for candidate in (f"refs/heads/{rev}", f"refs/tags/{rev}", rev):
            if candidate.startswith("-"):
                return None
            sha = await self.ref_sha(candidate)
            if sha:
                return sha
        return None

    async def list_refs(self, prefix: str) -> list[tuple[str, str]]:
        out = await self.run("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        pairs = [line.split(" ", 1) for line in out.decode().splitlines() if line]
        return [(name, sha) for name, sha in pairs]

    async def update_ref(self, ref: str, new: str, old: str | None = None) -> None:
        """Move `ref` to `new`, atomically checking it still points at `old` when given."""
        args = ["update-ref", ref, new]
        if old is not None:
            args.append(old)
        await self.run(*args)

    async def delete_ref(self, ref: str) -> None:
        await self.run("update-ref", "-d", ref)

    async def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return await self.code("merge-base", "--is-ancestor", ancestor, descendant) == 0

    async def merge_base(self, a: str, b: str) -> str | None:
        out = await self.run("merge-base", a, b, ok_codes=(0, 1))
        return out.decode().strip() or None

    async def rev_list(self, *args: str) -> list[str]:
        return (await self.run("rev-list", *args)).decode().split()

    async def diff(self, base: str, head: str) -> list[DiffFile]:
        """Files changed from `base` to `head`, as GitHub lists them (with per-file patches)."""
        return await diff_files(self, base, head)
