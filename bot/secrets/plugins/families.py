"""detect-secrets plugins for credentials that sit in a known place rather than a known format.

No vendor rule set covers these: a password after `-u user:` in a curl command, after
`--password` on a command line, in `IDENTIFIED BY '…'`, in a `.netrc` line, between XML
password tags or in an ODBC connection string. The place is the evidence, so these plugins do
not set `ambient_min_entropy` (a human-chosen password is not random); the placeholder, filler
and reference filters still apply. detect-secrets loads this file by path, so every public
class here must be a plugin. Licence of every rule: Ambient's own (the project's licence).
"""

# ruff: noqa: S105 - `secret_type` names a kind of secret; it holds no secret.
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Generator

from detect_secrets.plugins.base import RegexBasedDetector

# A command-line value: quoted, or up to the next blank or shell metacharacter.
_ARG = r"""(?:"([^"\s$`]{4,200})"|'([^'\s]{4,200})'|([^\s"'`$;|&<>(){}]{4,200}))"""
_SECRET_FLAGS = (
    r"password|passwd|pass|token|secret|api[-_]?key|apikey|auth[-_]?token|access[-_]?token"
    r"|client[-_]?secret|secret[-_]?key|access[-_]?key|private[-_]?token|bearer"
)


class CommandLineCredentialDetector(RegexBasedDetector):
    """Credentials passed on a command line: curl and wget user options, `--password VALUE`,
    `--token=VALUE`, `mysql -pVALUE`, `sshpass -p VALUE` (shell scripts, CI files, READMEs)."""

    secret_type = "Command-line Credential"
    ambient_place_based = True
    ambient_context_filters = True
    denylist = (
        # Source: curl manual, `-u, --user <user:password>`; wget manual, `--password`,
        # `--http-password`, `--ftp-password`.
        re.compile(
            r"(?:\s|^)(?:-u|--user|--proxy-user)\s*[\"']?[^\s:\"']{1,64}:([^\s\"'@]{4,200})"
        ),
        re.compile(
            r"(?i)(?:\s|^)--(?:[a-z0-9]+-)*(?:" + _SECRET_FLAGS + r")"
            r"(?:[=\s]+)" + _ARG
        ),
        # Source: MySQL manual, "Specifying a password on the command line" (`-pSECRET`,
        # no space); sshpass manual (`-p password`).
        re.compile(r"(?:^|\s)mysql(?:dump|admin)?\s(?:[^|;&\n]*\s)?-p([^\s\"'$-][^\s\"']{3,100})"),
        re.compile(r"(?:^|\s)sshpass\s+-p\s*" + _ARG),
        # Source: Vault CLI docs, `vault operator unseal [KEY]`.
        re.compile(r"\bvault\s+operator\s+unseal\s+([A-Za-z0-9+/=]{20,})"),
    )


class SqlPasswordDetector(RegexBasedDetector):
    """Passwords in SQL: `IDENTIFIED BY`, `PASSWORD '…'` in CREATE/ALTER USER or ROLE,
    `SET PASSWORD … = '…'`."""

    secret_type = "SQL Password"
    ambient_place_based = True
    ambient_context_filters = True
    denylist = (
        # Source: MySQL reference, CREATE USER / ALTER USER (`IDENTIFIED BY 'auth_string'`);
        # Oracle `IDENTIFIED BY password` (unquoted).
        re.compile(
            r"(?i)\bidentified\s+(?:with\s+\w+\s+)?by\s+(?:'([^']{4,128})'|\"([^\"]{4,128})\"|([A-Za-z0-9_#$!@%^*+=.-]{4,128}))"
        ),
        # Source: PostgreSQL docs, CREATE ROLE (`[ENCRYPTED] PASSWORD 'password'`).
        re.compile(r"(?i)\b(?:create|alter)\s+(?:user|role)\b[^;]*?\bpassword\s+'([^']{4,128})'"),
        # Source: MySQL reference, SET PASSWORD (`SET PASSWORD [FOR user] = 'auth_string'`).
        re.compile(r"(?i)\bset\s+password\b[^;=]*=\s*(?:password\s*\(\s*)?'([^']{4,128})'"),
    )


class ConfigPasswordDetector(RegexBasedDetector):
    """Passwords in XML elements and attributes, ODBC/ADO.NET connection strings and .netrc
    lines, where the keyword plugins see no assignment."""

    secret_type = "Config Password"
    ambient_place_based = True
    ambient_context_filters = True
    denylist = (
        # Source: Maven settings reference (`<password>…</password>`), and the same shape in
        # other XML configs (`<passphrase>`, `<secret>`, `<apiKey>`).
        re.compile(
            r"(?i)<(?:password|passwd|passphrase|secret|client[-_]?secret|api[-_]?key|token)>"
            r"\s*([^<\s]{4,200})\s*</"
        ),
        # Source: .NET configuration (`<add key="Password" value="…"/>`).
        re.compile(
            r"(?i)<add\s+key=\"[^\"]*(?:password|secret|token|apikey)[^\"]*\"\s+value=\"([^\"]{4,200})\""
        ),
        # Source: Microsoft Learn, connection string syntax (`Password=…;`, `Pwd=…;`).
        re.compile(r"(?i);\s*(?:password|pwd)\s*=\s*([^;\"'\s]{4,128})"),
        re.compile(r"(?i)(?:^|[\"'\s])(?:password|pwd)=([^;\"'\s]{4,128});"),
        # Source: GNU inetutils manual, the .netrc file (`machine M login L password P`).
        re.compile(r"(?i)\bmachine\s+\S+\s+login\s+\S+\s+password\s+(\S{4,200})"),
        re.compile(r"^\s+password\s+(\S{4,200})\s*$"),
    )


class PlainPasswordDetector(RegexBasedDetector):
    """A whole-line `password = value` in INI, .env, properties or YAML files, and passwords
    that prose states ("the default password is 'hunter22'"): human-chosen values that the
    entropy floors of the keyword plugins let through. In code an unquoted value is an
    expression, so there it must be quoted (`ambient_quoted_in_code`)."""

    secret_type = "Plain Password"
    ambient_place_based = True
    ambient_context_filters = True
    ambient_quoted_in_code = True
    denylist = (
        # Source: Ambient's own rule (the key=value shape of INI, .env and properties files).
        re.compile(
            r"(?i)^\s*[\"']?[\w.-]{0,40}?(?:password|passwd|pwd|pass)[\"']?\s*[=:]\s*[\"']?"
            r"([^\s\"'`$#{}<>;,]{4,64})[\"']?\s*,?\s*$"
        ),
        # Source: Ambient's own rule, for READMEs and setup notes.
        re.compile(
            r"(?i)\bpassword\b(?:\s+(?:for|of)\s+(?:the\s+)?(?:user\s+)?[\"'`]?[\w@.-]+[\"'`]?)?"
            r"\s+(?:is|was|will be|=)\s+[\"'`]([^\"'`\s$\[\](){}]{4,64})[\"'`]"
        ),
    )


class CredentialCallDetector(RegexBasedDetector):
    """A literal password passed to a credential constructor next to a user name:
    `NetworkCredential("u", "p")`, `DirectoryEntry(path, "u", "p")`, `HTTPBasicAuth("u", "p")`,
    `auth=("u", "p")`."""

    secret_type = "Password in a Credential Call"
    ambient_place_based = True
    ambient_context_filters = True
    denylist = (
        # Source: .NET API reference (NetworkCredential, DirectoryEntry), requests docs
        # (HTTPBasicAuth, `auth=` tuples), Apache HttpClient (UsernamePasswordCredentials).
        re.compile(
            r"(?:NetworkCredential|HTTPBasicAuth|HTTPDigestAuth|UsernamePasswordCredentials"
            r"|PasswordAuthentication|BasicAuth|\bauth\s*=\s*)\s*\(\s*[\"'][^\"']+[\"']\s*,\s*"
            r"[\"']([^\"']{4,128})[\"']"
        ),
        re.compile(
            r"DirectoryEntry\(\s*[\"'][^\"']*[\"']\s*,\s*[\"'][^\"']+[\"']\s*,\s*[\"']([^\"']{4,128})[\"']"
        ),
    )


class EncodedPrivateKeyDetector(RegexBasedDetector):
    """A PEM private key wrapped in base64 (`PRIVATE_KEY_B64=LS0tLS1CRUdJTi…`, Helm values,
    CI variables): the value is decoded and counts only if it opens a private key block."""

    secret_type = "Private Key (base64-wrapped)"
    ambient_place_based = True
    ambient_context_filters = True
    denylist = (
        # Source: RFC 7468 (PEM labels) under RFC 4648 base64: "-----BEGIN" encodes as
        # "LS0tLS1CRUdJTi".
        re.compile(r"LS0tLS1CRUdJTi[A-Za-z0-9+/]{40,}={0,2}"),
    )

    def analyze_string(self, string: str) -> Generator[str, None, None]:
        """Values whose decoded head names a private key."""
        for value in super().analyze_string(string):
            head = value[: len(value) // 4 * 4][:120]
            try:
                decoded = base64.b64decode(head).decode("ascii", "replace")
            except (binascii.Error, ValueError):
                continue
            if "PRIVATE KEY" in decoded:
                yield value
