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
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
            return
        if status:
            headers = [*headers, (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        names = {name for name, _ in headers}

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (k, v) for k, v in message.get("headers", ()) if bytes(k).lower() not in names
                ]
                message = {**message, "headers": [*kept, *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
