"""``RateLimitMiddleware``: a rate limit on every request of the app, checked by the engine
before Python is called::

    app.add_middleware(RateLimitMiddleware, limit="100/minute")
    app.add_middleware(
        RateLimitMiddleware, limit="5/second;100/minute", storage="redis://127.0.0.1:6379/0"
    )

The limit, the keys (client address, a header, a function), the storages and the answers
are those of ``ignyx.ratelimit``. Keyed by address or header, the engine runs it among its
native layers; keyed by a Python function (or placed inside a Python middleware, or
served by an ASGI server), it runs as ASGI middleware around the app, with the same
counts and answers.
"""

from __future__ import annotations

from typing import Any, Optional

from .. import _core
from ..datastructures import Headers
from ..ratelimit import DEFAULT_PREFIX, Key, called_key, check, client_key, limiter_options

__all__ = ["RateLimitMiddleware"]


class RateLimitMiddleware:
    """Refuses requests over `limit` with 429 (see ``ignyx.ratelimit``)."""

    def __init__(
        self,
        app: Any = None,
        limit: Optional[str] = None,
        storage: str = "memory://",
        key: Key = "client",
        key_prefix: str = DEFAULT_PREFIX,
        fail_open: bool = True,
        timeout: float = 0.25,
        headers: bool = True,
    ) -> None:
        if limit is None:
            raise TypeError("RateLimitMiddleware needs a limit, such as limit='100/minute'")
        self.app = app
        self.key = key
        self.options = limiter_options(limit, storage, key, key_prefix, fail_open, timeout, headers)
        # The engine runs it, unless a Python function gives the key.
        self.runs_natively = not callable(key)
        self._limiter: Any = None

    def native(self) -> tuple[str, dict[str, Any]]:
        """How the engine runs it."""
        return ("rate_limit", self.options)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._limiter is None:
            self._limiter = _core.RateLimiter(**self.options)
        if callable(self.key):
            from ..requests import Request

            who = await called_key(self.key, Request(scope, receive))
        else:
            who = client_key(scope.get("client"), Headers(scope=scope), self.key)
        outcome = await check(self._limiter, who)
        if outcome is None:
            await self.app(scope, receive, send)
            return
        status, headers, body = outcome
        if status and scope["type"] == "websocket":
            if "websocket.http.response" in (scope.get("extensions") or {}):
                # The server can deny the handshake with a response: the same 429 (or 503).
                start = {"type": "websocket.http.response.start", "status": status}
                await send({**start, "headers": _with_length(headers, body)})
                await send({"type": "websocket.http.response.body", "body": body})
            else:
                await send({"type": "websocket.close", "code": 1008, "reason": ""})
            return
        if status:
            headers = _with_length(headers, body)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        names = {name for name, _ in headers}
        left = _remaining(headers)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                given = message.get("headers", ())
                inner = _remaining(given)
                # An inner limit (a route's) closer to its end, or refusing, tells its own.
                if inner is None or left is None or left < inner:
                    kept = [(k, v) for k, v in given if bytes(k).lower() not in names]
                    message = {**message, "headers": [*kept, *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _with_length(headers: list[tuple[bytes, bytes]], body: bytes) -> list[tuple[bytes, bytes]]:
    return [*headers, (b"content-length", str(len(body)).encode())]


def _remaining(headers: Any) -> Optional[int]:
    """The requests left (``r``) that a ``RateLimit`` field among `headers` tells, if any."""
    for name, value in headers:
        if bytes(name).lower() == b"ratelimit":
            _, found, rest = bytes(value).partition(b";r=")
            try:
                return int(rest.split(b";")[0]) if found else None
            except ValueError:
                return None
    return None
