"""detect-secrets filters that Ambient's gate adds to (or puts in place of) the defaults.

detect-secrets loads this file by path (`file://…/filters.py::name` in `filters_used`) and
calls each function with the arguments its parameter names ask for (`secret`, `line`,
`plugin`, `filename`); a filter returns True to drop a finding. Each filter is a rule about
what a real credential never looks like, not a list of known values.
"""

from __future__ import annotations

import base64
import json
import re

from detect_secrets.filters.heuristic import is_indirect_reference, is_potential_uuid
from detect_secrets.plugins.base import RegexBasedDetector

from bot.secrets.ruleset import shannon_entropy

# Words that mark a value as a stand-in for the real thing in docs, samples and templates.
_PLACEHOLDER_WORDS = re.compile(
    r"example|placeholder|changeme|change[_-]me|changeit|dummy|redacted|replace[_-]?me|"
    r"your[_-]|yourtoken|yourkey|yourpassword|fake|sample|notreal|not[_-]a[_-]real",
    re.IGNORECASE,
)
# A value that starts a template expression or a variable reference is resolved elsewhere.
_TEMPLATE_START = ("{{", "${", "$(", "<%", "%(", "#{", "<", "%{", "@{")
_DOTTED_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:(?:\.|->|::)[A-Za-z_$][\w$]*)+(?:\(\))?")
_TEMPLATE_INSIDE = ("${", "{{", "$(", "<%", "#{")
_SEPARATORS = re.compile(r"[-_]+")
_WORD = re.compile(r"[a-z]{3,}")
_LONG_RUN = re.compile(r"(.)\1{7,}")
_MASK = re.compile(r"[*•.]{4,}|x{4,}", re.IGNORECASE)
_IDENTIFIER = re.compile(r"(?:[a-z]+\d{0,2}|\d{1,4})(?:[-_./:](?:[a-z]+\d{0,2}|\d{1,4}))+")
_REPEATED_BLOCK = re.compile(r"(.{2,16}?)\1{2,}")
_PUBLISHABLE = ("pk_live_", "pk_test_", "pk.")
_CODE_SUFFIXES = frozenset(
    {"c", "cc", "cpp", "cs", "cls", "dart", "go", "h", "hpp", "java", "js", "jsx", "kt", "m"}
    | {"mjs", "php", "py", "pyi", "rb", "rs", "scala", "swift", "tf", "ts", "tsx"}
)
_SECRET_WORDS = re.compile(r"secret|passw|pwd|token|key|auth|private|credential", re.IGNORECASE)
# Whole values that stand for "nothing here yet".
_EMPTY_VALUES = frozenset(
    {"todo", "tbd", "fixme", "none", "null", "nil", "undefined", "changeit", "xxx"}
    | {"secret", "password", "token"}
)


def is_uuid_guess(secret: str, plugin: object) -> bool:
    """detect-secrets' UUID heuristic, for guessing plugins only (it drops any value that holds
    a UUID, which would also drop documented formats built around one)."""
    return not _is_vendor_format(plugin) and bool(is_potential_uuid(secret))


def is_placeholder(secret: str) -> bool:
    """A documentation or template stand-in: `your-token-here`, `EXAMPLE`, `${TOKEN}`, `****`."""
    return (
        secret.strip("'\"").lower() in _EMPTY_VALUES
        or bool(_PLACEHOLDER_WORDS.search(secret))
        or secret.startswith(_TEMPLATE_START)
        or bool(_MASK.search(secret))
    )


def is_reference_or_label(secret: str, line: str, plugin: object) -> bool:
    """Values that name something rather than hold it: an unquoted dotted name
    (`env.DB_PASSWORD`, `settings.secret`), an ARN, a CSS selector, a form label
    (`"Password:"`). Context filters (see `_CONTEXT_ONLY`) and never for a vendor format."""
    if not _context_filtered(plugin) or _is_vendor_format(plugin):
        return False
    if secret.startswith(("arn:", "#", "/")) or secret.endswith(":"):
        return True
    return bool(_DOTTED_NAME.fullmatch(secret)) and not _is_quoted_in(secret, line)


def is_templated_inside(secret: str, plugin: object) -> bool:
    """A template expression inside the value (`admin:${{ secrets.TOKEN }}`, `pre$(cat f)`):
    the literal is filled in elsewhere. Context filters only."""
    return _context_filtered(plugin) and any(mark in secret for mark in _TEMPLATE_INSIDE)


def is_invalid_jwt(secret: str, plugin: object) -> bool:
    """A JWT-shaped value whose header is not base64url JSON (a made-up or truncated one)."""
    if not _context_filtered(plugin) or not secret.startswith("eyJ") or secret.count(".") != 2:
        return False
    head = secret.split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        return not isinstance(json.loads(decoded), dict)
    except (ValueError, UnicodeDecodeError):
        return True


def is_worded(secret: str, plugin: object) -> bool:
    """A token whose body is words: `glpat-my_pretty_long_token`. Random alphabets almost
    never give two all-lower-case runs of three or more letters between separators. Not for
    the place-based password plugins: `correct-horse-battery` is a real password. Also a
    block repeated three times (`abcd1234abcd1234abcd1234`)."""
    if not _context_filtered(plugin) or getattr(plugin, "ambient_place_based", False):
        return False
    if len(secret) >= 12 and _REPEATED_BLOCK.search(secret):
        return True
    words = [part for part in _SEPARATORS.split(secret)[1:] if _WORD.fullmatch(part)]
    return len(words) >= 2


def is_filler(secret: str) -> bool:
    """Runs of one character or almost no variety: `ghp_000…0`, `AKIAXXXXXXXXXXXXXXXX`."""
    if _LONG_RUN.search(secret):
        return True
    return len(secret) >= 12 and len(set(secret)) <= 3


def is_low_entropy_guess(secret: str, plugin: object) -> bool:
    """For Ambient's keyword-guessing plugins only: drop values too regular to be random.

    Plugins opt in with `ambient_min_entropy` (bits per character); vendor-prefixed formats
    never do. A guessed value also needs two kinds of character (lower, upper, digit, other).
    """
    limit = getattr(plugin, "ambient_min_entropy", None)
    if limit is None:
        return False
    if _kinds_of_character(secret) < 2:
        return True
    if _REPEATED_BLOCK.search(secret):
        # "abcd1234abcd1234abcd1234": a random value never repeats a block three times.
        return True
    if secret.count("/") >= 2 and "+" not in secret:
        # A path or URL such as ./tokens/v1/refresh: base64 rarely has two slashes without '+'.
        return True
    return shannon_entropy(secret) < float(limit)


def is_identifier_value(secret: str, plugin: object) -> bool:
    """For guessing plugins: lower-case words joined by separators name things, e.g.
    `prod/db-credentials`, `v2-user-settings`; a vendor-prefixed match is never dropped."""
    if _is_vendor_format(plugin):
        return False
    return bool(_IDENTIFIER.fullmatch(secret))


def is_guessed_indirect_reference(secret: str, line: str, plugin: object) -> bool:
    """detect-secrets' indirect-reference heuristic, applied to guessing plugins only.

    Upstream applies it to whole lines, which also hides `Client(token="ghp_…")` from the
    prefix detectors; a vendor-prefixed match is evidence enough on its own.
    """
    if _is_vendor_format(plugin) or _is_quoted_in(secret, line):
        # A quoted literal is a value even inside a call: Client(api_key="…").
        return False
    return bool(secret) and is_indirect_reference(line)


def is_unquoted_in_code(secret: str, line: str, filename: str, plugin: object) -> bool:
    """For Ambient's guessing plugins: in a programming language an unquoted value is an
    expression (`password = settings.password`), not a literal; config files need no quotes."""
    if not getattr(plugin, "ambient_quoted_in_code", False):
        return False
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return suffix in _CODE_SUFFIXES and not _is_quoted_in(secret, line)


def is_publishable_key(secret: str) -> bool:
    """Keys that vendors publish by design (Stripe `pk_live_`, Mapbox `pk.`)."""
    return secret.startswith(_PUBLISHABLE)


def is_unnamed_hex(secret: str, line: str, plugin: object) -> bool:
    """A hex high-entropy string on a line that does not call it a secret, key or token.

    Hex in code is nearly always a digest, a commit, a container or object id; a hex secret
    is assigned to a name that says so (and the keyword plugins then find it).
    """
    if type(plugin).__name__ != "HexHighEntropyString":
        return False
    return not _SECRET_WORDS.search(line.replace(secret, ""))


def _is_vendor_format(plugin: object) -> bool:
    """A regex plugin for a documented format (not one of Ambient's keyword guesses)."""
    if getattr(plugin, "ambient_place_based", False):
        return False
    if getattr(plugin, "ambient_rule_set", False):
        return True
    return isinstance(plugin, RegexBasedDetector) and not hasattr(plugin, "ambient_min_entropy")


def _context_filtered(plugin: object) -> bool:
    """The rules added with the gitleaks rule set and the place-based families
    (`_CONTEXT_ONLY`) get the context filters; the older plugins keep exactly the filters
    they had, so that nothing the gate blocked before gets through."""
    return bool(getattr(plugin, "ambient_context_filters", False))


def _is_quoted_in(secret: str, line: str) -> bool:
    return any(quote + secret in line for quote in ("'", '"', "`"))


def _kinds_of_character(text: str) -> int:
    kinds = (str.islower, str.isupper, str.isdigit)
    found = {i for c in text for i, test in enumerate(kinds) if test(c)}
    return len(found) + any(not c.isalnum() for c in text)
