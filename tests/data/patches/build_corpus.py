"""Rebuild the clean patch corpus from real releases on PyPI (needs the network; not run by tests).

For each pair of consecutive releases below, download both source distributions with
`pip download --no-deps --no-binary NAME NAME==X`, unpack them side by side, diff them with
`git diff --no-index -M`, and keep every text file change (and one multi-file change per
pair) with its exact pre- and post-image in `clean/<name>-<from>-<to>.json`.

Run from the repository root: `.venv/bin/python tests/data/patches/build_corpus.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

#: (package, older release, newer release, licence as declared by the package)
PAIRS: tuple[tuple[str, str, str, str], ...] = (
    ("six", "1.15.0", "1.16.0", "MIT"),
    ("tomli", "1.2.2", "1.2.3", "MIT"),
    ("tomli", "2.0.0", "2.0.1", "MIT"),
    ("iniconfig", "1.1.0", "1.1.1", "MIT"),
    ("colorama", "0.4.5", "0.4.6", "BSD-3-Clause"),
    ("wcwidth", "0.2.5", "0.2.6", "MIT"),
    ("tabulate", "0.8.9", "0.8.10", "MIT"),
    ("toml", "0.10.1", "0.10.2", "MIT"),
    ("itsdangerous", "2.1.1", "2.1.2", "BSD-3-Clause"),
    ("markupsafe", "2.1.1", "2.1.2", "BSD-3-Clause"),
    ("click", "8.1.6", "8.1.7", "BSD-3-Clause"),
    ("more-itertools", "9.0.0", "9.1.0", "MIT"),
    ("packaging", "23.0", "23.1", "Apache-2.0 OR BSD-2-Clause"),
    ("pyparsing", "3.0.8", "3.0.9", "MIT"),
    ("h11", "0.13.0", "0.14.0", "MIT"),
    ("sniffio", "1.2.0", "1.3.0", "MIT OR Apache-2.0"),
    ("attrs", "22.1.0", "22.2.0", "MIT"),
    ("pluggy", "1.2.0", "1.3.0", "MIT"),
    ("python-dotenv", "1.0.0", "1.0.1", "BSD-3-Clause"),
    ("jinja2", "3.1.2", "3.1.3", "BSD-3-Clause"),
)

MAX_FILE_BYTES = 24_000
MAX_SECTION_BYTES = 20_000
MAX_CASES_PER_PAIR = 14
MAX_MULTI_FILES = 5
SKIP_PARTS = (".egg-info", "__pycache__")
HERE = Path(__file__).resolve().parent
GIT_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def download(name: str, version: str, dest: Path) -> Path:
    before = set(dest.iterdir())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            name,
            f"{name}=={version}",
            "-d",
            str(dest),
        ],
        check=True,
    )
    new = set(dest.iterdir()) - before
    if new:
        return new.pop()
    stem = name.replace("-", "_").lower()
    for path in dest.iterdir():
        if path.name.lower().replace("-", "_").startswith(f"{stem}-{version}"):
            return path
    raise FileNotFoundError(f"{name}=={version}: no sdist downloaded")


def unpack(archive: Path, dest: Path) -> Path:
    dest.mkdir()
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    (top,) = list(dest.iterdir())
    return top


def read_text(root: Path, rel: str) -> str | None:
    path = root / rel
    if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
        return None
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None


def rewrite_header(line: str) -> str:
    for old, new in (
        ("a/old/", "a/"),
        ("a/new/", "a/"),
        ("b/old/", "b/"),
        ("b/new/", "b/"),
        ("rename from old/", "rename from "),
        ("rename to new/", "rename to "),
    ):
        line = line.replace(old, new)
    return line


def sections(diff: str) -> list[str]:
    out: list[str] = []
    for chunk in diff.split("\ndiff --git ")[0:]:
        text = chunk if chunk.startswith("diff --git ") else "diff --git " + chunk
        head, sep, body = text.partition("\n@@")
        head = "\n".join(rewrite_header(h) for h in head.split("\n"))
        text = head + sep + body
        out.append(text if text.endswith("\n") else text + "\n")
    return out


def section_paths(section: str) -> tuple[str | None, str | None]:
    old = new = None
    for line in section.split("\n"):
        if line.startswith("@@"):
            break
        if line.startswith("--- "):
            old = None if line[4:] == "/dev/null" else line[6:]
        elif line.startswith("+++ "):
            new = None if line[4:] == "/dev/null" else line[6:]
        elif line.startswith("rename from "):
            old = line[len("rename from ") :]
        elif line.startswith("rename to "):
            new = line[len("rename to ") :]
    return old, new


def make_case(sections_: list[str], old_root: Path, new_root: Path) -> dict[str, object] | None:
    pre: dict[str, str] = {}
    post: dict[str, str] = {}
    kinds = []
    for section in sections_:
        if "Binary files" in section or "GIT binary patch" in section or "\ufffd" in section:
            return None
        if len(section) > MAX_SECTION_BYTES or ("@@" not in section and "rename" not in section):
            return None
        old, new = section_paths(section)
        if old is None and new is None:
            return None
        if any(p in (old or "") + (new or "") for p in SKIP_PARTS):
            return None
        if old is not None:
            text = read_text(old_root, old)
            if text is None:
                return None
            pre[old] = text
        if new is not None:
            text = read_text(new_root, new)
            if text is None:
                return None
            post[new] = text
        kinds.append(
            "create"
            if old is None
            else "delete"
            if new is None
            else "rename"
            if old != new
            else "modify"
        )
    return {
        "kind": kinds[0] if len(kinds) == 1 else "multi",
        "patch": "".join(sections_),
        "pre": pre,
        "post": post,
    }


def spread(items: list[dict[str, object]], limit: int) -> list[dict[str, object]]:
    if len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def build_pair(name: str, old_v: str, new_v: str, licence: str, cache: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        archives = {v: download(name, v, cache) for v in (old_v, new_v)}
        old_top = unpack(archives[old_v], tmp / "x-old")
        new_top = unpack(archives[new_v], tmp / "x-new")
        old_top.rename(tmp / "old")
        new_top.rename(tmp / "new")
        proc = subprocess.run(
            ["git", "diff", "--no-index", "-M", "--no-color", "--no-ext-diff", "old", "new"],
            cwd=tmp,
            capture_output=True,
            env=GIT_ENV,
            check=False,
        )
        if proc.returncode not in (0, 1):
            raise RuntimeError(proc.stderr.decode(errors="replace"))
        # Bytes, not text=True: universal newlines would drop the CRs of CRLF files.
        diff = proc.stdout.decode("utf-8", errors="replace")
        secs = sections(diff) if diff else []
        singles = [c for s in secs if (c := make_case([s], tmp / "old", tmp / "new"))]
        cases = spread(singles, MAX_CASES_PER_PAIR)
        usable = [s for s in secs if make_case([s], tmp / "old", tmp / "new")]
        if len(usable) >= 2:
            multi = make_case(usable[:MAX_MULTI_FILES], tmp / "old", tmp / "new")
            if multi is not None:
                cases.append(multi)
        licence_text = ""
        for cand in ("LICENSE", "LICENSE.txt", "LICENSE.rst", "LICENCE", "COPYING", "LICENSE.md"):
            if (tmp / "new" / cand).is_file():
                licence_text = (tmp / "new" / cand).read_text(encoding="utf-8", errors="replace")
                break
        pair_id = f"{name}-{old_v}-{new_v}"
        for i, case in enumerate(cases):
            case["id"] = f"{pair_id}/{i:02d}"
        record = {
            "package": name,
            "from": old_v,
            "to": new_v,
            "licence": licence,
            "sdists": {
                a.name: hashlib.sha256(a.read_bytes()).hexdigest() for a in archives.values()
            },
            "how": f"pip download --no-deps --no-binary {name} {name}=={old_v} / =={new_v}; "
            "git diff --no-index -M old new (a/old/, b/new/ rewritten to a/, b/)",
            "licence_text": licence_text,
            "cases": cases,
        }
        out = HERE / "clean" / f"{pair_id}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        sys.stdout.write(f"{pair_id}: {len(cases)} cases\n")


def main() -> None:
    cache = Path(tempfile.gettempdir()) / "ambient-sdists"
    cache.mkdir(exist_ok=True)
    for name, old_v, new_v, licence in PAIRS:
        try:
            build_pair(name, old_v, new_v, licence, cache)
        except (subprocess.CalledProcessError, RuntimeError, FileNotFoundError) as exc:
            sys.stdout.write(f"{name} {old_v}->{new_v}: skipped ({exc})\n")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
