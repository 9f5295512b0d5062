"""The app as an ASGI 3 application, for any ASGI server::

    uvicorn main:app
    httpx.AsyncClient(transport=httpx.ASGITransport(app=app))

``Ignyx.__call__`` comes here. HTTP requests are routed, validated, called and rendered by
the engine's own code (``ignyx._core.AsgiApp``, the same route plans as the native
server); this module only reads the body from ``receive`` and writes the reply to
``send``. WebSocket handlers talk to the server through an ASGI channel with the engine
channel's interface, and the lifespan runs the app's startup and shutdown hooks.
"""

from __future__ import annotations

import asyncio
import http
import logging
import traceback
from collections import deque
from typing import Any, Awaitable, Callable, Optional

from . import _core
from .concurrency import run_sync
from .requests import BodyTooLarge, ClientDisconnect, receive_body
from .responses import send_chunks

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger("ignyx.error")


async def serve(app: Any, scope: Scope, receive: Receive, send: Send) -> None:
    """Serves one ASGI connection of `app`."""
    kind = scope["type"]
    if kind == "http":
        await _http(app, scope, receive, send)
    elif kind == "websocket":
        await _websocket(app, scope, receive, send)
    elif kind == "lifespan":
        await _lifespan(app, scope, receive, send)
    else:
        raise RuntimeError(f"unknown ASGI scope type {kind!r}")


def _engine(app: Any) -> _core.AsgiApp:
    """The app compiled for ASGI, once."""
    engine = app.__dict__.get("_asgi_engine")
    if engine is None:
        engine = app._asgi_engine = _core.AsgiApp(app._compile(middleware=False))
    return engine


# -- HTTP --------------------------------------------------------------------------------


async def _http(app: Any, scope: Scope, receive: Receive, send: Send) -> None:
    # Inside the native server's middleware, the route the engine matched; else routed here.
    # Either way the scope then names the route, as Starlette's router leaves it.
    routed = _core.continued_route(scope, receive)
    if routed is None:
        routed = _engine(app).route(scope)
    if isinstance(routed, tuple):
        # Routing's own answer: 404, 405, the trailing-slash redirect, a CORS preflight.
        return await _send_reply(routed, send)
    body = None
    if routed.needs_body:
        try:
            body = await receive_body(receive, routed.max_body_size)
        except BodyTooLarge:
            return await _send_reply(routed.too_large(), send)
        except ClientDisconnect:
            return
    if routed.is_async:
        pending = routed.start(body)
    elif routed.inline:
        pending = routed.start_inline(body)
    else:
        # A `def` route runs in the threadpool, as in FastAPI, until it proves quick; then
        # on the loop (the route's own InlinePolicy, as on the native server).
        pending = await run_sync(routed, routed.start, body)
    while pending is not None:
        try:
            value = await pending
        except Exception as exc:
            pending = routed.fail(exc)
        else:
            pending = routed.settle(value)
    await _send_reply(routed.reply(), send)


async def _send_reply(reply: tuple[int, list, Any, Any], send: Send) -> None:
    """Sends a reply the engine rendered (whole bodies come with their content-length)."""
    status, headers, body, background = reply
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if isinstance(body, bytes):
        await send({"type": "http.response.body", "body": body})
    else:
        await send_chunks(body, send)
    if background is not None:
        await background()


# -- WebSockets ---------------------------------------------------------------------------


async def _websocket(app: Any, scope: Scope, receive: Receive, send: Send) -> None:
    found = _engine(app).websocket(scope)
    if found is None:
        # Starlette closes a WebSocket no route matched (the client sees HTTP 403).
        await receive()
        await send({"type": "websocket.close", "code": 1000, "reason": ""})
        return
    call, data = found
    channel = _AsgiChannel(scope, receive, send)
    await channel.connected()
    handler = call(data, channel)
    try:
        await handler
    finally:
        await channel.finish()


class _AsgiChannel:
    """The engine channel's interface (``ignyx._core.WebSocketChannel``) on an ASGI
    server's ``receive`` and ``send``: what ``ignyx.websockets.WebSocket`` calls."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._outbox: asyncio.Queue[Optional[Message]] = asyncio.Queue()
        self._inbox: deque[Any] = deque()
        self._waiter: Optional[asyncio.Future] = None
        self._closed: Optional[tuple[int, str]] = None
        self._answered = False
        self._writer = asyncio.ensure_future(self._write())
        self._reader: Optional[asyncio.Future] = None

    async def connected(self) -> None:
        """Takes the server's ``websocket.connect``."""
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self._closed = (message.get("code", 1000), message.get("reason") or "")

    async def finish(self) -> None:
        """The handler is done: the queued messages go out, then the reader stops."""
        self._outbox.put_nowait(None)
        await self._writer
        if self._reader is not None:
            self._reader.cancel()

    # -- the engine channel's interface ----------------------------------------------

    def accept(self, subprotocol: Optional[str] = None, headers: Any = ()) -> None:
        if self._answered:
            raise RuntimeError("the handshake was already answered")
        self._answered = True
        message: Message = {"type": "websocket.accept", "subprotocol": subprotocol}
        if headers:
            message["headers"] = list(headers)
        self._outbox.put_nowait(message)
        self._reader = asyncio.ensure_future(self._read())

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._answered = True
        self._outbox.put_nowait({"type": "websocket.close", "code": code, "reason": reason})
        if self._closed is None:
            self._closed = (code, reason)
            self._wake()

    def deny(self, status: int) -> None:
        if self._answered:
            return
        self._answered = True
        if "websocket.http.response" in (self._scope.get("extensions") or {}):
            body = (_reason(status)).encode()
            headers = [(b"content-type", b"text/plain; charset=utf-8")]
            self._outbox.put_nowait(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            self._outbox.put_nowait({"type": "websocket.http.response.body", "body": body})
        else:
            self._outbox.put_nowait({"type": "websocket.close", "code": 1000, "reason": ""})
        self._closed = (1006, "")

    def receive(self) -> Any:
        if self._inbox:
            return self._inbox.popleft()
        return self._closed

    def wait(self, future: asyncio.Future) -> None:
        self._waiter = future
        self._wake()

    def send_text(self, data: str) -> bool:
        return self._queue({"type": "websocket.send", "text": data})

    def send_bytes(self, data: bytes) -> bool:
        return self._queue({"type": "websocket.send", "bytes": data})

    def wait_writable(self, future: asyncio.Future) -> None:
        future.set_result(None)

    # -- the two directions ------------------------------------------------------------

    def _queue(self, message: Message) -> bool:
        if self._closed is not None and not self._inbox:
            raise ConnectionError("the WebSocket is closed")
        self._outbox.put_nowait(message)
        # Let the writer catch up once a few messages wait.
        return self._outbox.qsize() > 16

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        message = self.receive()
        if message is not None:
            self._waiter = None
            waiter.set_result(message)

    async def _read(self) -> None:
        while self._closed is None:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                self._inbox.append(text if text is not None else message.get("bytes") or b"")
            elif kind == "websocket.disconnect":
                self._closed = (message.get("code", 1005), message.get("reason") or "")
            self._wake()

    async def _write(self) -> None:
        while True:
            message = await self._outbox.get()
            if message is None:
                return
            try:
                await self._send(message)
            except OSError:
                if self._closed is None:
                    self._closed = (1006, "")
                    self._wake()
                return


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


# -- lifespan -----------------------------------------------------------------------------


async def _lifespan(app: Any, scope: Scope, receive: Receive, send: Send) -> None:
    message = await receive()
    if message["type"] != "lifespan.startup":
        return
    try:
        _engine(app)
        await app._startup()
    except BaseException:
        await send({"type": "lifespan.startup.failed", "message": traceback.format_exc()})
        raise
    state = scope.get("state")
    if state is not None and app._lifespan_state:
        state.update(app._lifespan_state)
    await send({"type": "lifespan.startup.complete"})
    message = await receive()
    try:
        await app._shutdown()
    except BaseException:
        await send({"type": "lifespan.shutdown.failed", "message": traceback.format_exc()})
        raise
    await send({"type": "lifespan.shutdown.complete"})
