"""``HTTPSRedirectMiddleware``, as in Starlette, executed by the engine::

    app.add_middleware(HTTPSRedirectMiddleware)

A request over plain HTTP (or WebSocket) is redirected (307) to the same URL over HTTPS
(or WSS); the port is dropped when it is 80 or 443.
"""

from __future__ import annotations

from typing import Any

from ._answers import redirect, request_url

_SECURE = {"http": "https", "ws": "wss"}


class HTTPSRedirectMiddleware:
    """Sends every plain-HTTP request to its HTTPS address."""

    def __init__(self, app: Any = None) -> None:
        self.app = app

    def native(self) -> tuple[str, dict[str, Any]]:
        """How the engine runs it (outside every Python middleware)."""
        return ("https_redirect", {})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        scheme = scope.get("scheme", "http")
        if scope["type"] not in ("http", "websocket") or scheme not in _SECURE:
            await self.app(scope, receive, send)
            return
        url = request_url(scope)
        netloc = url.netloc
        if url.port in (80, 443):
            netloc = url.hostname or ""
        await redirect(request_url(scope, scheme=_SECURE[scheme], netloc=netloc), scope, send)
