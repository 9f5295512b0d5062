"""``AsyncExitStackMiddleware``: an ``AsyncExitStack`` per request, closed when it is done::

app.add_middleware(AsyncExitStackMiddleware)
# in an ASGI app below it: scope["fastapi_middleware_astack"].push_async_callback(...)
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any, Callable

__all__ = ["AsyncExitStackMiddleware"]


class AsyncExitStackMiddleware:
    """Puts an ``AsyncExitStack`` in ``scope[context_name]`` around the app's call."""

    def __init__(self, app: Callable[..., Any], context_name: str = "fastapi_middleware_astack"):
        self.app = app
        self.context_name = context_name

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async with AsyncExitStack() as stack:
            scope[self.context_name] = stack
            await self.app(scope, receive, send)
