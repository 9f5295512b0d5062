"""Rate limits, checked by the engine: for the whole app with
``ignyx.middleware.ratelimit.RateLimitMiddleware``, or for a route with ``RateLimit`` as a
dependency::

    app.add_middleware(RateLimitMiddleware, limit="100/minute")

    @app.post("/login", dependencies=[Depends(RateLimit("5/minute", storage=REDIS_URL))])
    def login(...): ...

A limit is one or more windows, ``"10/second;1000/hour"`` (as slowapi writes them), checked
by GCRA: each window lets its N requests through at once, then one per period/N, and a
request counts only when every window lets it pass. A refused request gets 429
``{"detail": "Too Many Requests"}`` with ``Retry-After``; every response may carry the
IETF draft's two fields (draft-ietf-httpapi-ratelimit-headers): ``RateLimit-Policy`` names
every window of the limit with its quota and length (``"100/60s";q=100;w=60``), and
``RateLimit`` tells, for the window with the fewest requests left, how many are left and the
seconds until it is whole again (``"100/60s";r=42;t=25``).

Requests are counted per client address by default (behind a proxy, the address the
server's trusted proxy headers give: a client cannot pick its own), per header value with
``key="header:X-API-Key"`` (requests without it count by address), or by any function
``key(request) -> str``. The counts live in ``memory://`` (each process alone) or in Redis
(``redis://``, ``rediss://``: shared by every worker and host, atomically, on Redis's
clock). When Redis cannot answer within ``timeout`` seconds, requests pass
(``fail_open=True``, the default) or get 503 (``fail_open=False``), and a warning is
logged on ``ignyx.ratelimit`` (at most once a second).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import weakref
from typing import Any, Awaitable, Callable, Optional, Union

from . import _core
from ._paths import Match
from .exceptions import HTTPException
from .requests import Request
from .responses import Response

__all__ = ["RateLimit"]

DEFAULT_PREFIX = "ignyx:ratelimit:"

# A header name (RFC 9110's token).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

#: How requests are told apart: ``"client"``, ``"header:<name>"``, or a function of the request.
Key = Union[str, Callable[[Any], Union[str, Awaitable[str]]]]

_logger = logging.getLogger("ignyx.ratelimit")


def report_storage_failure(message: str) -> None:
    """Logs that the limit's storage failed (the engine calls it, at most once a second)."""
    _logger.warning(message)


def limiter_options(
    limit: str,
    storage: str,
    key: Key,
    key_prefix: str,
    fail_open: bool,
    timeout: float,
    headers: bool,
) -> dict[str, Any]:
    """The options the engine's limiter takes, checked now rather than at the first
    request."""
    if not isinstance(limit, str):
        raise TypeError("limit must be a string such as '100/minute'")
    if isinstance(key, str) and key != "client" and not key.startswith("header:"):
        raise ValueError("key must be 'client', 'header:<name>' or a function of the request")
    if isinstance(key, str) and key.startswith("header:"):
        name = key[len("header:") :].strip()
        if not _TOKEN.fullmatch(name):
            # Else a request would never carry it, and every one would count by address.
            raise ValueError(f"key {key!r}: {name!r} is not a header name")
    if not isinstance(storage, str) or not (
        storage == "memory://" or storage.startswith(("redis://", "rediss://", "unix://"))
    ):
        raise ValueError(f"unknown rate limit storage {storage!r} (memory:// or redis://...)")
    options: dict[str, Any] = {
        "limit": limit,
        "storage": storage,
        "key": key if isinstance(key, str) else "client",
        "key_prefix": key_prefix,
        "fail_open": bool(fail_open),
        "timeout": float(timeout),
        "headers": bool(headers),
    }
    _core.RateLimiter(**options)  # a bad limit or URL fails here, where it was written
    return options


def client_key(client: Optional[Any], headers: Any, key: Key) -> str:
    """The key of a request as the engine's layer computes it (`headers`: a mapping with
    case-insensitive ``get``)."""
    if isinstance(key, str) and key.startswith("header:"):
        value = headers.get(key[len("header:") :].strip())
        if value is not None:
            return f"h:{value}"
    return str(client[0]) if client else "unknown"


async def called_key(key: Callable[[Any], Any], request: Any) -> str:
    """The key a user's function gives for `request` (sync or async)."""
    value = key(request)
    if inspect.isawaitable(value):
        value = await value
    return f"f:{value}"


async def check(limiter: Any, key: str) -> Optional[tuple[int, list[tuple[bytes, bytes]], bytes]]:
    """What the engine's `limiter` says of one more request from `key`: None (it passes
    with no headers), ``(0, headers, b"")`` (it passes with them) or ``(status, headers,
    body)`` (refused)."""
    future = asyncio.get_running_loop().create_future()
    limiter.check(future, key)
    result: Optional[tuple[int, list[tuple[bytes, bytes]], bytes]] = await future
    return result


class RateLimit:
    """A route's rate limit, used as a dependency: ``Depends(RateLimit("5/minute"))``.

    Each route counts on its own (the method and path template are part of the key: HEAD
    counts as GET, ``/items/1`` and ``/items/2`` as ``/items/{item_id}``), with the same
    options as ``RateLimitMiddleware``."""

    def __init__(
        self,
        limit: str,
        *,
        storage: str = "memory://",
        key: Key = "client",
        key_prefix: str = DEFAULT_PREFIX,
        fail_open: bool = True,
        timeout: float = 0.25,
        headers: bool = True,
    ) -> None:
        self.limit = limit
        self.key = key
        self.options = limiter_options(limit, storage, key, key_prefix, fail_open, timeout, headers)
        self._limiter = _core.RateLimiter(**self.options)
        # Per app: the routes whose dependencies include this limit (see `_route_of`).
        self._routes: weakref.WeakKeyDictionary[Any, tuple[int, list[Any]]] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, request: Request, response: Response) -> None:
        if callable(self.key):
            who = await called_key(self.key, request)
        else:
            who = client_key(request.scope.get("client"), request.headers, self.key)
        route = request.scope.get("route") or self._route_of(request.scope)
        # HEAD runs the GET route: it counts as GET (else it would double a client's quota).
        method = "GET" if request.method == "HEAD" else request.method
        where = f"{method} {getattr(route, 'path', request.url.path)}"
        outcome = await check(self._limiter, f"{where}|{who}")
        if outcome is None:
            return
        status, headers, _ = outcome
        named = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in headers
            if name.lower() != b"content-type"
        }
        if status:
            detail = "Too Many Requests" if status == 429 else "Service Unavailable"
            raise HTTPException(status_code=status, detail=detail, headers=named)
        response.headers.update(named)

    def _route_of(self, scope: dict[str, Any]) -> Any:
        """The route of `scope` among those using this limit (the engine's scope names no
        route): its path template is the key, so that ``/items/1`` and ``/items/2`` count
        together, as ``/items/{item_id}``. None when not found (the request's path is the
        key then)."""
        app = scope.get("app")
        routes = getattr(app, "routes", None)
        if not routes:
            return None
        try:
            known = self._routes.get(app)
        except TypeError:  # an app that cannot be weakly referenced
            known = None
        if known is None or known[0] != len(routes):
            known = (len(routes), [r for r in routes if self._is_used_by(r)])
            try:
                self._routes[app] = known
            except TypeError:
                pass
        for route in known[1]:
            if route.matches(scope)[0] == Match.FULL:
                return route
        return None

    def _is_used_by(self, route: Any) -> bool:
        dependant = getattr(route, "dependant", None)
        walk = getattr(dependant, "walk", None)
        return walk is not None and any(d.call is self for d in walk())

    def __repr__(self) -> str:
        return f"RateLimit({self.limit!r}, storage={self.options['storage']!r})"
