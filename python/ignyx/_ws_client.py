"""``TestClient.websocket_connect``: Starlette's WebSocket test session over a real socket.

The session speaks to the app the TestClient serves on 127.0.0.1 with the ``websockets``
package's sync client, so handshakes, frames and close codes go through the Rust engine::

    with client.websocket_connect("/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "Echo: hi"
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from typing import Any, Optional
from urllib.parse import urlencode, urlsplit

import httpx
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from .websockets import WebSocketDisconnect

# Headers the WebSocket handshake sets itself.
_HANDSHAKE = {
    "host",
    "connection",
    "upgrade",
    "accept-encoding",
    "accept",
    "user-agent",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
}


# Both an httpx response and the exception a refused handshake raises, as in Starlette's
# TestClient; the two bases' __setstate__ differ, and neither is used.
class WebSocketDenialResponse(httpx.Response, WebSocketDisconnect):  # type: ignore[misc]
    """The app answered the upgrade request with an HTTP response instead of accepting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        httpx.Response.__init__(self, *args, **kwargs)
        WebSocketDisconnect.__init__(self, 1000)


class WebSocketTestSession:
    """One WebSocket to the app under test; raises `WebSocketDisconnect` when the app closes."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self.accepted_subprotocol: Optional[str] = connection.subprotocol
        response = connection.response
        self.extra_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in (response.headers.raw_items() if response else [])
            if k.lower() not in ("upgrade", "connection", "sec-websocket-accept", "date")
        ]

    def __enter__(self) -> WebSocketTestSession:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close(1000)

    # -- sending -----------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        """Sends an ASGI-style message: ``websocket.receive`` (text/bytes) or
        ``websocket.disconnect``."""
        if message["type"] == "websocket.disconnect":
            self.close(message.get("code", 1000), message.get("reason"))
        elif message.get("text") is not None:
            self.send_text(message["text"])
        else:
            self.send_bytes(message["bytes"])

    def send_text(self, data: str) -> None:
        self._send(data)

    def send_bytes(self, data: bytes) -> None:
        self._send(bytes(data))

    def send_json(self, data: Any, mode: str = "text") -> None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self._send(text if mode == "text" else text.encode("utf-8"))

    def _send(self, data: Any) -> None:
        try:
            self._connection.send(data)
        except ConnectionClosed as exc:
            raise _disconnect(exc) from None

    def close(self, code: int = 1000, reason: Optional[str] = None) -> None:
        self._connection.close(code, reason or "")

    # -- receiving ---------------------------------------------------------------

    def receive(self) -> dict[str, Any]:
        """The next message from the app, as Starlette's session gives it: ``websocket.send``
        with ``text`` or ``bytes``, or ``websocket.close`` with ``code`` and ``reason``."""
        try:
            data = self._connection.recv()
        except ConnectionClosed as exc:
            disconnect = _disconnect(exc)
            return {"type": "websocket.close", "code": disconnect.code, "reason": disconnect.reason}
        if isinstance(data, str):
            return {"type": "websocket.send", "text": data}
        return {"type": "websocket.send", "bytes": data}

    def _receive(self) -> Any:
        try:
            return self._connection.recv()
        except ConnectionClosed as exc:
            raise _disconnect(exc) from None

    def receive_text(self) -> str:
        data = self._receive()
        if not isinstance(data, str):
            raise KeyError("text")
        return data

    def receive_bytes(self) -> bytes:
        data = self._receive()
        if not isinstance(data, bytes):
            raise KeyError("bytes")
        return data

    def receive_json(self, mode: str = "text") -> Any:
        if mode == "text":
            return json.loads(self.receive_text())
        return json.loads(self.receive_bytes().decode("utf-8"))


def _disconnect(exc: ConnectionClosed) -> WebSocketDisconnect:
    frame = exc.rcvd
    if frame is None:
        return WebSocketDisconnect(1006)
    return WebSocketDisconnect(frame.code, frame.reason)


def connect(
    client: Any,
    url: str,
    subprotocols: Optional[Sequence[Subprotocol]] = None,
    headers: Optional[dict[str, str]] = None,
    params: Optional[dict[str, Any]] = None,
    cookies: Optional[dict[str, str]] = None,
    **_: Any,
) -> WebSocketTestSession:
    """Opens a WebSocket to `url` on `client`'s app. A handshake the app refuses raises
    `WebSocketDisconnect` (with the close code when the app closed before accepting)."""
    parts = urlsplit(str(client.base_url.join(url)))
    query = parts.query
    if params:
        query = "&".join(q for q in (query, urlencode(params, doseq=True)) if q)
    target = f"ws://{parts.netloc}{parts.path or '/'}" + (f"?{query}" if query else "")

    extra = [(k, v) for k, v in client.headers.items() if k.lower() not in _HANDSHAKE]
    extra += list((headers or {}).items())
    jar = {**dict(client.cookies), **(cookies or {})}
    if jar:
        extra.append(("cookie", "; ".join(f"{k}={v}" for k, v in jar.items())))

    sock = socket.create_connection(("127.0.0.1", client.port))
    try:
        connection = ws_connect(
            target,
            sock=sock,
            subprotocols=subprotocols,
            additional_headers=extra,
            user_agent_header=client.headers.get("user-agent", "testclient"),
            compression=None,
            proxy=None,
            open_timeout=30,
            ping_interval=None,
            max_size=None,
        )
    except InvalidStatus as exc:
        sock.close()
        raise _denial(exc.response) from None
    except BaseException:
        sock.close()
        raise
    # Owned like a context manager (websockets >= 17.1 warns about a bare connection).
    return WebSocketTestSession(connection.__enter__())


def _denial(response: Any) -> WebSocketDisconnect:
    code = response.headers.get("x-websocket-close-code")
    if response.status_code == 403 and code is not None:
        return WebSocketDisconnect(int(code), response.body.decode("utf-8", "replace"))
    return WebSocketDenialResponse(
        status_code=response.status_code,
        headers=list(response.headers.raw_items()),
        content=response.body,
    )
