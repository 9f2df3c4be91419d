"""detect-secrets plugins for credentials that have no vendor prefix.

detect-secrets loads this file by path (`file://…/generic.py` in `plugins_used`), so it imports
nothing from Ambient and every public class here must be a plugin. A plugin that guesses from
a keyword sets `ambient_min_entropy`: Ambient's `is_low_entropy_guess` filter then drops values
that are too regular to be random (identifiers, file paths, words). Licence of every rule: the
regexes are Ambient's own (the project's licence).
"""

# ruff: noqa: S105 - `secret_type` names a kind of secret; it holds no secret.
from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector

_VALUE = r"[A-Za-z0-9_\-./+=~]"
# A name that ends in one of {words} (then up to three "_suffix" parts), then an assignment.
_NAME = (
    r"[A-Za-z0-9_.-]{{0,30}}?(?:{words})(?:[_.-][A-Za-z0-9]+){{0,3}}"
    r"[\"'\]]{{0,2}}\s*(?:=|:=|=>|:)"
)


class AuthorizationHeaderDetector(RegexBasedDetector):
    """Credentials in HTTP Authorization headers (curl lines, header dicts, config files)."""

    secret_type = "Authorization Header"
    ambient_min_entropy = 3.0
    denylist = (
        # Source: RFC 9110 section 11.6.2 (Authorization) with the Bearer (RFC 6750) and Basic
        # (RFC 7617) schemes, and GitHub's "token" scheme.
        re.compile(
            r"(?i)(?:proxy-)?authorization[\"']?(?:\s*[:=,]\s*|\s+)[\"']?"
            r"(?:bearer|token|basic|digest|apikey)\s+([A-Za-z0-9._~+/-]{12,}=*)"
        ),
        # A bare "Bearer <token>" (e.g. a header value in a variable).
        re.compile(r"(?<![A-Za-z0-9])[Bb]earer\s+([A-Za-z0-9._~+/-]{24,}=*)"),
    )


class TokenAssignmentDetector(RegexBasedDetector):
    """Random-looking values assigned to names that say token, key, secret, auth or credential.

    detect-secrets' KeywordDetector knows neither "token" nor unquoted values in most file
    types; this rule covers `GITLAB_TOKEN=…`, `auth_token: …`, `"refresh_token": "…"`.
    """

    secret_type = "Secret Keyword Assignment"
    ambient_min_entropy = 3.3
    ambient_quoted_in_code = True
    denylist = (
        # Source: Ambient's own rule (name + assignment + value), in the spirit of
        # detect-secrets' KeywordDetector (Apache-2.0), restricted to token-like values.
        re.compile(
            r"(?i)(?<![A-Za-z0-9])"
            + _NAME.format(words=r"tokens?|credentials?|auth|key|secret|apikey")
            + rf"\s*[\"'`]?({_VALUE}{{16,256}})(?!{_VALUE})"
        ),
    )


class PasswordAssignmentDetector(RegexBasedDetector):
    """Passwords assigned without quotes (.env, YAML, Dockerfile ENV), which KeywordDetector
    only finds in quotes in most file types."""

    secret_type = "Password Assignment"
    ambient_min_entropy = 2.8
    ambient_quoted_in_code = True
    denylist = (
        # Source: Ambient's own rule, in the spirit of detect-secrets' KeywordDetector.
        re.compile(
            r"(?i)(?<![A-Za-z0-9])"
            + _NAME.format(words=r"password|passwd|pass|pwd|passphrase")
            + r"\s*[\"'`]?([^\s\"'`,;]{8,128})"
        ),
    )


class UrlCredentialDetector(RegexBasedDetector):
    """Passwords in URLs, including an empty user name (`redis://:pw@host`), which the
    built-in BasicAuthDetector requires."""

    secret_type = "URL Credentials"
    ambient_min_entropy = 2.5
    denylist = (
        # Source: RFC 3986 section 3.2.1 (userinfo = user ":" password; the user may be empty).
        re.compile(
            r"(?i)(?<![A-Za-z0-9+.-])[a-z][a-z0-9+.-]{1,20}://[^\s:/?#@\"'\[\]]*:"
            r"([^\s:/?#@\"'\[\]]{6,128})@[A-Za-z0-9.\[-]"
        ),
    )


class PrivateKeyExtraDetector(RegexBasedDetector):
    """Private key formats that the built-in PrivateKeyDetector does not list."""

    secret_type = "Private Key (other formats)"
    denylist = (
        # Source: RFC 7468 section 11 (PKCS #8 EncryptedPrivateKeyInfo, "ENCRYPTED PRIVATE KEY")
        # and any other "<ALG> PRIVATE KEY" label; the built-in list covers DSA, EC, OPENSSH,
        # PGP, RSA, SSH2 and the plain PKCS #8 label, which this rule leaves to it.
        re.compile(
            r"-----BEGIN (?!(?:DSA|EC|OPENSSH|RSA|SSH2 ENCRYPTED) PRIVATE KEY-----)"
            r"(?!PRIVATE KEY-----)(?!PGP PRIVATE KEY BLOCK-----)"
            r"[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
        ),
        # Source: PuTTY manual, appendix C ("PuTTY-User-Key-File-3", PPK version 3).
        re.compile(r"PuTTY-User-Key-File-3"),
        # Source: age specification (C2SP age.md): Bech32 "AGE-SECRET-KEY-1" identities.
        re.compile(r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
        # Source: OpenVPN manual, "--secret" static key files.
        re.compile(r"-----BEGIN OpenVPN Static key V1-----"),
    )
