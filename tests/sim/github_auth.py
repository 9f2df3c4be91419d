"""Who is calling: App JWTs, installation tokens, and GitHub's error bodies for refusals."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.requests import Request
from starlette.responses import JSONResponse

from tests.sim.github_state import Repo, SimState, Token

__all__ = [
    "NOT_ACCESSIBLE",
    "Refused",
    "allows",
    "bearer_or_token",
    "error",
    "need_app",
    "need_repo",
    "need_token",
    "token_from_basic",
]

DOCS = "https://docs.github.com/rest"
NOT_ACCESSIBLE = "Resource not accessible by integration"
_LEVEL = {"read": 1, "write": 2, "admin": 3}


class Refused(Exception):
    """Raised inside a route to answer with GitHub's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error(self.status, self.message, self.errors, self.headers)


def error(
    status: int,
    message: str,
    errors: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """GitHub's error body: message, documentation_url, and status as a string."""
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def bearer_or_token(request: Request) -> str | None:
    """The credential in `Authorization: Bearer X` or `Authorization: token X`."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


def token_from_basic(header: str) -> str | None:
    """The password of `Authorization: Basic …` (git sends `x-access-token:<token>`)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except ValueError:
        return None
    _, sep, password = decoded.partition(":")
    return password if sep and password else None


@dataclass(frozen=True, slots=True)
class AppCaller:
    app_id: int


def need_app(request: Request, state: SimState, public_key: RSAPublicKey) -> AppCaller:
    """Check an App JWT (RS256, iss = app id, exp within 10 minutes), as GitHub does."""
    credential = bearer_or_token(request)
    if credential is None:
        raise Refused(401, "Requires authentication")
    try:
        claims = jwt.decode(
            credential,
            public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_iat": False},
            leeway=60,
        )
    except jwt.InvalidTokenError as exc:
        raise Refused(
            401, f"A JSON web token could not be decoded ({type(exc).__name__})"
        ) from None
    if str(claims["iss"]) != str(state.app_id):
        raise Refused(401, "'Issuer' claim ('iss') must be an Integer")
    if int(claims["exp"]) - int(claims["iat"]) > 600 + 60:
        raise Refused(401, "'Expiration time' claim ('exp') is too far in the future")
    return AppCaller(state.app_id)


def need_token(request: Request, state: SimState) -> Token:
    credential = bearer_or_token(request)
    if credential is None:
        raise Refused(401, "Requires authentication")
    token = state.tokens.get(credential)
    if token is None or token.expires_at < time.time():
        raise Refused(401, "Bad credentials")
    return token


def allows(token: Token, permission: str, level: str) -> bool:
    """Whether a token grants `permission` at `level` (read < write < admin)."""
    granted = token.permissions.get(permission)
    return granted is not None and _LEVEL.get(granted, 0) >= _LEVEL[level]


def need_repo(
    request: Request,
    state: SimState,
    owner: str,
    name: str,
    permission: str = "metadata",
    level: str = "read",
) -> tuple[Repo, Token]:
    """The repository named in the path, if the caller's token covers it with `permission`.

    A token answers 404 for repositories outside its selection (GitHub hides them) and 403
    "Resource not accessible by integration" when it lacks the permission.
    """
    token = need_token(request, state)
    repo = state.find_repo(owner, name)
    if repo is None or repo.id not in token.repo_ids:
        raise Refused(404, "Not Found")
    inst = state.installations.get(token.installation_id)
    if inst is None or repo.id not in inst.repo_ids:
        raise Refused(404, "Not Found")
    if permission != "metadata" and not allows(token, permission, level):
        raise Refused(403, NOT_ACCESSIBLE)
    return repo, token
