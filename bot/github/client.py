"""The one gateway to GitHub (githubkit is imported here and nowhere else).

`GitHubApp` acts as the App (JWT): installations, scoped installation tokens (cached, in Redis
when given one), webhook deliveries. `InstallationClient` acts for one repository with a token
scoped to it and to the permissions a job needs; its reads and writes live in
`bot.github.repo` and `bot.github.writes`, written against the `GitHubApi` protocol that
`_Api` implements here, and return our own frozen values (`bot.github.values`).

githubkit signs the App's JWT, sends the token and recognises rate limits; `_Api` retries what
GitHub says is transient and turns the rest into one error naming the call and the repository
(`bot.github.retry`). Requests carry no API version header, so GitHub uses its default
(2022-11-28), which GitHub Enterprise Server serves too.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import httpx
from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestError, RequestFailed
from redis.asyncio import Redis

from bot.github.repo import PAGE, Absent, Json
from bot.github.retry import (
    Failure,
    RetryPolicy,
    delay_before_retry,
    error_for,
    error_message,
    whole_seconds_retry_after,
)
from bot.github.tokens import InstallationToken, TokenCache, parse_expiry, token_cache_key
from bot.github.values import Delivery, delivery_from_json
from bot.github.writes import RepoWrites

__all__ = ["GitHubApp", "InstallationClient", "Sleep"]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

_MAXPAGES: Final = 30
_TIMEOUT_S: Final = 30.0


class _SharedTransport(httpx.AsyncBaseTransport):
    """One connection pool for all of an App's requests.

    githubkit opens a new httpx client per request (outside `async with`) and each client
    closes its transport when done; this wrapper ignores those closes, so connections are
    reused, and is closed once by `GitHubApp.aclose()`.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport | None) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            # Built on first use: loading the CA bundle is I/O, which constructors do not do.
            self._inner = httpx.AsyncHTTPTransport(retries=0)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Ignored: the owner calls `close`."""

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
            self._inner = None


class _Api:
    """Requests for one repository (or the App) with retries.

    githubkit's own auto-retry is off: it retries a rate limit once only, sleeps without a
    seam for tests, and gives up on a 429 that carries no rate-limit headers.
    """

    def __init__(
        self,
        auth: Any,
        repo: str,
        *,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None,
        clock: Callable[[], float],
        sleep: Sleep,
        retry: RetryPolicy,
    ) -> None:
        self.repo = repo
        self._clock = clock
        self._sleep = sleep
        self._retry = retry
        self._gh = GitHub(
            auth,
            base_url=base_url,
            async_transport=transport,
            async_event_hooks={"response": [whole_seconds_retry_after]},
            timeout=_TIMEOUT_S,
            # Conditional-request caching would only hide fresh state from a bot that writes.
            http_cache=False,
            auto_retry=False,
            user_agent="ambient",
            # githubkit's default cache is process-wide and keys the App's JWT by App id alone:
            # two Apps with one id (a rotated key, a re-registered App) would share a JWT.
            cache_strategy=MemCacheStrategy(),
        )

    def about(self, repo: str) -> _Api:
        """The same client, naming `repo` in its errors."""
        named = copy.copy(self)
        named.repo = repo
        return named

    async def run(self, call: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation` (githubkit requests), again while GitHub says failures are transient."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await operation()
            except RequestFailed as exc:
                raw = exc.response.raw_response
                failure = Failure(raw.status_code, error_message(raw), dict(raw.headers))
            except RequestError as exc:
                failure = Failure(None, f"{type(exc.exc).__name__}: {exc.exc}", {})
            delay = delay_before_retry(failure, attempt, self._retry, self._clock())
            if delay is None:
                raise error_for(call, self.repo, failure, self._clock()) from None
            await self._sleep(delay)

    async def request(
        self, method: str, path: str, *, absent: Absent = (), **kwargs: Any
    ) -> httpx.Response | None:
        """One request, not retried; None for an `absent` answer (a client error, never a limit)."""
        try:
            response = await self._gh.arequest(method, path, **kwargs)
        except RequestFailed as exc:
            raw = exc.response.raw_response
            failure = Failure(raw.status_code, error_message(raw), dict(raw.headers))
            if failure.kind == "client" and any(
                raw.status_code == s and w in failure.message for s, w in absent
            ):
                return None
            raise
        return response.raw_response

    async def send(
        self, call: str, method: str, path: str, *, absent: Absent = (), **kwargs: Any
    ) -> httpx.Response | None:
        """One request, retried while GitHub says it is transient; None for an `absent` answer."""
        return await self.run(call, lambda: self.request(method, path, absent=absent, **kwargs))

    async def json(self, call: str, method: str, path: str, **kwargs: Any) -> Json:
        """The JSON answer of a request that must succeed."""
        response = await self.send(call, method, path, **kwargs)
        return None if response is None else response.json()

    async def pages(
        self, call: str, path: str, key: str | None = None, **params: Any
    ) -> list[Json]:
        """Every item of a paginated list (`key` names the list inside an object answer)."""
        items: list[Json] = []
        for page in range(1, _MAXPAGES + 1):
            query = {**params, "per_page": PAGE, "page": page}
            body = await self.json(call, "GET", path, params=query)
            batch = body[key] if key else body
            items.extend(batch)
            if len(batch) < PAGE:
                break
        return items


class GitHubApp:
    """The App itself: mints installation tokens and reads App-level data. No I/O until called.

    The App and the `InstallationClient`s it builds share one connection pool: close it with
    `aclose()` (or `async with`) when the worker stops.
    """

    def __init__(
        self,
        *,
        app_id: int,
        private_key: str,
        base_url: str = "https://api.github.com",
        app_slug: str | None = None,
        redis: Redis | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.app_id = app_id
        self.app_slug = app_slug
        self._tokens = TokenCache(redis, clock)
        self._transport = _SharedTransport(transport)
        self._options: dict[str, Any] = {
            "base_url": base_url,
            "transport": self._transport,
            "clock": clock,
            "sleep": sleep,
            "retry": retry or RetryPolicy(),
        }
        self._auth = AppAuthStrategy(app_id, private_key)
        self._api = _Api(self._auth, "the App", **self._options)

    async def aclose(self) -> None:
        """Close the connections of this App and of the clients it built."""
        await self._transport.close()

    async def __aenter__(self) -> GitHubApp:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def installation_for(self, owner: str, repo: str) -> int:
        """The installation id of the App on `owner/repo` (GitHubNotFound if not installed)."""
        api = self._api.about(f"{owner}/{repo}")
        body = await api.json("get installation", "GET", f"/repos/{owner}/{repo}/installation")
        return int(body["id"])

    async def installations(self) -> tuple[tuple[int, str], ...]:
        """Every installation of the App as (id, account login)."""
        items = await self._api.pages("list installations", "/app/installations")
        return tuple((int(i["id"]), str((i.get("account") or {}).get("login", ""))) for i in items)

    async def installation_repositories(self, installation_id: int) -> tuple[str, ...]:
        """Full names of every repository installation `installation_id` reaches, read with a
        token that may read metadata only (it is used for this one list and dropped)."""
        call = f"create installation token for installation {installation_id}"
        body = await self._api.json(
            call,
            "POST",
            f"/app/installations/{installation_id}/access_tokens",
            json={"permissions": {"metadata": "read"}},
        )
        api = _Api(
            TokenAuthStrategy(str(body["token"])),
            f"installation {installation_id}",
            **self._options,
        )
        items = await api.pages(
            "list installation repositories", "/installation/repositories", key="repositories"
        )
        return tuple(str(item["full_name"]) for item in items)

    async def token(
        self, installation_id: int, owner: str, repo: str, permissions: Mapping[str, str]
    ) -> InstallationToken:
        """A token for `owner/repo` only, with only `permissions`; cached until near expiry."""
        full_name = f"{owner}/{repo}"
        key = token_cache_key(self.app_id, installation_id, full_name, permissions)
        cached = await self._tokens.get(key)
        if cached is None:
            body = await self._api.about(full_name).json(
                "create installation token",
                "POST",
                f"/app/installations/{installation_id}/access_tokens",
                json={"repositories": [repo], "permissions": dict(permissions)},
            )
            cached = (str(body["token"]), parse_expiry(body["expires_at"]))
            await self._tokens.put(key, *cached)
        return InstallationToken(*cached, installation_id, full_name, dict(permissions))

    async def installation_client(
        self, installation_id: int, owner: str, repo: str, permissions: Mapping[str, str]
    ) -> InstallationClient:
        """A client for one repository, holding a token scoped to it and to `permissions`."""
        token = await self.token(installation_id, owner, repo, permissions)
        return InstallationClient(token, owner, repo, app_slug=self.app_slug, **self._options)

    async def deliveries(
        self, cursor: str | None = None, per_page: int = PAGE
    ) -> tuple[tuple[Delivery, ...], str | None]:
        """One page of the App's webhook deliveries, newest first, and the next page's cursor."""
        params = {"per_page": per_page, **({"cursor": cursor} if cursor else {})}
        response = await self._api.send(
            "list webhook deliveries", "GET", "/app/hook/deliveries", params=params
        )
        if response is None:
            return (), None
        items = tuple(delivery_from_json(d) for d in response.json())
        next_url = response.links.get("next", {}).get("url")
        return items, httpx.URL(next_url).params.get("cursor") if next_url else None

    async def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to send a delivery again (safe: the receiver dedupes by delivery id)."""
        await self._api.send(
            f"redeliver webhook {delivery_id}",
            "POST",
            f"/app/hook/deliveries/{delivery_id}/attempts",
        )


class InstallationClient(RepoWrites):
    """Reads and writes for one repository with a token scoped to it. Build it with GitHubApp."""

    def __init__(
        self,
        token: InstallationToken,
        owner: str,
        repo: str,
        *,
        base_url: str = "https://api.github.com",
        app_slug: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        retry: RetryPolicy | None = None,
    ) -> None:
        api = _Api(
            TokenAuthStrategy(token.token),
            f"{owner}/{repo}",
            base_url=base_url,
            transport=transport,
            clock=clock,
            sleep=sleep,
            retry=retry or RetryPolicy(),
        )
        super().__init__(api, token, owner, repo, app_slug)
