"""``TestClient.websocket_connect``: Starlette's WebSocket test session over a real socket.

The session speaks RFC 6455 to the app the TestClient serves on 127.0.0.1, with the small
client below (no WebSocket package needed), so handshakes, frames and close codes go
through the Rust engine::

    with client.websocket_connect("/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "Echo: hi"
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
from collections.abc import Sequence
from typing import Any, Optional, Union
from urllib.parse import urlencode, urlsplit

import httpx

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

# What the server hashes with the client's key to prove it speaks WebSocket (RFC 6455 1.3).
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# How long closing waits for the server's own close frame.
_CLOSE_TIMEOUT = 10.0


# Both an httpx response and the exception a refused handshake raises, as in Starlette's
# TestClient; the two bases' __setstate__ differ, and neither is used.
class WebSocketDenialResponse(httpx.Response, WebSocketDisconnect):  # type: ignore[misc]
    """The app answered the upgrade request with an HTTP response instead of accepting."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        httpx.Response.__init__(self, *args, **kwargs)
        WebSocketDisconnect.__init__(self, 1000)


class _Frames:
    """RFC 6455 framing on a connected socket: masked frames out, whole messages in."""

    def __init__(self, sock: socket.socket, buffered: bytes) -> None:
        self.sock = sock
        self._buffer = bytearray(buffered)
        self.close_sent = False

    def send(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        key = os.urandom(4)
        self.sock.sendall(head + key + _masked(payload, key))

    def send_close(self, payload: bytes) -> None:
        self.close_sent = True
        self.send(_CLOSE, payload)

    def receive(self) -> Union[str, bytes, WebSocketDisconnect]:
        """The next message; pings are answered on the way. A close frame (answered) or the
        connection's end gives the `WebSocketDisconnect` to raise."""
        parts: list[bytes] = []
        kind = None
        while True:
            try:
                fin, opcode, payload = self._frame()
            except (EOFError, OSError):
                return WebSocketDisconnect(1006)
            if opcode == _PING:
                self.send(_PONG, payload)
            elif opcode == _CLOSE:
                code, reason = 1005, ""
                if len(payload) >= 2:
                    code = struct.unpack("!H", payload[:2])[0]
                    reason = payload[2:].decode("utf-8", "replace")
                if not self.close_sent:
                    try:
                        self.send_close(payload[:2])
                    except OSError:
                        pass
                return WebSocketDisconnect(code, reason)
            elif opcode in (_TEXT, _BINARY, _CONTINUATION):
                if opcode != _CONTINUATION:
                    kind = opcode
                parts.append(payload)
                if fin:
                    data = b"".join(parts)
                    return data.decode("utf-8") if kind == _TEXT else data

    def _frame(self) -> tuple[bool, int, bytes]:
        first, second = self._read(2)
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", self._read(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", self._read(8))
        key = self._read(4) if second & 0x80 else None
        payload = self._read(size)
        return bool(first & 0x80), first & 0x0F, _masked(payload, key) if key else payload

    def _read(self, size: int) -> bytes:
        buffer = self._buffer
        while len(buffer) < size:
            chunk = self.sock.recv(max(65536, size - len(buffer)))
            if not chunk:
                raise EOFError
            buffer += chunk
        data = bytes(buffer[:size])
        del buffer[:size]
        return data


def _masked(data: bytes, key: bytes) -> bytes:
    """`data` XOR-ed with the repeated 4-byte `key` (masking and unmasking are the same)."""
    size = len(data)
    if not size:
        return data
    repeated = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(size, "big")


class WebSocketTestSession:
    """One WebSocket to the app under test; raises `WebSocketDisconnect` when the app closes."""

    def __init__(
        self, frames: _Frames, subprotocol: Optional[str], headers: list[tuple[bytes, bytes]]
    ) -> None:
        self._frames = frames
        self._closed: Optional[WebSocketDisconnect] = None
        self.accepted_subprotocol = subprotocol
        self.extra_headers = headers

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
        self._send(_TEXT, data.encode("utf-8"))

    def send_bytes(self, data: bytes) -> None:
        self._send(_BINARY, bytes(data))

    def send_json(self, data: Any, mode: str = "text") -> None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self._send(_TEXT if mode == "text" else _BINARY, text.encode("utf-8"))

    def _send(self, opcode: int, payload: bytes) -> None:
        if self._closed is not None:
            raise self._closed
        if self._frames.close_sent:
            raise WebSocketDisconnect(1000)
        try:
            self._frames.send(opcode, payload)
        except OSError:
            self._closed = WebSocketDisconnect(1006)
            raise self._closed from None

    def close(self, code: int = 1000, reason: Optional[str] = None) -> None:
        """Closes the WebSocket: sends a close frame and waits for the server's."""
        sock = self._frames.sock
        if self._closed is None and not self._frames.close_sent:
            payload = struct.pack("!H", code) + (reason or "").encode("utf-8")
            try:
                self._frames.send_close(payload)
                sock.settimeout(_CLOSE_TIMEOUT)
                while self._closed is None:
                    message = self._frames.receive()
                    if isinstance(message, WebSocketDisconnect):
                        self._closed = message
            except OSError:
                pass
        sock.close()

    # -- receiving ---------------------------------------------------------------

    def _receive(self) -> Union[str, bytes]:
        if self._closed is None:
            message = self._frames.receive()
            if not isinstance(message, WebSocketDisconnect):
                return message
            self._closed = message
            self._frames.sock.close()
        raise WebSocketDisconnect(self._closed.code, self._closed.reason)

    def receive(self) -> dict[str, Any]:
        """The next message from the app, as Starlette's session gives it: ``websocket.send``
        with ``text`` or ``bytes``, or ``websocket.close`` with ``code`` and ``reason``."""
        try:
            data = self._receive()
        except WebSocketDisconnect as closed:
            return {"type": "websocket.close", "code": closed.code, "reason": closed.reason}
        if isinstance(data, str):
            return {"type": "websocket.send", "text": data}
        return {"type": "websocket.send", "bytes": data}

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


def connect(
    client: Any,
    url: str,
    subprotocols: Optional[Sequence[str]] = None,
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
    target = (parts.path or "/") + (f"?{query}" if query else "")

    key = base64.b64encode(os.urandom(16)).decode("ascii")
    # A `host` the test gives replaces the base URL's, as httpx lets it for requests.
    given = {k.lower(): v for k, v in (headers or {}).items()}
    headers = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}
    lines = [
        f"GET {target} HTTP/1.1",
        f"host: {given.get('host', parts.netloc)}",
        "upgrade: websocket",
        "connection: Upgrade",
        f"sec-websocket-key: {key}",
        "sec-websocket-version: 13",
        f"user-agent: {client.headers.get('user-agent', 'testclient')}",
    ]
    if subprotocols:
        lines.append(f"sec-websocket-protocol: {', '.join(subprotocols)}")
    lines += [f"{k}: {v}" for k, v in client.headers.items() if k.lower() not in _HANDSHAKE]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    jar = {**dict(client.cookies), **(cookies or {})}
    if jar:
        lines.append("cookie: " + "; ".join(f"{k}={v}" for k, v in jar.items()))

    sock = socket.create_connection(("127.0.0.1", client.port))
    try:
        sock.sendall("\r\n".join([*lines, "", ""]).encode("latin-1"))
        status, response_headers, rest = _read_head(sock)
        if status != 101:
            raise _denial(status, response_headers, _read_body(sock, response_headers, rest))
        found = {k.lower(): v for k, v in response_headers}
        expected = base64.b64encode(hashlib.sha1(key.encode() + _ACCEPT_GUID).digest()).decode()
        if found.get("sec-websocket-accept") != expected:
            raise RuntimeError("the server did not accept the WebSocket handshake")
    except BaseException:
        sock.close()
        raise
    extra = [
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in response_headers
        if k.lower() not in ("upgrade", "connection", "sec-websocket-accept", "date")
    ]
    return WebSocketTestSession(_Frames(sock, rest), found.get("sec-websocket-protocol"), extra)


def _read_head(sock: socket.socket) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status and headers of the handshake's answer, and the bytes read past them."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection during the handshake")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = [
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in header_lines)
    ]
    return int(status_line.split()[1]), headers, rest


def _read_body(sock: socket.socket, headers: list[tuple[str, str]], data: bytes) -> bytes:
    """The body of a refused handshake's answer: by its length, chunked, or to the end."""
    found = {k.lower(): v for k, v in headers}
    sock.settimeout(_CLOSE_TIMEOUT)
    if "content-length" in found:
        size = int(found["content-length"])
        while len(data) < size:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data[:size]
    if "chunked" in found.get("transfer-encoding", "").lower():
        while not data.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        body = b""
        while data:
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            body, data = body + data[:size], data[size + 2 :]
        return body
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _denial(status: int, headers: list[tuple[str, str]], body: bytes) -> WebSocketDisconnect:
    code = next((v for k, v in headers if k.lower() == "x-websocket-close-code"), None)
    if status == 403 and code is not None:
        return WebSocketDisconnect(int(code), body.decode("utf-8", "replace"))
    return WebSocketDenialResponse(status_code=status, headers=headers, content=body)
