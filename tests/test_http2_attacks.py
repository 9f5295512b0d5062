"""Hostile HTTP/2 (prior knowledge, cleartext) against the native server.

Each attack is written by hand on a raw socket (``hyperframe`` builds the frames h2 would
refuse to send, ``hpack`` encodes header blocks) while a reader thread drains whatever the
server answers, so the server is never blocked by a client that does not read. For every
attack: the test finishes in a bounded time, the attacking connection is closed or told
GOAWAY when the attack warrants it, and a fresh HTTP/1.1 request (httpx) and a fresh HTTP/2
request (h2's ``H2Connection``) on new connections are answered 200 while the attacking
connection is still open.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from typing import Callable, Iterable, Iterator, Optional

import h2.config
import h2.connection
import h2.events
import hpack
import httpx
import ignyx
import pytest
from conftest import live_server
from hyperframe.frame import (
    ContinuationFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

# Every socket operation is bounded by this; a hang fails the test instead of the suite.
SOCKET_TIMEOUT = 5.0
# Each attack, including the checks after it, finishes within this.
ATTACK_BUDGET = 15.0

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and error codes (RFC 9113).
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
ERRORS = {
    0x0: "NO_ERROR",
    0x1: "PROTOCOL_ERROR",
    0x2: "INTERNAL_ERROR",
    0x3: "FLOW_CONTROL_ERROR",
    0x6: "FRAME_SIZE_ERROR",
    0x7: "REFUSED_STREAM",
    0x8: "CANCEL",
    0x9: "COMPRESSION_ERROR",
    0xB: "ENHANCE_YOUR_CALM",
}
SETTING_NAMES = {
    0x1: "HEADER_TABLE_SIZE",
    0x2: "ENABLE_PUSH",
    0x3: "MAX_CONCURRENT_STREAMS",
    0x4: "INITIAL_WINDOW_SIZE",
    0x5: "MAX_FRAME_SIZE",
    0x6: "MAX_HEADER_LIST_SIZE",
    0x8: "ENABLE_CONNECT_PROTOCOL",
}

SLOW_CALLS = [0]


def build():
    app = ignyx.Ignyx()

    @app.get("/fast")
    def fast():
        return {"fast": True}

    @app.get("/slow")
    async def slow():
        SLOW_CALLS[0] += 1
        await asyncio.sleep(0.2)
        return {"slow": True}

    @app.get("/count")
    def count():
        return {"slow_calls": SLOW_CALLS[0]}

    return app


@pytest.fixture(scope="module")
def server():
    with live_server(build()) as running:
        yield running


@pytest.fixture
def budget():
    """Fails the test when it took longer than ATTACK_BUDGET (a hang is caught by timeouts)."""
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < ATTACK_BUDGET, f"attack test took {elapsed:.1f}s"


# --- clients ------------------------------------------------------------------------------


def h1_get(port: int, path: str = "/fast") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=SOCKET_TIMEOUT)


def h2_get(port: int, path: str = "/fast") -> tuple[Optional[int], bytes]:
    """One GET over a new HTTP/2 connection, spoken with h2's H2Connection."""
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    conn.send_headers(
        1,
        [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", path)],
        end_stream=True,
    )
    status: Optional[int] = None
    body = b""
    deadline = time.monotonic() + SOCKET_TIMEOUT
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(conn.data_to_send())
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = int(dict(event.headers)[":status"])
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, 1)
                elif isinstance(
                    event,
                    (h2.events.StreamEnded, h2.events.StreamReset, h2.events.ConnectionTerminated),
                ):
                    return status, body
            sock.sendall(conn.data_to_send())
    return status, body


def assert_others_are_served(port: int) -> None:
    """A fresh HTTP/1.1 and a fresh HTTP/2 connection both get 200 from /fast."""
    response = h1_get(port)
    assert (response.status_code, response.json()) == (200, {"fast": True})
    status, body = h2_get(port)
    assert (status, body) == (200, b'{"fast":true}')


def slow_calls(port: int) -> int:
    return h1_get(port, "/count").json()["slow_calls"]


def vm_rss() -> int:
    """This process's resident set in bytes (the server runs in this process)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Attacker:
    """A raw HTTP/2 connection: frames go out as bytes, a thread drains what comes back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.encoder = hpack.Encoder()
        self.received = bytearray()
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.close_reason: Optional[str] = None
        self.send_error: Optional[str] = None
        self.sent = 0
        self._stop = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.sock.sendall(PREFACE + SettingsFrame(0).serialize())

    def _read(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError as error:
                self.close_reason = type(error).__name__
                break
            if not data:
                self.close_reason = "EOF"
                break
            with self.lock:
                self.received += data
        self.closed.set()

    def send(self, chunks: Iterable[bytes], batch: int = 1 << 16) -> bool:
        """Writes the bytes, batched; False when the server stopped taking them."""
        pending = bytearray()
        try:
            for chunk in chunks:
                pending += chunk
                if len(pending) >= batch:
                    self.sock.sendall(pending)
                    self.sent += len(pending)
                    pending.clear()
                    if self.closed.is_set():
                        return False
            if pending:
                self.sock.sendall(pending)
                self.sent += len(pending)
        except OSError as error:
            self.send_error = type(error).__name__
            return False
        return True

    def request_block(self, path: str, extra: Iterable[tuple[str, str]] = ()) -> bytes:
        headers = [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "127.0.0.1"),
            (":path", path),
            *extra,
        ]
        return self.encoder.encode(headers, huffman=False)

    def frames(self) -> list[tuple[int, int, int, bytes]]:
        """(type, flags, stream id, payload) of every complete frame received so far."""
        with self.lock:
            data = bytes(self.received)
        frames = []
        offset = 0
        while offset + 9 <= len(data):
            high, low, kind, flags, stream = struct.unpack_from(">BHBBL", data, offset)
            length = (high << 16) | low
            if offset + 9 + length > len(data):
                break
            payload = data[offset + 9 : offset + 9 + length]
            frames.append((kind, flags, stream & 0x7FFFFFFF, payload))
            offset += 9 + length
        return frames

    def settings(self) -> dict[str, int]:
        """The server's first (non-ACK) SETTINGS."""
        for kind, flags, _, payload in self.frames():
            if kind == SETTINGS and not flags & 0x1:
                values = {}
                for i in range(0, len(payload), 6):
                    ident, value = struct.unpack_from(">HL", payload, i)
                    values[SETTING_NAMES.get(ident, hex(ident))] = value
                return values
        return {}

    def goaway(self) -> Optional[tuple[int, str]]:
        """(last stream id, error name) of the server's GOAWAY, if it sent one."""
        for kind, _, _, payload in self.frames():
            if kind == GOAWAY:
                last, code = struct.unpack_from(">LL", payload)
                return last & 0x7FFFFFFF, ERRORS.get(code, hex(code))
        return None

    def resets(self) -> dict[int, str]:
        return {
            stream: ERRORS.get(struct.unpack(">L", payload)[0], "?")
            for kind, _, stream, payload in self.frames()
            if kind == RST_STREAM
        }

    def responses(self) -> dict[int, int]:
        """Stream id -> :status of every response HEADERS (decoded in order)."""
        decoder = hpack.Decoder()
        decoder.max_header_list_size = 1 << 20
        statuses = {}
        for kind, _, stream, payload in self.frames():
            if kind == HEADERS:
                headers = dict(decoder.decode(payload, raw=True))
                if b":status" in headers:
                    statuses[stream] = int(headers[b":status"])
        return statuses

    def count(self, kind: int) -> int:
        return sum(1 for frame in self.frames() if frame[0] == kind)

    def settings_acks(self) -> int:
        return sum(1 for kind, flags, _, _ in self.frames() if kind == SETTINGS and flags & 0x1)

    def wait(self, check: Callable[[], object], timeout: float = 3.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.02)
        return bool(check())

    def wait_closed(self, timeout: float = 3.0) -> bool:
        return self.closed.wait(timeout)

    def close(self) -> None:
        self._stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._reader.join(SOCKET_TIMEOUT)


@pytest.fixture
def attacker(server) -> Iterator[Callable[[], Attacker]]:
    made: list[Attacker] = []

    def connect() -> Attacker:
        attack = Attacker(server.port)
        made.append(attack)
        assert attack.wait(attack.settings), "no SETTINGS from the server"
        return attack

    yield connect
    for attack in made:
        attack.close()


def headers_frame(
    stream: int, block: bytes, end_headers: bool = True, end_stream: bool = True
) -> bytes:
    frame = HeadersFrame(stream, data=block)
    if end_headers:
        frame.flags.add("END_HEADERS")
    if end_stream:
        frame.flags.add("END_STREAM")
    return frame.serialize()


def continuation_frame(stream: int, fragment: bytes, end_headers: bool = False) -> bytes:
    frame = ContinuationFrame(stream, data=fragment)
    if end_headers:
        frame.flags.add("END_HEADERS")
    return frame.serialize()


def literal_header_prefix(name: bytes, value_length: int) -> bytes:
    """HPACK "literal without indexing, new name" up to (not including) the value bytes."""

    def integer(value: int, prefix_bits: int) -> bytes:
        limit = (1 << prefix_bits) - 1
        if value < limit:
            return bytes([value])
        out = [limit]
        value -= limit
        while value >= 128:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)
        return bytes(out)

    return b"\x00" + integer(len(name), 7) + name + integer(value_length, 7)


# --- attacks ------------------------------------------------------------------------------


def test_rapid_reset_is_cheap_and_others_are_served(server, attacker, budget):
    """CVE-2023-44487: 10,000 streams opened with HEADERS and at once cancelled."""
    attack = attacker()
    before = slow_calls(server.port)
    started = time.monotonic()

    def frames() -> Iterator[bytes]:
        for i in range(10_000):
            stream = 2 * i + 1
            yield headers_frame(stream, attack.request_block("/slow"))
            yield RstStreamFrame(stream, error_code=0x8).serialize()

    attack.send(frames(), batch=1 << 14)
    sent_for = time.monotonic() - started
    attack.wait(lambda: attack.goaway() or attack.closed.is_set(), timeout=1.0)
    # While the attacking connection is still open.
    assert_others_are_served(server.port)
    time.sleep(0.5)  # handlers that did start have finished their sleep
    ran = slow_calls(server.port) - before
    print(
        f"rapid reset: {attack.sent} bytes sent in {sent_for:.2f}s, goaway={attack.goaway()}, "
        f"closed={attack.closed.is_set()} ({attack.close_reason}), handlers run={ran}"
    )
    assert ran < 1_000, f"{ran} /slow handlers ran for 10,000 cancelled streams"
    assert attack.goaway() is not None or attack.closed.is_set() or ran < 100


def test_settings_flood_is_bounded_and_others_are_served(server, attacker, budget):
    attack = attacker()
    frame = SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65535}).serialize()
    started = time.monotonic()
    cpu = time.process_time()
    completed = attack.send(frame for _ in range(100_000))
    attack.wait(
        lambda: attack.goaway() or attack.closed.is_set() or attack.settings_acks() > 100_000,
        timeout=3.0,
    )
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    assert_others_are_served(server.port)
    print(
        f"settings flood: {elapsed:.2f}s ({cpu:.2f}s CPU), all sent={completed}, "
        f"acks={attack.settings_acks()}, goaway={attack.goaway()}, "
        f"closed={attack.closed.is_set()} ({attack.close_reason or attack.send_error})"
    )
    # Either the server keeps up (every SETTINGS, ours and the flood's, acknowledged) or it
    # ends the connection.
    assert attack.goaway() or attack.closed.is_set() or attack.settings_acks() == 100_001


def test_ping_flood_is_bounded_and_others_are_served(server, attacker, budget):
    attack = attacker()
    frame = PingFrame(0, opaque_data=b"12345678").serialize()
    started = time.monotonic()
    cpu = time.process_time()
    completed = attack.send(frame for _ in range(100_000))
    attack.wait(lambda: attack.goaway() or attack.closed.is_set(), timeout=1.0)
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    assert_others_are_served(server.port)
    # The connection still works (or was ended): a request on it is answered.
    alive = not (attack.goaway() or attack.closed.is_set())
    if alive:
        attack.send([headers_frame(1, attack.request_block("/fast"))])
        assert attack.wait(lambda: attack.responses().get(1) == 200)
    print(
        f"ping flood: {attack.sent} bytes in {elapsed:.2f}s ({cpu:.2f}s CPU), all sent={completed}, "
        f"pongs={attack.count(PING)}, goaway={attack.goaway()}, "
        f"closed={attack.closed.is_set()} ({attack.close_reason or attack.send_error})"
    )


def test_continuation_flood_is_cut_off_before_memory_grows(server, attacker, budget):
    """HEADERS without END_HEADERS, then 10 MB of CONTINUATION, never ending the block."""
    attack = attacker()
    total = 10 * 1024 * 1024
    fragment = b"a" * 16_000
    rss_before = peak = vm_rss()
    sampling = True

    def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, vm_rss())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    def frames() -> Iterator[bytes]:
        block = attack.request_block("/fast") + literal_header_prefix(b"x-flood", total)
        yield headers_frame(1, block, end_headers=False, end_stream=True)
        for _ in range(total // len(fragment)):
            yield continuation_frame(1, fragment)

    started = time.monotonic()
    completed = attack.send(frames())
    attack.wait(lambda: attack.goaway() or attack.closed.is_set(), timeout=3.0)
    elapsed = time.monotonic() - started
    sampling = False
    sampler.join()
    growth = peak - rss_before
    assert_others_are_served(server.port)
    print(
        f"continuation flood: {elapsed:.2f}s, all 10 MB sent={completed} "
        f"({attack.sent} bytes taken), "
        f"goaway={attack.goaway()}, resets={attack.resets()}, "
        f"closed={attack.closed.is_set()} ({attack.close_reason or attack.send_error}), "
        f"RSS growth={growth / 2**20:.1f} MiB"
    )
    assert growth < 64 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB"
    assert attack.goaway() is not None or attack.closed.is_set()
    assert 1 not in attack.responses() or attack.responses()[1] == 431


def test_streams_beyond_the_advertised_limit_are_refused(server, attacker, budget):
    attack = attacker()
    limit = attack.settings().get("MAX_CONCURRENT_STREAMS")
    streams = [2 * i + 1 for i in range(1_000)]
    attack.send(headers_frame(s, attack.request_block("/slow")) for s in streams)

    def settled() -> bool:
        done = set(attack.responses()) | set(attack.resets())
        return len(done) >= len(streams) or bool(attack.goaway()) or attack.closed.is_set()

    assert_others_are_served(server.port)
    attack.wait(settled, timeout=5.0)
    answered, resets = attack.responses(), attack.resets()
    refused = {s for s, code in resets.items() if code == "REFUSED_STREAM"}
    print(
        f"1,000 streams: advertised MAX_CONCURRENT_STREAMS={limit}, answered={len(answered)} "
        f"(statuses {set(answered.values())}), refused={len(refused)}, "
        f"other resets={ {c for s, c in resets.items() if s not in refused} }, "
        f"goaway={attack.goaway()}, closed={attack.closed.is_set()}"
    )
    assert limit is not None and limit < 1_000, f"advertised MAX_CONCURRENT_STREAMS={limit}"
    assert set(answered.values()) == {200}
    assert len(answered) >= limit
    # Every stream was either answered or refused; none was left hanging.
    assert set(answered) | refused == set(streams)
    assert len(refused) == len(streams) - len(answered)


def test_oversized_header_list_is_refused(server, attacker, budget):
    """One 1 MB header value, sent as HEADERS + CONTINUATION with END_HEADERS at the end."""
    attack = attacker()
    advertised = attack.settings().get("MAX_HEADER_LIST_SIZE")
    block = attack.encoder.encode(
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "127.0.0.1"),
            (":path", "/fast"),
            ("x-big", "v" * (1 << 20)),
        ],
        huffman=False,
    )
    pieces = [block[i : i + 16_384] for i in range(0, len(block), 16_384)]

    def frames() -> Iterator[bytes]:
        yield headers_frame(1, pieces[0], end_headers=False, end_stream=True)
        for i, piece in enumerate(pieces[1:], start=2):
            yield continuation_frame(1, piece, end_headers=i == len(pieces))

    rss_before = vm_rss()
    completed = attack.send(frames())
    attack.wait(
        lambda: (
            attack.goaway()
            or attack.closed.is_set()
            or 1 in attack.resets()
            or 1 in attack.responses()
        ),
        timeout=3.0,
    )
    growth = vm_rss() - rss_before
    assert_others_are_served(server.port)
    status = attack.responses().get(1)
    print(
        f"1 MB header: advertised MAX_HEADER_LIST_SIZE={advertised}, all sent={completed}, "
        f"status={status}, resets={attack.resets()}, goaway={attack.goaway()}, "
        f"closed={attack.closed.is_set()} ({attack.close_reason or attack.send_error}), "
        f"RSS growth={growth / 2**20:.1f} MiB"
    )
    assert status != 200, "a 1 MB header was accepted and handed to the app"
    assert status == 431 or 1 in attack.resets() or attack.goaway() or attack.closed.is_set(), (
        "the oversized header list was neither refused nor ended"
    )
