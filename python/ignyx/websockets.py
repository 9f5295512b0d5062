"""WebSocket connections, with Starlette's API::

    @app.websocket("/ws")
    async def echo(ws: WebSocket):
        await ws.accept()
        while True:
            data = await ws.receive_text()
            await ws.send_text(f"Echo: {data}")

The Rust engine does the handshake, the framing, ping/pong and the size limit;
``WebSocket`` talks to it through an ``ignyx._core.WebSocketChannel``. Handlers run
on the worker's event loop, like every ``async def`` handler.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Callable, Optional

from .requests import HTTPConnection

_NOT_CONNECTED = 'WebSocket is not connected. Need to call "accept" first.'


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


class WebSocketDisconnect(Exception):
    """Raised by ``receive_*`` when the client closes the connection, with its close code."""

    def __init__(self, code: int = 1000, reason: Optional[str] = None) -> None:
        self.code = code
        self.reason = reason or ""


class WebSocketDisconnected(RuntimeError):
    """Raised when a closed WebSocket is used."""


CONNECTING = WebSocketState.CONNECTING
CONNECTED = WebSocketState.CONNECTED
DISCONNECTED = WebSocketState.DISCONNECTED


class WebSocket(HTTPConnection):
    """A WebSocket connection: the upgrade request's URL, headers, query and path
    parameters, plus ``accept``, ``receive_*``, ``send_*`` and ``close``."""

    def __init__(self, data: Any, app: Any = None, channel: Any = None) -> None:
        super().__init__(data, app)
        self._channel = channel
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.client_state = CONNECTING
        self.application_state = CONNECTING

    @property
    def scope(self) -> dict[str, Any]:
        scope = super().scope
        scope["type"] = "websocket"
        offered = self._data.header_all("sec-websocket-protocol")
        scope["subprotocols"] = [p.strip() for v in offered for p in v.split(",") if p.strip()]
        return scope

    # -- receiving ---------------------------------------------------------------

    async def _next(self) -> Any:
        """The engine's next message: ``str``, ``bytes``, or ``(code, reason)`` once closed."""
        message = self._channel.receive()
        if message is None:
            future = self._future()
            self._channel.wait(future)
            message = await future
        return message

    def _future(self) -> asyncio.Future:
        # The loop is looked up once: get_running_loop() costs a getpid() syscall.
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.create_future()

    async def receive(self) -> dict[str, Any]:
        """The next ASGI message: ``websocket.connect``, ``websocket.receive`` or
        ``websocket.disconnect``."""
        if self.client_state is CONNECTING:
            self.client_state = CONNECTED
            return {"type": "websocket.connect"}
        if self.client_state is DISCONNECTED:
            raise WebSocketDisconnected(
                'Cannot call "receive" once a disconnect message has been received.'
            )
        message = await self._next()
        if type(message) is tuple:
            self.client_state = DISCONNECTED
            return {"type": "websocket.disconnect", "code": message[0], "reason": message[1]}
        if type(message) is str:
            return {"type": "websocket.receive", "text": message}
        return {"type": "websocket.receive", "bytes": message}

    async def _receive_data(self) -> Any:
        if self.application_state is not CONNECTED:
            raise WebSocketDisconnected(_NOT_CONNECTED)
        if self.client_state is not CONNECTED:
            await self.receive()  # the same errors as Starlette
        message = await self._next()
        if type(message) is tuple:
            self.client_state = DISCONNECTED
            raise WebSocketDisconnect(*message)
        return message

    async def receive_text(self) -> str:
        message = await self._receive_data()
        if type(message) is not str:
            raise KeyError("text")  # what Starlette's message["text"] raises for a binary message
        return message

    async def receive_bytes(self) -> bytes:
        message = await self._receive_data()
        if type(message) is not bytes:
            raise KeyError("bytes")
        return message

    async def receive_json(self, mode: str = "text") -> Any:
        if mode not in {"text", "binary"}:
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        if mode == "text":
            return json.loads(await self.receive_text())
        return json.loads((await self.receive_bytes()).decode("utf-8"))

    async def iter_text(self) -> AsyncIterator[str]:
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self) -> AsyncIterator[Any]:
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            pass

    # -- sending -------------------------------------------------------------------

    async def send(self, message: Mapping[str, Any]) -> None:
        """Sends an ASGI message: ``websocket.accept``, ``websocket.send`` or ``websocket.close``."""
        kind = message["type"]
        state = self.application_state
        if state is CONNECTING:
            if kind == "websocket.accept":
                headers = [(bytes(k), bytes(v)) for k, v in message.get("headers") or []]
                self._channel.accept(message.get("subprotocol"), headers)
                self.application_state = CONNECTED
            elif kind == "websocket.close":
                self.application_state = DISCONNECTED
                self._channel.close(message.get("code", 1000), str(message.get("reason") or ""))
            else:
                raise RuntimeError(
                    'Expected ASGI message "websocket.accept", "websocket.close" or '
                    f'"websocket.http.response.start", but got {kind!r}'
                )
        elif state is CONNECTED:
            if kind == "websocket.send":
                text = message.get("text")
                if text is not None:
                    await self._push(self._channel.send_text, text)
                else:
                    await self._push(self._channel.send_bytes, bytes(message["bytes"]))
            elif kind == "websocket.close":
                self.application_state = DISCONNECTED
                self._channel.close(message.get("code", 1000), str(message.get("reason") or ""))
            else:
                raise RuntimeError(
                    f'Expected ASGI message "websocket.send" or "websocket.close", but got {kind!r}'
                )
        else:
            raise WebSocketDisconnected('Cannot call "send" once a close message has been sent.')

    async def _push(self, send: Callable[[Any], bool], data: Any) -> None:
        try:
            must_wait = send(data)
        except OSError:
            self.application_state = DISCONNECTED
            raise WebSocketDisconnect(code=1006) from None
        if must_wait:
            # The client reads slower than we write: wait for the engine to catch up.
            future = self._future()
            self._channel.wait_writable(future)
            await future

    async def accept(
        self,
        subprotocol: Optional[str] = None,
        headers: Optional[Iterable[tuple[bytes, bytes]]] = None,
    ) -> None:
        """Completes the handshake (HTTP 101), choosing `subprotocol` among those offered."""
        if self.client_state is CONNECTING:
            self.client_state = CONNECTED
        await self.send(
            {"type": "websocket.accept", "subprotocol": subprotocol, "headers": headers}
        )

    async def send_text(self, data: str) -> None:
        if self.application_state is not CONNECTED:
            return await self.send({"type": "websocket.send", "text": data})
        await self._push(self._channel.send_text, data)

    async def send_bytes(self, data: bytes) -> None:
        if self.application_state is not CONNECTED:
            return await self.send({"type": "websocket.send", "bytes": data})
        await self._push(self._channel.send_bytes, data if type(data) is bytes else bytes(data))

    async def send_json(self, data: Any, mode: str = "text") -> None:
        if mode not in {"text", "binary"}:
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            await self.send_text(text)
        else:
            await self.send_bytes(text.encode("utf-8"))

    async def close(self, code: int = 1000, reason: Optional[str] = None) -> None:
        """Closes with `code`; before `accept()` the client gets HTTP 403 instead."""
        await self.send({"type": "websocket.close", "code": code, "reason": reason or ""})

    async def send_denial_response(self, response: Any) -> None:
        """Answers the handshake with `response` (a whole HTTP response) instead of
        accepting it."""
        if self.application_state != CONNECTING:
            raise RuntimeError(
                'Expected ASGI message "websocket.http.response.start", but the '
                "handshake was already answered."
            )
        body = getattr(response, "body", None)
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise RuntimeError("A denial response needs a body in memory (not a stream).")
        self.application_state = DISCONNECTED
        headers = [(bytes(k), bytes(v)) for k, v in response.raw_headers]
        self._channel.respond(response.status_code, headers, bytes(body))

    def _deny(self, status_code: int) -> None:
        """Answers the upgrade request with a bare HTTP status (only before `accept()`)."""
        self.application_state = DISCONNECTED
        self._channel.deny(status_code)

    def __repr__(self) -> str:
        return f"<WebSocket {self._data.path}>"


__all__ = [
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "WebSocketState",
]
