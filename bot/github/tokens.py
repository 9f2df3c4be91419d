"""Installation tokens and their cache, shared by workers through Redis (or in memory locally).

A token is cached per (App, installation, repository, permission set) until shortly before it
expires. Nothing here logs, and `InstallationToken.__repr__` leaves the token out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.errors import QueueUnavailable

__all__ = [
    "InstallationToken",
    "Permission",
    "TokenCache",
    "parse_expiry",
    "token_cache_key",
]

Permission = Literal["read", "write", "admin"]

#: Stop using a cached token this long before GitHub says it expires (a job may run minutes).
EARLY_EXPIRY_S: Final = 300.0
_KEY_PREFIX: Final = "ambient:github-token"


@dataclass(frozen=True, slots=True)
class InstallationToken:
    """An installation access token scoped to one repository; `token` stays out of repr."""

    token: str = field(repr=False)
    expires_at: float
    installation_id: int
    repository: str
    permissions: Mapping[str, str]


def parse_expiry(value: str) -> float:
    """Unix time of GitHub's `expires_at` (ISO 8601 with `Z`)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def token_cache_key(
    app_id: int, installation_id: int, repository: str, permissions: Mapping[str, str]
) -> str:
    """The cache key for one scope; permission order does not matter."""
    scope = ",".join(f"{name}={level}" for name, level in sorted(permissions.items()))
    return f"{_KEY_PREFIX}:{app_id}:{installation_id}:{repository.lower()}:{scope}"


class TokenCache:
    """Tokens in Redis when a client is given (shared by workers), else in this process."""

    def __init__(self, redis: Redis | None, clock: Callable[[], float]) -> None:
        self._redis = redis
        self._clock = clock
        self._memory: dict[str, tuple[str, float]] = {}

    async def get(self, key: str) -> tuple[str, float] | None:
        """(token, expires_at) if a token for `key` is cached and not about to expire."""
        if self._redis is None:
            entry = self._memory.get(key)
        else:
            try:
                raw = await self._redis.get(key)
            except RedisError as exc:
                raise QueueUnavailable(f"Redis unreachable reading a token: {exc}") from None
            entry = _decode(raw)
        if entry is None or entry[1] - EARLY_EXPIRY_S <= self._clock():
            return None
        return entry

    async def put(self, key: str, token: str, expires_at: float) -> None:
        """Remember a token until `EARLY_EXPIRY_S` before it expires (not at all if sooner)."""
        ttl = expires_at - EARLY_EXPIRY_S - self._clock()
        if ttl <= 1:
            return
        if self._redis is None:
            self._memory[key] = (token, expires_at)
            return
        value = json.dumps({"token": token, "expires_at": expires_at})
        try:
            await self._redis.set(key, value, px=int(ttl * 1000))
        except RedisError as exc:
            raise QueueUnavailable(f"Redis unreachable caching a token: {exc}") from None


def _decode(raw: bytes | str | None) -> tuple[str, float] | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return str(data["token"]), float(data["expires_at"])
    except (ValueError, KeyError, TypeError):
        return None
