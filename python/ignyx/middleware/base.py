"""``BaseHTTPMiddleware``: middleware written as one function of the request and the rest
of the app (``call_next``), which is what ``@app.middleware("http")`` makes::

    @app.middleware("http")
    async def timing(request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["x-time"] = f"{time.perf_counter() - started:.4f}"
        return response
"""

from __future__ import annotations

from typing import Awaitable, Callable, Optional

from .._asgi_host import ASGIApp, Receive, Scope, Send, body_receiver, host
from ..requests import Request
from ..responses import Response

RequestResponseEndpoint = Callable[[Request], Awaitable[Response]]
DispatchFunction = Callable[[Request, RequestResponseEndpoint], Awaitable[Response]]


class BaseHTTPMiddleware:
    """Calls ``dispatch(request, call_next)`` for each HTTP request; other scopes pass
    through. ``call_next`` runs the rest of the app and returns its response, whose body
    goes on streaming if the app streams it."""

    def __init__(self, app: ASGIApp, dispatch: Optional[DispatchFunction] = None) -> None:
        self.app = app
        self.dispatch_func = self.dispatch if dispatch is None else dispatch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)

        async def call_next(request: Request) -> Response:
            inner = receive
            if request._data.body:
                # The dispatch function read the body: the app gets it again.
                inner = body_receiver(request._data.body)
            return await host(self.app, request.scope, inner)

        response = await self.dispatch_func(request, call_next)
        await response(scope, receive, send)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        raise NotImplementedError()


__all__ = ["BaseHTTPMiddleware", "DispatchFunction", "RequestResponseEndpoint"]
