"""Risk by rules, on top of what the model claims: pure, so every rule has a plain test.

The model's `risk_level` is a claim, never lowered. Rules raise it to at least `high` when a
proposal touches authentication, payment or cryptography (by path, by tag, or by the code its
diff changes), CI workflows or dependency manifests, or changes more than `high_lines` lines
(added plus removed, counted from the diff itself). A proposal touching more than `max_files`
files is rejected outright: nobody reviews that well, and it is rarely one change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Final

from agents.proposal import Proposal, RiskLevel, diff_paths

__all__ = [
    "DEPENDENCY_MANIFESTS",
    "RISK_RANK",
    "RiskDecision",
    "RiskRules",
    "assess",
    "changed_lines",
]

#: Risk levels in increasing order, for comparisons.
RISK_RANK: Final[Mapping[str, int]] = MappingProxyType(
    {"low": 0, "medium": 1, "high": 2, "critical": 3}
)

#: File names (any directory) that declare or pin dependencies.
DEPENDENCY_MANIFESTS: Final = (
    "pyproject.toml", "setup.py", "setup.cfg", "requirements*.txt", "requirements*.in",
    "constraints*.txt", "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock", "pdm.lock",
    "package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.toml",
    "Cargo.lock", "go.mod", "go.sum", "Gemfile", "Gemfile.lock", "composer.json",
    "composer.lock", "pom.xml", "build.gradle", "build.gradle.kts", "environment.yml",
)  # fmt: skip

_TOPIC_WORDS: Final = {
    "authentication": frozenset(
        {"auth", "authn", "authz", "login", "logout", "oauth", "oidc", "saml", "sso", "jwt",
         "password", "passwords", "passwd", "permission", "permissions", "acl", "rbac",
         "credential", "credentials"}
    ),
    "payment": frozenset(
        {"payment", "payments", "billing", "invoice", "invoices", "checkout", "stripe",
         "paypal", "braintree", "adyen", "refund", "refunds"}
    ),
    "cryptography": frozenset(
        {"crypto", "cryptography", "crypt", "cipher", "encrypt", "encryption", "decrypt",
         "hashing", "signing", "hmac", "tls", "ssl", "pki"}
    ),
}  # fmt: skip
# "authenticate", "authorization", "cryptographic"; never "author" or "authors".
_TOPIC_PREFIXES: Final = {
    "authentication": ("authent", "authori"),
    "payment": ("payment",),
    "cryptography": ("crypt",),
}
# Changed lines that call or import cryptographic code, whatever file they are in.
_CRYPTO_CODE: Final = re.compile(
    r"\b(hashlib|hmac|bcrypt|argon2|scrypt|pbkdf2|cryptography|Crypto\.|nacl|jwt|ssl\.|"
    r"secrets\.(token|compare)|createHash|createCipher|crypto\.subtle)\b"
)
_WORD: Final = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True, slots=True)
class RiskRules:
    """The thresholds of the rules (a repository may tighten them)."""

    high_lines: int = 500
    max_files: int = 10


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The level after the rules, whether the proposal is refused, and each rule that fired."""

    level: RiskLevel
    rejected: bool
    reasons: tuple[str, ...]

    @property
    def needs_approval(self) -> bool:
        """True for high and critical: a maintainer decides before it is published."""
        return RISK_RANK[self.level] >= RISK_RANK["high"]


def _words(path: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(path)]


def _path_topic(path: str) -> str | None:
    words = _words(path)
    for topic, vocabulary in _TOPIC_WORDS.items():
        prefixes = _TOPIC_PREFIXES[topic]
        if any(w in vocabulary or w.startswith(prefixes) for w in words):
            return topic
    return None


def _is_manifest(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(fnmatchcase(name, pattern) for pattern in DEPENDENCY_MANIFESTS)


def _is_workflow(path: str) -> bool:
    return path.startswith((".github/workflows/", ".circleci/")) or path == ".gitlab-ci.yml"


def changed_lines(diff: str) -> tuple[list[str], list[str]]:
    """The lines a unified diff adds and removes (without their `+` / `-`)."""
    added: list[str] = []
    removed: list[str] = []
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++ "):
            added.append(line[1:])
        elif line.startswith("-") and not line.startswith("--- "):
            removed.append(line[1:])
    return added, removed


def _path_reasons(paths: Iterable[str]) -> list[str]:
    reasons: list[str] = []
    for path in paths:
        if _is_workflow(path):
            reasons.append(f"changes a CI workflow ({path})")
        elif _is_manifest(path):
            reasons.append(f"changes a dependency manifest ({path})")
        elif topic := _path_topic(path):
            reasons.append(f"touches {topic} code ({path})")
    return reasons


def _content_reasons(proposal: Proposal, changed: list[str]) -> list[str]:
    reasons: list[str] = []
    tags = {t.lower() for t in proposal.tags}
    for topic, vocabulary in _TOPIC_WORDS.items():
        tagged = sorted(tags & vocabulary)
        if tagged:
            reasons.append(f"tagged {', '.join(tagged)} ({topic})")
    if any(_CRYPTO_CODE.search(line) for line in changed):
        reasons.append("changes lines that use cryptographic code")
    return reasons


def assess(proposal: Proposal, rules: RiskRules = RiskRules()) -> RiskDecision:
    """The risk of `proposal`: its claim, raised by the rules; rejected past `max_files`."""
    paths = tuple(dict.fromkeys((*diff_paths(proposal.diff), *proposal.files_touched)))
    added, removed = changed_lines(proposal.diff)
    reasons = _path_reasons(paths) + _content_reasons(proposal, added + removed)
    size = len(added) + len(removed)
    if size > rules.high_lines:
        reasons.append(f"changes {size} lines (more than {rules.high_lines})")
    level = proposal.risk_level
    if reasons and RISK_RANK[level] < RISK_RANK["high"]:
        level = "high"
    rejected = len(paths) > rules.max_files
    if rejected:
        reasons.append(f"touches {len(paths)} files (more than {rules.max_files}); split it")
    return RiskDecision(level, rejected, tuple(reasons))
