"""Cut GitHub's dereferenced REST description down to the operations the simulator serves.

Run from the repository root: `python tests/data/github-openapi/trim.py [SOURCE]`. SOURCE
defaults to the dereferenced @octokit/openapi 23.0.2 description kept beside the project
(`../shared/corpora/github-openapi/api.github.com.deref.octokit-openapi-23.0.2.json.gz`).
It writes `operations.json` beside this script: for each served (method, path), the JSON
schemas of its responses and of its request body. Subtrees that repeat are stored once
under `$defs` and referenced with `$ref`, which keeps the file small and jsonschema-valid.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = (
    HERE.parents[3]
    / "shared"
    / "corpora"
    / "github-openapi"
    / "api.github.com.deref.octokit-openapi-23.0.2.json.gz"
)

SERVED = [
    ("get", "/app"),
    ("get", "/app/installations"),
    ("get", "/repos/{owner}/{repo}/installation"),
    ("post", "/app/installations/{installation_id}/access_tokens"),
    ("get", "/app/hook/deliveries"),
    ("get", "/app/hook/deliveries/{delivery_id}"),
    ("post", "/app/hook/deliveries/{delivery_id}/attempts"),
    ("get", "/installation/repositories"),
    ("post", "/app-manifests/{code}/conversions"),
    ("get", "/repos/{owner}/{repo}"),
    ("get", "/repos/{owner}/{repo}/branches/{branch}"),
    ("get", "/repos/{owner}/{repo}/branches/{branch}/protection"),
    ("get", "/repos/{owner}/{repo}/rules/branches/{branch}"),
    ("get", "/repos/{owner}/{repo}/contents/{path}"),
    ("get", "/repos/{owner}/{repo}/collaborators/{username}/permission"),
    ("get", "/repos/{owner}/{repo}/compare/{basehead}"),
    ("post", "/repos/{owner}/{repo}/git/blobs"),
    ("get", "/repos/{owner}/{repo}/git/blobs/{file_sha}"),
    ("post", "/repos/{owner}/{repo}/git/trees"),
    ("get", "/repos/{owner}/{repo}/git/trees/{tree_sha}"),
    ("post", "/repos/{owner}/{repo}/git/commits"),
    ("get", "/repos/{owner}/{repo}/git/commits/{commit_sha}"),
    ("get", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("get", "/repos/{owner}/{repo}/git/matching-refs/{ref}"),
    ("post", "/repos/{owner}/{repo}/git/refs"),
    ("patch", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("delete", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("get", "/repos/{owner}/{repo}/pulls"),
    ("post", "/repos/{owner}/{repo}/pulls"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("patch", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/comments"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies"),
    ("get", "/repos/{owner}/{repo}/issues"),
    ("post", "/repos/{owner}/{repo}/issues"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("patch", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("get", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("post", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/reactions"),
    ("post", "/repos/{owner}/{repo}/check-runs"),
    ("patch", "/repos/{owner}/{repo}/check-runs/{check_run_id}"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}/check-suites"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"),
    ("get", "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs"),
]


def _json_schema(content: dict[str, Any] | None) -> Any:
    if not content:
        return None
    for media, body in content.items():
        if "json" in media:
            return body.get("schema")
    return None


_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_PROSE = ("description", "example", "examples", "title", "externalDocs")


def _fix_description_bugs(node: Any) -> Any:
    """Undo one known slip of the dereferenced file.

    An installation's `account` is `anyOf: [simple-user, enterprise]` in the description's
    components (`components.schemas.installation`), but the inlined copies say `allOf`, which
    no real answer from GitHub satisfies (a user account has no `slug`).
    """
    if isinstance(node, list):
        return [_fix_description_bugs(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _fix_description_bugs(v) for k, v in node.items()}
    members = out.get("allOf")
    titles = [m.get("title") for m in members] if isinstance(members, list) else []
    if titles == ["Simple User", "Enterprise"]:
        out["anyOf"] = out.pop("allOf")
    return out


def _strip(node: Any) -> Any:
    """Drop prose and examples, and turn OpenAPI 3.0's `nullable` into JSON Schema's null."""
    if isinstance(node, list):
        return [_strip(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strip(v) for k, v in node.items() if k not in _PROSE and k != "nullable"}
    if not node.get("nullable"):
        return out
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    if "type" in out:
        out["type"] = [out["type"], "null"]
        return out
    return {"anyOf": [{"type": "null"}, out]}


class _Dedup:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.defs: dict[str, Any] = {}

    @staticmethod
    def key(node: Any) -> str:
        return hashlib.sha256(json.dumps(node, sort_keys=True).encode()).hexdigest()[:16]

    def count(self, node: Any) -> None:
        if isinstance(node, dict):
            if len(json.dumps(node)) > 400:
                k = self.key(node)
                self.counts[k] = self.counts.get(k, 0) + 1
            for v in node.values():
                self.count(v)
        elif isinstance(node, list):
            for v in node:
                self.count(v)

    def fold(self, node: Any, top: bool = False) -> Any:
        """Replace repeated sub-schemas by $ref; keyword maps such as `properties` stay put."""
        if isinstance(node, list):
            return [self.fold(v) for v in node]
        if not isinstance(node, dict):
            return node
        folded = {}
        for key, value in node.items():
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                folded[key] = {name: self.fold(v) for name, v in value.items()}
            else:
                folded[key] = self.fold(value)
        k = self.key(node)
        if not top and self.counts.get(k, 0) > 1 and len(json.dumps(node)) > 400:
            self.defs.setdefault(k, folded)
            return {"$ref": f"#/$defs/{k}"}
        return folded


def trim(source: Path) -> dict[str, Any]:
    raw = gzip.decompress(source.read_bytes())
    spec = json.loads(raw)
    operations: dict[str, Any] = {}
    for method, path in SERVED:
        op = spec["paths"][path][method]
        responses = {
            status: _strip(_fix_description_bugs(_json_schema(resp.get("content"))))
            for status, resp in op["responses"].items()
        }
        request = _strip(_json_schema((op.get("requestBody") or {}).get("content")))
        operations.setdefault(path, {})[method] = {
            "operationId": op["operationId"],
            "responses": responses,
            "requestBody": request,
        }
    dedup = _Dedup()
    schemas = [
        s
        for methods in operations.values()
        for op in methods.values()
        for s in [*op["responses"].values(), op["requestBody"]]
        if s is not None
    ]
    for schema in schemas:
        dedup.count(schema)
    for methods in operations.values():
        for op in methods.values():
            op["responses"] = {
                status: dedup.fold(s, top=True) if s is not None else None
                for status, s in op["responses"].items()
            }
            if op["requestBody"] is not None:
                op["requestBody"] = dedup.fold(op["requestBody"], top=True)
    return {
        "source": f"@octokit/openapi 23.0.2, {source.name}",
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "openapi_version": spec["info"]["version"],
        "$defs": dedup.defs,
        "paths": operations,
    }


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    if not source.exists():
        sys.exit(f"trim.py: {source} not found; pass the dereferenced description's path")
    out = HERE / "operations.json"
    out.write_text(json.dumps(trim(source), indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {out} ({out.stat().st_size} bytes)\n")


if __name__ == "__main__":
    main()
