"""Ambient's extensions to detect-secrets: custom plugins, filters and the two configurations.

`gate_config()` is what the secret gate runs: every built-in plugin but the public-IP one,
Ambient's regex plugins (loaded through detect-secrets' own `file://` plugin mechanism), the
default filters minus those a proposal could use to slip a secret past the gate, and Ambient's
filters. `baseline_config()` is detect-secrets' defaults, for comparison in the benchmark.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "DISABLED_DEFAULT_FILTERS",
    "PLUGIN_FILES",
    "baseline_config",
    "custom_plugin_names",
    "gate_config",
]

_HERE = Path(__file__).resolve().parent
PLUGIN_FILES: tuple[Path, ...] = (
    _HERE / "cloud.py",
    _HERE / "saas.py",
    _HERE / "generic.py",
    _HERE / "families.py",
    _HERE / "ruleset.py",
)
_FILTERS_FILE = _HERE / "filters.py"

_CUSTOM_PLUGINS: dict[str, tuple[str, ...]] = {
    "cloud.py": (
        "AwsSecretDetector",
        "GoogleCloudDetector",
        "AzureDetector",
        "CodeHostTokenDetector",
        "SlackExtraDetector",
        "PackageRegistryDetector",
        "PlatformTokenDetector",
    ),
    "saas.py": ("AiProviderKeyDetector", "PaymentKeyDetector", "SaasApiKeyDetector"),
    "generic.py": (
        "AuthorizationHeaderDetector",
        "TokenAssignmentDetector",
        "PasswordAssignmentDetector",
        "UrlCredentialDetector",
        "PrivateKeyExtraDetector",
    ),
    "families.py": (
        "CommandLineCredentialDetector",
        "SqlPasswordDetector",
        "ConfigPasswordDetector",
        "PlainPasswordDetector",
        "CredentialCallDetector",
        "EncodedPrivateKeyDetector",
    ),
    "ruleset.py": ("GitleaksRulesDetector", "GitleaksGenericDetector"),
}

_BUILTIN_PLUGINS: tuple[str, ...] = (
    "ArtifactoryDetector",
    "AWSKeyDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "CloudantDetector",
    "DiscordBotTokenDetector",
    "IbmCloudIamDetector",
    "IbmCosHmacDetector",
    "JwtTokenDetector",
    "KeywordDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SoftlayerDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)
# Built-ins the gate leaves out: a public IP address is not a credential; the GitHub and
# GitLab detectors report only the token prefix as the secret (a capture group), so their
# hashes all collide and no filter sees the value; CodeHostTokenDetector replaces them.
_LEFT_OUT_BUILTINS = ("IPPublicDetector", "GitHubTokenDetector", "GitLabTokenDetector")

_DEFAULT_FILTERS: tuple[str, ...] = (
    "detect_secrets.filters.heuristic.is_sequential_string",
    "detect_secrets.filters.heuristic.is_likely_id_string",
    "detect_secrets.filters.heuristic.is_templated_secret",
    "detect_secrets.filters.heuristic.is_prefixed_with_dollar_sign",
    "detect_secrets.filters.heuristic.is_lock_file",
    "detect_secrets.filters.heuristic.is_not_alphanumeric_string",
)
# Filters of the defaults that the gate does not run, and why:
DISABLED_DEFAULT_FILTERS: dict[str, str] = {
    # The gate scans diff text; the file need not exist where the scan runs.
    "detect_secrets.filters.common.is_invalid_file": "diff text is scanned, not files on disk",
    # A proposal could add `# pragma: allowlist secret` itself.
    "detect_secrets.filters.allowlist.is_line_allowlisted": "a proposal could allowlist itself",
    # Any path containing "swagger" would be exempt.
    "detect_secrets.filters.heuristic.is_swagger_file": "a path name must not exempt a file",
    # Replaced by filters.is_uuid_guess: a documented format that embeds a UUID (Teams
    # webhooks, Plaid tokens) is still a secret.
    "detect_secrets.filters.heuristic.is_potential_uuid": "replaced, see filters.py",
    # Replaced by filters.is_guessed_indirect_reference (upstream drops whole lines).
    "detect_secrets.filters.heuristic.is_indirect_reference": "replaced, see filters.py",
}
_AMBIENT_FILTERS: tuple[str, ...] = (
    "is_uuid_guess",
    "is_placeholder",
    "is_filler",
    "is_low_entropy_guess",
    "is_guessed_indirect_reference",
    "is_identifier_value",
    "is_unquoted_in_code",
    "is_publishable_key",
    "is_unnamed_hex",
    "is_reference_or_label",
    "is_invalid_jwt",
    "is_worded",
    "is_templated_inside",
)


def custom_plugin_names() -> tuple[str, ...]:
    """Class names of Ambient's plugins, in load order."""
    return tuple(name for names in _CUSTOM_PLUGINS.values() for name in names)


def gate_config() -> dict[str, Any]:
    """The detect-secrets settings (baseline-file shape) that the gate scans with."""
    plugins: list[dict[str, Any]] = [{"name": name} for name in _BUILTIN_PLUGINS]
    plugins += [{"name": "Base64HighEntropyString", "limit": 4.5}]
    plugins += [{"name": "HexHighEntropyString", "limit": 3.0}]
    for file_name, names in _CUSTOM_PLUGINS.items():
        path = f"file://{_HERE / file_name}"
        plugins += [{"name": name, "path": path} for name in names]
    filters: list[dict[str, Any]] = [{"path": path} for path in _DEFAULT_FILTERS]
    filters += [{"path": f"file://{_FILTERS_FILE}::{name}"} for name in _AMBIENT_FILTERS]
    return {"plugins_used": plugins, "filters_used": filters}


def baseline_config() -> dict[str, Any]:
    """detect-secrets' own defaults: every built-in plugin and the default filters."""
    plugins: list[dict[str, Any]] = [
        {"name": name} for name in (*_BUILTIN_PLUGINS, *_LEFT_OUT_BUILTINS)
    ]
    plugins += [{"name": "Base64HighEntropyString", "limit": 4.5}]
    plugins += [{"name": "HexHighEntropyString", "limit": 3.0}]
    filters: list[dict[str, Any]] = [
        {"path": path}
        for path in (
            *_DEFAULT_FILTERS,
            "detect_secrets.filters.allowlist.is_line_allowlisted",
            "detect_secrets.filters.heuristic.is_potential_uuid",
            "detect_secrets.filters.heuristic.is_swagger_file",
            "detect_secrets.filters.heuristic.is_indirect_reference",
        )
    ]
    return {"plugins_used": plugins, "filters_used": filters}
