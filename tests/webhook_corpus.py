"""Every recorded webhook body in tests/data/webhooks, with its event name and content type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data" / "webhooks"
OCTOKIT = DATA / "octokit-payload-examples" / "api.github.com"
OPENAPI = DATA / "openapi-webhook-examples"
SELECTED = DATA / "selected"


@dataclass(frozen=True)
class Sample:
    name: str
    event: str
    body: bytes
    content_type: str = "application/json"

    @property
    def payload(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.body)
        return data


def octokit_samples() -> Iterator[Sample]:
    for path in sorted(OCTOKIT.glob("*/*.json")):
        yield Sample(f"octokit/{path.parent.name}/{path.name}", path.parent.name, path.read_bytes())


def openapi_samples() -> Iterator[Sample]:
    headers = json.loads((OPENAPI / "_header_examples_by_webhook.json").read_text())
    for path in sorted(OPENAPI.glob("*.json")):
        if path.name.startswith("_"):
            continue
        key = path.stem.removesuffix("-form-encoded")
        event = headers[key]["X-Github-Event"]
        document = json.loads(path.read_text())
        if path.stem.endswith("-form-encoded"):
            body = ("payload=" + document["payload"]).encode()
            yield Sample(f"openapi/{path.name}", event, body, "application/x-www-form-urlencoded")
        else:
            yield Sample(f"openapi/{path.name}", event, path.read_bytes())


def selected(name: str) -> Sample:
    path = SELECTED / f"{name}.json"
    return Sample(f"selected/{path.name}", name.split(".")[0], path.read_bytes())


def all_samples() -> list[Sample]:
    samples = [*octokit_samples(), *openapi_samples()]
    samples += [selected(p.stem) for p in sorted(SELECTED.glob("*.json"))]
    return samples
