"""RFC 6455 on the wire: the native server's WebSocket framing, control frames, UTF-8, close
handshake and limits, driven by a hand-written client that builds every frame itself.

The cases follow the Autobahn fuzzing-client sections 1-7 and 9 (framing, pings/pongs,
reserved bits, opcodes, fragmentation, UTF-8, close handling, limits): each asserts what
the server sends back within a bounded time, and that a fresh connection still echoes.

The server holds every WebSocket to ``ws_max_size`` (``Server(..., ws_max_size=...)``,
16 MiB by default; it bounds both a frame and a whole message): past it the socket closes
with 1009. Server pings (``ws_ping_interval``) are off here so that every frame the client
reads is one the test provoked.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
from dataclasses import dataclass
from typing import Iterator, Optional

import httpx
import pytest
from conftest import eventually, live_server
from ignyx import Ignyx, WebSocket, WebSocketDisconnect

TIMEOUT = 5.0
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

DEFAULT_MAX_SIZE = 16 * 1024 * 1024
SMALL_MAX_SIZE = 100_000


# --- the app ------------------------------------------------------------------------------


def build_app() -> Ignyx:
    app = Ignyx()
    app.state.disconnects = []

    @app.websocket("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])

    @app.websocket("/strict")
    async def strict(websocket: WebSocket):
        # receive_bytes() raises WebSocketDisconnect, where receive() returns a message.
        await websocket.accept()
        try:
            while True:
                await websocket.send_bytes(await websocket.receive_bytes())
        except WebSocketDisconnect as exc:
            app.state.disconnects.append(exc.code)

    @app.websocket("/bye")
    async def bye(websocket: WebSocket):
        # The server starts the closing handshake once it has read one message.
        await websocket.accept()
        await websocket.receive_text()
        await websocket.close(code=4001, reason="done")

    @app.get("/disconnects")
    def disconnects():
        return {"codes": app.state.disconnects}

    return app


@pytest.fixture(scope="module")
def app() -> Ignyx:
    return build_app()


@pytest.fixture(scope="module")
def port(app: Ignyx) -> Iterator[int]:
    with live_server(app, ws_ping_interval=None) as server:
        yield server.port


@pytest.fixture(scope="module")
def small_port() -> Iterator[int]:
    with live_server(build_app(), ws_ping_interval=None, ws_max_size=SMALL_MAX_SIZE) as server:
        yield server.port


# --- the client ---------------------------------------------------------------------------


def mask_payload(payload: bytes, key: bytes) -> bytes:
    """XORs `payload` with the 4-byte `key` repeated (one big-integer XOR: fast for MiBs)."""
    n = len(payload)
    if not n:
        return b""
    keystream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(n, "big")


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length: Optional[int] = None,
) -> bytes:
    """One frame as a client sends it; `length` overrides the declared payload length."""
    length = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | opcode & 0xF])
    mask_bit = 0x80 if masked else 0
    if length <= 125:
        head += bytes([mask_bit | length])
    elif length <= 0xFFFF:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + mask_payload(payload, key)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload: bytes

    @property
    def close_code(self) -> Optional[int]:
        assert self.opcode == CLOSE
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None


class Client:
    """A raw WebSocket client: the upgrade by hand, then frames built byte by byte."""

    def __init__(self, port: int, path: str = "/echo") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.settimeout(TIMEOUT)
        self.buffer = b""
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(
            b"GET " + path.encode() + b" HTTP/1.1\r\n"
            b"Host: 127.0.0.1:" + str(port).encode() + b"\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].split(" ", 2)[1] == "101", lines[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        assert headers.get("sec-websocket-accept") == expected
        assert headers.get("upgrade", "").lower() == "websocket"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += chunk

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes = b"", **kwargs: object) -> None:
        self.send(frame(opcode, payload, **kwargs))  # type: ignore[arg-type]

    def recv_frame(self) -> Frame:
        b0, b1 = self._read(2)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        masked = bool(b1 & 0x80)
        key = self._read(4) if masked else b""
        payload = self._read(length)
        if masked:
            payload = mask_payload(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 0x7, b0 & 0xF, masked, payload)

    def recv_message(self) -> tuple[int, bytes]:
        """The next data message (fragments joined); fails on any other frame."""
        first = self.recv_frame()
        assert not first.masked and first.rsv == 0
        assert first.opcode in (TEXT, BINARY), first
        parts = [first.payload]
        current = first
        while not current.fin:
            current = self.recv_frame()
            assert current.opcode == CONTINUATION, current
            parts.append(current.payload)
        return first.opcode, b"".join(parts)

    def expect_close(self, *codes: int) -> Frame:
        """Reads the server's close frame (its code one of `codes`), then the end of TCP."""
        closing = self.recv_frame()
        assert closing.opcode == CLOSE, closing
        assert not closing.masked
        assert closing.close_code in codes, closing
        self.expect_eof()
        return closing

    def expect_eof(self) -> None:
        """The server ends the TCP connection (FIN or RST) within the timeout."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return
            if not chunk:
                return
        raise AssertionError("the server kept the TCP connection open")


def assert_still_echoes(port: int) -> None:
    with Client(port) as client:
        client.send_frame(TEXT, b"still here")
        assert client.recv_message() == (TEXT, b"still here")
        client.send_frame(CLOSE, close_payload(1000))
        client.expect_close(1000)


@pytest.fixture
def client(port: int) -> Iterator[Client]:
    with Client(port) as client:
        yield client
    # Whatever the case did, the server keeps serving.
    assert_still_echoes(port)


# --- 1. framing -------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_message_sizes_echo_exactly(client: Client, opcode: int, size: int) -> None:
    payload = (b"*" * size) if opcode == TEXT else os.urandom(size)
    client.send_frame(opcode, payload)
    assert client.recv_message() == (opcode, payload)


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_fragmented_message_echoes_as_one(client: Client, opcode: int) -> None:
    payload = bytes(ord("a") + i % 26 for i in range(1000))
    pieces = [payload[i : i + 7] for i in range(0, len(payload), 7)]
    for index, piece in enumerate(pieces):
        first, last = index == 0, index == len(pieces) - 1
        client.send_frame(opcode if first else CONTINUATION, piece, fin=last)
    assert client.recv_message() == (opcode, payload)


def test_pings_between_fragments_get_pongs(client: Client) -> None:
    client.send_frame(TEXT, b"frag", fin=False)
    for index in range(3):
        client.send_frame(PING, b"ping %d" % index)
        pong = client.recv_frame()
        assert (pong.opcode, pong.fin, pong.payload) == (PONG, True, b"ping %d" % index)
        client.send_frame(CONTINUATION, b"-%d" % index, fin=False)
    client.send_frame(CONTINUATION, b"end", fin=True)
    assert client.recv_message() == (TEXT, b"frag-0-1-2end")


def test_empty_fragments(client: Client) -> None:
    client.send_frame(BINARY, b"", fin=False)
    client.send_frame(CONTINUATION, b"", fin=False)
    client.send_frame(CONTINUATION, b"x", fin=False)
    client.send_frame(CONTINUATION, b"", fin=True)
    assert client.recv_message() == (BINARY, b"x")


def test_ten_pings_get_ten_pongs_in_order(client: Client) -> None:
    for index in range(10):
        client.send_frame(PING, b"%d" % index)
    assert [client.recv_frame().payload for _ in range(10)] == [b"%d" % i for i in range(10)]


# --- 2. pings and pongs -------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 125])
def test_ping_gets_pong_with_same_payload(client: Client, size: int) -> None:
    payload = os.urandom(size)
    client.send_frame(PING, payload)
    pong = client.recv_frame()
    assert (pong.opcode, pong.fin, pong.masked, pong.payload) == (PONG, True, False, payload)


def test_ping_over_125_bytes_closes_1002(client: Client) -> None:
    client.send_frame(PING, b"x" * 126)
    client.expect_close(1002)


def test_unsolicited_pong_is_ignored(client: Client) -> None:
    client.send_frame(PONG, b"nobody asked")
    client.send_frame(PONG, b"")
    client.send_frame(TEXT, b"after pongs")
    assert client.recv_message() == (TEXT, b"after pongs")


# --- 3. reserved bits, opcodes, fragmentation errors --------------------------------------


@pytest.mark.parametrize("rsv", [1, 2, 4, 7], ids=["rsv3", "rsv2", "rsv1", "all"])
@pytest.mark.parametrize("opcode", [TEXT, BINARY, PING])
def test_reserved_bits_close_1002(client: Client, rsv: int, opcode: int) -> None:
    client.send_frame(opcode, b"hello", rsv=rsv)
    client.expect_close(1002)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
def test_reserved_opcodes_close_1002(client: Client, opcode: int) -> None:
    client.send_frame(opcode, b"reserved")
    client.expect_close(1002)


def test_reserved_opcode_after_a_valid_message(client: Client) -> None:
    client.send_frame(TEXT, b"first")
    client.send_frame(5, b"")
    assert client.recv_message() == (TEXT, b"first")
    client.expect_close(1002)


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE])
def test_fragmented_control_frame_closes_1002(client: Client, opcode: int) -> None:
    payload = close_payload(1000) if opcode == CLOSE else b"part"
    client.send_frame(opcode, payload, fin=False)
    client.expect_close(1002)


@pytest.mark.parametrize("fin", [True, False], ids=["fin", "no-fin"])
def test_continuation_without_a_message_closes_1002(client: Client, fin: bool) -> None:
    client.send_frame(CONTINUATION, b"orphan", fin=fin)
    client.expect_close(1002)


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_new_data_frame_inside_a_fragmented_message_closes_1002(
    client: Client, opcode: int
) -> None:
    client.send_frame(TEXT, b"begun", fin=False)
    client.send_frame(opcode, b"interloper", fin=True)
    client.expect_close(1002)


# --- 4. UTF-8 -----------------------------------------------------------------------------

INVALID_UTF8 = [
    b"\xff",
    b"hello\xc0\xafworld",  # overlong '/'
    b"\xed\xa0\x80",  # a UTF-16 surrogate
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xce\xba\xe1\xbd",  # truncated at the end
]


@pytest.mark.parametrize("payload", INVALID_UTF8, ids=lambda p: p.hex())
def test_invalid_utf8_closes_1007(client: Client, payload: bytes) -> None:
    client.send_frame(TEXT, payload)
    client.expect_close(1007)


@pytest.mark.parametrize("payload", INVALID_UTF8, ids=lambda p: p.hex())
def test_invalid_utf8_split_across_fragments_closes_1007(client: Client, payload: bytes) -> None:
    for index in range(len(payload)):
        first, last = index == 0, index == len(payload) - 1
        client.send_frame(TEXT if first else CONTINUATION, payload[index : index + 1], fin=last)
    client.expect_close(1007)


def test_invalid_utf8_in_a_fragment_fails_before_the_message_ends(client: Client) -> None:
    # Autobahn 6.4: the server may fail fast on the bad bytes; it must fail by the end.
    client.send_frame(TEXT, "κόσμε".encode(), fin=False)
    client.send_frame(CONTINUATION, b"\xf4\x90\x80\x80", fin=False)
    client.send_frame(CONTINUATION, b"edited", fin=True)
    client.expect_close(1007)


def test_invalid_utf8_fails_fast_without_the_final_fragment(client: Client) -> None:
    # Autobahn 6.4 "fail fast": no FIN ever comes, so only validation as bytes arrive closes.
    client.send_frame(TEXT, b"valid so far", fin=False)
    client.send_frame(CONTINUATION, b"\xff", fin=False)
    client.expect_close(1007)


VALID_UTF8 = "κόσμε · 日本語 · 🎉🚀 · ñ · \U0010ffff".encode()


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7])
def test_valid_utf8_split_at_odd_boundaries_echoes(client: Client, step: int) -> None:
    pieces = [VALID_UTF8[i : i + step] for i in range(0, len(VALID_UTF8), step)]
    for index, piece in enumerate(pieces):
        first, last = index == 0, index == len(pieces) - 1
        client.send_frame(TEXT if first else CONTINUATION, piece, fin=last)
    assert client.recv_message() == (TEXT, VALID_UTF8)


# --- 5. close handling --------------------------------------------------------------------


def test_close_1000_is_answered_then_tcp_ends(client: Client) -> None:
    client.send_frame(CLOSE, close_payload(1000, b"bye now"))
    closing = client.expect_close(1000)
    assert closing.fin


def test_close_without_payload_is_answered(client: Client) -> None:
    client.send_frame(CLOSE, b"")
    closing = client.recv_frame()
    assert closing.opcode == CLOSE and closing.close_code in (None, 1000)
    client.expect_eof()


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1011, 3000, 3999, 4000, 4999])
def test_close_with_valid_code_is_echoed(client: Client, code: int) -> None:
    client.send_frame(CLOSE, close_payload(code, b"ok"))
    client.expect_close(code)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_close_with_invalid_code_closes_1002(client: Client, code: int) -> None:
    client.send_frame(CLOSE, close_payload(code))
    client.expect_close(1002)


def test_close_with_one_byte_payload_closes_1002(client: Client) -> None:
    client.send_frame(CLOSE, b"\x03")
    client.expect_close(1002)


def test_close_with_invalid_utf8_reason_closes_with_an_error(client: Client) -> None:
    client.send_frame(CLOSE, close_payload(1000, b"bad \xff reason"))
    client.expect_close(1002, 1007)


def test_close_over_125_bytes_closes_1002(client: Client) -> None:
    client.send_frame(CLOSE, close_payload(1000, b"r" * 124))
    client.expect_close(1002)


def test_frames_after_close_are_ignored(client: Client) -> None:
    client.send_frame(CLOSE, close_payload(1000))
    client.send_frame(TEXT, b"too late")
    closing = client.recv_frame()
    assert closing.opcode == CLOSE and closing.close_code == 1000
    client.expect_eof()


def test_server_initiated_close(port: int) -> None:
    with Client(port, "/bye") as client:
        client.send_frame(TEXT, b"that's all")
        closing = client.recv_frame()
        assert (closing.opcode, closing.close_code, closing.payload[2:]) == (CLOSE, 4001, b"done")
        client.send_frame(CLOSE, closing.payload[:2])
        client.expect_eof()
    assert_still_echoes(port)


# --- 6. masking ---------------------------------------------------------------------------


@pytest.mark.parametrize("opcode", [TEXT, BINARY, PING])
def test_unmasked_client_frame_closes_1002(client: Client, opcode: int) -> None:
    client.send_frame(opcode, b"naked", masked=False)
    client.expect_close(1002)


def test_protocol_error_reaches_the_handler_as_1002(app: Ignyx, port: int) -> None:
    before = len(app.state.disconnects)
    with Client(port, "/strict") as client:
        client.send_frame(BINARY, b"naked", masked=False)
        client.expect_close(1002)
    assert eventually(lambda: len(app.state.disconnects) > before)
    assert app.state.disconnects[before] == 1002


# --- 7. limits (and Autobahn 9: large messages) --------------------------------------


def test_8_mib_message_echoes(client: Client) -> None:
    payload = os.urandom(8 * 1024 * 1024)
    client.send_frame(BINARY, payload)
    assert client.recv_message() == (BINARY, payload)


def test_4_mib_text_in_64_kib_fragments_echoes(client: Client) -> None:
    payload = b"t" * (4 * 1024 * 1024)
    step = 64 * 1024
    for index in range(0, len(payload), step):
        last = index + step >= len(payload)
        client.send_frame(CONTINUATION if index else TEXT, payload[index : index + step], fin=last)
    assert client.recv_message() == (TEXT, payload)


@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_message_at_the_limit_echoes(small_port: int, opcode: int) -> None:
    payload = b"m" * SMALL_MAX_SIZE
    with Client(small_port) as client:
        client.send_frame(opcode, payload)
        assert client.recv_message() == (opcode, payload)
    assert_still_echoes(small_port)


def test_frame_over_the_limit_closes_1009(small_port: int) -> None:
    with Client(small_port) as client:
        client.send_frame(BINARY, b"m" * (SMALL_MAX_SIZE + 1))
        client.expect_close(1009)
    assert_still_echoes(small_port)


def test_fragmented_message_over_the_limit_closes_1009(small_port: int) -> None:
    # Every frame is small: only the message as a whole is over the limit.
    with Client(small_port) as client:
        piece = b"f" * 10_000
        for index in range(SMALL_MAX_SIZE // len(piece)):
            client.send_frame(CONTINUATION if index else BINARY, piece, fin=False)
        client.send_frame(CONTINUATION, b"!", fin=True)
        client.expect_close(1009)
    assert_still_echoes(small_port)


def test_default_limit_is_16_mib(port: int) -> None:
    # Only the header of a frame past the default limit: the server refuses it from the
    # declared length, before any payload arrives.
    with Client(port) as client:
        client.send(frame(BINARY, b"", length=DEFAULT_MAX_SIZE + 1))
        client.expect_close(1009)
    with Client(port) as client:
        # A 64-bit length no server could hold.
        client.send(frame(BINARY, b"", length=2**63 - 1))
        client.expect_close(1009)
    assert_still_echoes(port)


# --- 8. a client that vanishes ------------------------------------------------------------


def test_client_vanishing_mid_frame_disconnects_the_handler(app: Ignyx, port: int) -> None:
    before = len(app.state.disconnects)
    with Client(port, "/strict") as client:
        client.send_frame(BINARY, b"whole")
        assert client.recv_message() == (BINARY, b"whole")
        half = frame(BINARY, b"x" * 1000)
        client.send(half[: len(half) // 2])
    # The TCP connection is gone mid-frame, with no close frame.
    assert eventually(lambda: len(app.state.disconnects) > before)
    assert app.state.disconnects[before] == 1006
    response = httpx.get(f"http://127.0.0.1:{port}/disconnects", timeout=TIMEOUT)
    assert 1006 in response.json()["codes"]
    assert_still_echoes(port)
