"""Hosting an ASGI app inside the engine: run it with a scope and a ``receive``, and take
what it sends as one of our own ``Response`` objects.

Two callers: the native server, when the app has Python middleware (the engine then
hands every request to `stack_entry`, whose ASGI stack ends in the app's own routes,
``ignyx._asgi``); and ``BaseHTTPMiddleware.call_next``. A response sent whole becomes a
``Response``; one that streams (``more_body``) becomes a ``StreamingResponse`` that goes
on as the app sends, so server-sent events pass through middleware.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Awaitable, Callable

from .responses import Response, StreamingResponse

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_END = object()
_ASGI = {"version": "3.0", "spec_version": "2.4"}


def stack_entry(app: Any, stack: ASGIApp) -> Callable[[Any], Awaitable[Response]]:
    """The route the native server calls for every request of an app with Python
    middleware: the request as Starlette's scope, answered by the ASGI `stack`."""
    root_path = app.root_path

    async def entry(request: Any) -> Response:
        data = request._data
        scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": data.http_version,
            "method": data.method,
            "scheme": data.scheme,
            "path": root_path + data.path,
            "raw_path": data.raw_path,
            "root_path": root_path,
            "query_string": data.query_string,
            "headers": data.raw_headers,
            "client": data.client,
            "server": data.server,
            "state": dict(app._lifespan_state),
            "app": app,
        }
        return await host(stack, scope, body_receiver(data.body))

    return entry


def body_receiver(body: bytes) -> Receive:
    """A ``receive`` that gives `body` as the one ``http.request`` message, then waits (for
    a disconnect that the engine reports by dropping the request)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.get_running_loop().create_future()
        return {"type": "http.disconnect"}

    return receive


async def host(app: ASGIApp, scope: Scope, receive: Receive) -> Response:
    """Runs `app` and returns its response as soon as it is known: whole, or streaming."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[Response] = loop.create_future()
    chunks: asyncio.Queue[Any] | None = None
    start: Message = {}

    async def send(message: Message) -> None:
        nonlocal chunks
        kind = message["type"]
        if kind == "http.response.start":
            start.update(message)
        elif kind == "http.response.body":
            body = bytes(message.get("body", b""))
            more = message.get("more_body", False)
            if chunks is not None:
                await chunks.put(body)
                if not more:
                    await chunks.put(_END)
            elif not more:
                answer.set_result(_whole(start, body))
            else:
                chunks = asyncio.Queue()
                await chunks.put(body)
                answer.set_result(_streaming(start, chunks))

    async def run() -> None:
        try:
            await app(scope, receive, send)
        except BaseException as exc:
            if not answer.done():
                answer.set_exception(exc)
            elif chunks is not None:
                await chunks.put(_END)
            if not isinstance(exc, Exception):
                raise
            return
        if not answer.done():
            answer.set_exception(RuntimeError("No response returned."))
        elif chunks is not None:
            await chunks.put(_END)

    task = loop.create_task(run())
    try:
        return await answer
    finally:
        if not answer.done() or answer.exception() is not None:
            task.cancel()


def _headers(start: Message) -> list[tuple[bytes, bytes]]:
    return [(bytes(name).lower(), bytes(value)) for name, value in start.get("headers", ())]


def _whole(start: Message, body: bytes) -> Response:
    response = Response.__new__(Response)
    response.status_code = start.get("status", 200)
    response.body = body
    response.background = None
    response.raw_headers = _headers(start)
    return response


def _streaming(start: Message, chunks: asyncio.Queue[Any]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        while True:
            chunk = await chunks.get()
            if chunk is _END:
                return
            yield chunk

    response = StreamingResponse(body(), status_code=start.get("status", 200))
    response.raw_headers = _headers(start)
    return response
