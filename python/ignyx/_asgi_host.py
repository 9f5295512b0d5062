"""Hosting an ASGI app inside the engine: run it with a scope and a ``receive``, and take
what it sends as one of our own ``Response`` objects.

Three callers: the native server, when the app has Python middleware (the engine then
hands every request to `stack_entry`, whose ASGI stack ends in the app's own routes,
``ignyx._asgi``); a mounted ASGI app (`mount_entry`, the route of ``app.mount``); and
``BaseHTTPMiddleware.call_next``. A response sent whole becomes a
``Response``; one that streams (``more_body``) becomes a ``StreamingResponse`` that goes
on as the app sends, so server-sent events pass through middleware.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator
from typing import Any, Awaitable, Callable, Optional, TypeVar

from . import _core
from .responses import Response, StreamingResponse

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_END = object()
T = TypeVar("T")


def stack_entry(app: Any, stack: ASGIApp) -> Callable[[Any], Awaitable[Any]]:
    """The route the native server calls for every request of an app with Python
    middleware: the request as Starlette's scope, answered by the ASGI `stack`, whose
    ``receive`` and ``send`` are the engine's own (``_core.SentReply``)."""

    async def entry(data: Any) -> Any:
        # The engine hands this route its request data, not a Request (`RouteKind::Stack`).
        reply = _core.SentReply(data)
        running: Any = stack(_scope_of(app, data), reply.receive, reply.send)
        # Started right here, as in `host`: most apps answer without waiting for anything.
        # Every step runs in one context of its own, as a task's would.
        context = contextvars.copy_context()
        try:
            awaited = context.run(running.send, None)
        except StopIteration:
            return reply
        except Exception:
            if not reply.answered:
                raise
            reply.abort()  # failed mid-stream: the client sees the body cut
            return reply
        return await _answered(reply, running, awaited, context)

    return entry


async def _answered(reply: Any, running: Any, awaited: Any, context: contextvars.Context) -> Any:
    """Goes on with a started stack that waits for something, and returns `reply` as soon as
    the stack has sent its response (whole, or the start of a stream)."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[None] = loop.create_future()
    reply.answer_to(answered)

    async def finish() -> None:
        try:
            await _go_on(running, awaited, context)
        except BaseException as exc:
            if not answered.done():
                answered.set_exception(exc)
            reply.abort()
            if not isinstance(exc, Exception):
                raise
        else:
            if not answered.done():
                answered.set_exception(RuntimeError("No response returned."))
        finally:
            reply.close()

    await _answer_of(answered, loop.create_task(finish()))
    return reply


def mount_entry(
    app: Any, mount_path: str, mounted: ASGIApp
) -> Callable[[Any], Awaitable[Response]]:
    """The route of ``app.mount(mount_path, mounted)``: the request as the scope Starlette
    gives a mounted app (``root_path`` extended by the mount's path), answered by it."""

    async def entry(request: Any) -> Response:
        scope = {**request.scope}
        root_path = scope.get("root_path", "")
        scope["app_root_path"] = scope.get("app_root_path", root_path)
        scope["root_path"] = root_path + mount_path
        scope["path_params"] = {}
        scope["endpoint"] = mounted
        return await host(mounted, scope, body_receiver(await request.body()))

    return entry


def _scope_of(app: Any, data: Any) -> Scope:
    """The scope the middleware stack gets: Starlette's keys, the lifespan's state. The
    stack's innermost app recognises it (``_core.continued_route``)."""
    state = app._lifespan_state
    return _core.engine_scope(data, app, app.root_path, dict(state) if state else {})


def websocket_stack_entry(app: Any, stack: ASGIApp) -> Callable[[Any, Any], asyncio.Task]:
    """What the native server starts for a WebSocket upgrade of an app with Python
    middleware: the stack runs with a ``websocket`` scope whose ``receive`` and ``send`` are
    the engine's channel, and its innermost app serves the WebSocket route."""

    def start(data: Any, channel: Any) -> asyncio.Task:
        return _run_websocket(stack, _websocket_scope(app, data), channel)

    return start


def mount_websocket_entry(
    app: Any, mount_path: str, mounted: ASGIApp
) -> Callable[[Any, Any], asyncio.Task]:
    """The WebSocket route of ``app.mount(mount_path, mounted)``: the upgrade goes to the
    mounted app with the scope Starlette gives it."""

    def start(data: Any, channel: Any) -> asyncio.Task:
        scope = _websocket_scope(app, data)
        scope["root_path"] = scope.get("root_path", "") + mount_path
        scope["path_params"] = {}
        scope["endpoint"] = mounted
        return _run_websocket(mounted, scope, channel)

    return start


def _websocket_scope(app: Any, data: Any) -> Scope:
    scope = _scope_of(app, data)
    scope["type"] = "websocket"
    scope["scheme"] = data.scheme
    offered = data.header_all("sec-websocket-protocol")
    scope["subprotocols"] = [p.strip() for v in offered for p in v.split(",") if p.strip()]
    # An app may answer the handshake with a whole HTTP response (a denial response).
    scope["extensions"] = {**scope.get("extensions", {}), "websocket.http.response": {}}
    del scope["method"]
    return scope


def _run_websocket(asgi_app: ASGIApp, scope: Scope, channel: Any) -> asyncio.Task:
    link = _ChannelLink(channel)

    async def serve() -> None:
        await asgi_app(scope, link.receive, link.send)

    return asyncio.get_running_loop().create_task(serve())


class _ChannelLink:
    """The engine's WebSocket channel as an ASGI ``receive`` and ``send``."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel
        self._connected = False
        self._accepted = False
        # A denial response being sent: status, headers and the body so far.
        self._denial: Optional[tuple[int, list[Any], list[bytes]]] = None

    async def receive(self) -> Message:
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        message = self._channel.receive()
        if message is None:
            future = asyncio.get_running_loop().create_future()
            self._channel.wait(future)
            message = await future
        if type(message) is tuple:
            return {"type": "websocket.disconnect", "code": message[0], "reason": message[1]}
        if type(message) is str:
            return {"type": "websocket.receive", "text": message}
        return {"type": "websocket.receive", "bytes": message}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        channel = self._channel
        if kind == "websocket.accept":
            headers = [(bytes(k), bytes(v)) for k, v in message.get("headers") or ()]
            channel.accept(message.get("subprotocol"), headers)
            self._accepted = True
        elif kind == "websocket.send":
            text = message.get("text")
            must_wait = (
                channel.send_text(text)
                if text is not None
                else channel.send_bytes(message["bytes"])
            )
            if must_wait:
                future = asyncio.get_running_loop().create_future()
                channel.wait_writable(future)
                await future
        elif kind == "websocket.close":
            channel.close(message.get("code", 1000), str(message.get("reason") or ""))
        elif kind == "websocket.http.response.start" and not self._accepted:
            self._denial = (message["status"], list(message.get("headers", ())), [])
        elif kind == "websocket.http.response.body" and self._denial is not None:
            status, headers, body = self._denial
            body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                raw = [(bytes(k), bytes(v)) for k, v in headers]
                channel.respond(status, raw, b"".join(body))
                self._denial = None
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")


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
                # Failed mid-stream: whoever reads the body hears it, and cuts the response.
                await chunks.put(exc)
            if not isinstance(exc, Exception):
                raise
            return
        if not answer.done():
            answer.set_exception(RuntimeError("No response returned."))
        elif chunks is not None:
            await chunks.put(_END)

    # Started right here: most apps answer without waiting for anything real, and then no
    # task (and no pass of the event loop) is needed. One that waits goes on as a task.
    running = run()
    context = contextvars.copy_context()
    try:
        awaited = context.run(running.send, None)
    except StopIteration:
        return answer.result()
    return await _answer_of(answer, loop.create_task(_go_on(running, awaited, context)))


async def _answer_of(answer: asyncio.Future[T], running: asyncio.Task[None]) -> T:
    """`answer`, which the app `running` gives; the app is stopped when the answer failed or
    no one waits for it any more."""
    # What ends `running` reaches the request through `answer` (and a KeyboardInterrupt or
    # SystemExit leaves the loop's step too): read once it is done, so that asyncio does not
    # log it again, as never retrieved, when the task is collected.
    running.add_done_callback(_retrieved)
    try:
        return await answer
    finally:
        if not answer.done() or answer.exception() is not None:
            running.cancel()


def _retrieved(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def _go_on(coroutine: Any, awaited: Any, context: contextvars.Context) -> None:
    """Drives a started `coroutine` that is waiting for `awaited` (a future, or None after a
    bare yield) to its end, as asyncio's Task would have from the start: resumed once the
    future is done, which it then reads itself, each step in `context`, where it began (so
    that what it sets in ContextVars it can reset)."""
    loop = asyncio.get_running_loop()
    while True:
        if awaited is None:
            await asyncio.sleep(0)
        else:
            # Awaiting the future itself would fail: it is marked as awaited already.
            done = loop.create_future()
            awaited.add_done_callback(functools.partial(_settle, done))
            try:
                await done
            except asyncio.CancelledError:
                # Cancelled while waiting: the coroutine hears it from its future, as in a Task.
                awaited.cancel()
        try:
            awaited = context.run(coroutine.send, None)
        except StopIteration:
            return


def _settle(done: asyncio.Future[None], _future: Any) -> None:
    if not done.done():
        done.set_result(None)


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
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk

    response = StreamingResponse(body(), status_code=start.get("status", 200))
    response.raw_headers = _headers(start)
    return response
