"""A detect-secrets plugin that runs the kept gitleaks rule set (`bot/secrets/rules/`).

detect-secrets loads this file by path (`file://…/ruleset.py` in `plugins_used`), so its only
public class is the plugin. Each finding's type is the gitleaks rule id, and the finding
carries the rule and the reason it counted (`ambient_rule`, `ambient_why`), which the gate
reports beside the location. Licence of the rules: MIT (gitleaks), see rules/PROVENANCE.md.
"""

# ruff: noqa: S105 - `secret_type` names a kind of secret; it holds no secret.
from __future__ import annotations

from collections.abc import Generator
from typing import Any

from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.plugins.base import BasePlugin

from bot.secrets.ruleset import gitleaks_rules


class GitleaksRulesDetector(BasePlugin):
    """The vendor rules of gitleaks' default configuration, with their keywords, entropy
    floors and allowlists (path allowlists excepted: a proposal chooses its paths)."""

    secret_type = "Gitleaks rule"
    ambient_rule_set = True
    ambient_context_filters = True
    ambient_generic = False

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        """The values the rules find in `string`."""
        for match in gitleaks_rules().matches(string):
            if match.rule.generic == self.ambient_generic:
                yield match.secret

    def analyze_line(
        self, filename: str, line: str, line_number: int = 0, context: Any = None, **kwargs: Any
    ) -> set[PotentialSecret]:
        """One potential secret per rule match, typed by the rule id."""
        found: set[PotentialSecret] = set()
        for match in gitleaks_rules().matches(line, filename):
            if match.rule.generic != self.ambient_generic:
                continue
            potential = PotentialSecret(
                type=f"{match.rule.id} (gitleaks)",
                filename=filename,
                secret=match.secret,
                line_number=line_number,
            )
            potential.ambient_rule = f"gitleaks:{match.rule.id}"  # type: ignore[attr-defined]
            potential.ambient_why = match.why()  # type: ignore[attr-defined]
            found.add(potential)
        return found


class GitleaksGenericDetector(GitleaksRulesDetector):
    """gitleaks' keyword-guessing rules (`generic-api-key`): filtered as guesses are."""

    secret_type = "Gitleaks generic rule"
    ambient_rule_set = False
    ambient_generic = True
