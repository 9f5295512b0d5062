"""Broadcast fan-out: how long one published message takes to reach 1,000 WebSockets.

One Ignyx worker (a process of its own, pinned to core 0) serves ``/ws``, where each
connection subscribes to one room with ``ignyx.broadcast`` and forwards what is published
there, and ``POST /publish``, which publishes its body to the room. The client (this
process, pinned to core 1) holds the connections on one asyncio loop with a bare
WebSocket reader (no per-message parsing beyond the frame header), waits until every
connection says it is subscribed, then for each round sends one ``POST /publish`` and
measures the time from just before the request to the moment the last of the 1,000
connections has the message. Both backends are measured: ``memory://`` and ``redis://``
(a ``redis-server`` of the benchmark's own on a free loopback port, sharing core 1 with the
client)::

    .venv/bin/python benchmarks/broadcast_fanout.py
    .venv/bin/python benchmarks/broadcast_fanout.py --connections 2000 --rounds 9 --no-pin

The figures include the HTTP request that publishes and, for Redis, the round trip
through it; the client is Python too, so they are an upper bound on the server's share.
"""

import argparse
import asyncio
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

HOST = "127.0.0.1"


# --- the app -------------------------------------------------------------------------------------


def fanout_app(url: str) -> Any:
    from ignyx import FastAPI, Request, WebSocket
    from ignyx.broadcast import Broadcast

    broadcast = Broadcast(url)
    app = FastAPI(on_startup=[broadcast.connect], on_shutdown=[broadcast.disconnect])

    @app.post("/publish")
    async def publish(request: Request):
        await broadcast.publish(channel="room", message=await request.body())
        return {"published": True}

    @app.websocket("/ws")
    async def subscribe(websocket: WebSocket):
        await websocket.accept()
        async with broadcast.subscribe(channel="room") as subscriber:
            await websocket.send_text("ready")
            async for event in subscriber:
                await websocket.send_text(event.message)

    return app


# --- the client ----------------------------------------------------------------------------------


class _Reader(asyncio.Protocol):
    """One WebSocket connection that only reads: after the handshake, it counts the
    server's (unmasked) text frames and notes when one with the awaited payload arrives."""

    def __init__(self, request: bytes, on_message: Any) -> None:
        self.request = request
        self.on_message = on_message
        self.upgraded = False
        self.buffer = b""
        self.ready = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        if not self.upgraded:
            head, found, buffer = buffer.partition(b"\r\n\r\n")
            if not found:
                self.buffer = head
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self.upgraded = True
        while len(buffer) >= 2:
            size = buffer[1] & 0x7F
            start = 2
            if size == 126:
                if len(buffer) < 4:
                    break
                size, start = int.from_bytes(buffer[2:4], "big"), 4
            if len(buffer) < start + size:
                break
            payload, buffer = buffer[start : start + size], buffer[start + size :]
            if payload == b"ready":
                self.ready.set_result(None)
            else:
                self.on_message(payload)
        self.buffer = buffer


class _Publisher(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection for ``POST /publish``: one request at a time."""

    def __init__(self) -> None:
        self.response: Optional[asyncio.Future[bytes]] = None
        self.buffer = b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head, found, body = self.buffer.partition(b"\r\n\r\n")
        if not found:
            return
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        if len(body) >= length and self.response is not None:
            self.buffer = b""
            self.response.set_result(head.split(b"\r\n", 1)[0])

    async def publish(self, payload: bytes) -> None:
        self.response = asyncio.get_running_loop().create_future()
        self.transport.write(
            b"POST /publish HTTP/1.1\r\nHost: bench\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
        )
        status = await self.response
        if b" 200 " not in status:
            raise RuntimeError(f"publishing failed: {status!r}")


async def measure(port: int, connections: int, rounds: int) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    awaited = b""
    arrivals: list[float] = []
    everyone: Optional[asyncio.Future[None]] = None

    def on_message(payload: bytes) -> None:
        if payload == awaited:
            arrivals.append(time.perf_counter())
            if len(arrivals) == connections and everyone is not None:
                everyone.set_result(None)

    started = time.perf_counter()
    readers: list[_Reader] = []
    for first in range(0, connections, 100):  # a hundred handshakes at a time
        batch = await asyncio.gather(
            *(
                loop.create_connection(lambda: _Reader(request, on_message), HOST, port)
                for _ in range(first, min(first + 100, connections))
            )
        )
        readers += [protocol for _, protocol in batch]
    await asyncio.wait_for(asyncio.gather(*(r.ready for r in readers)), 60)
    setup = time.perf_counter() - started
    _, publisher = await loop.create_connection(_Publisher, HOST, port)

    results = []
    for number in range(rounds + 1):  # the first round warms up
        awaited = f"round-{number}".encode()
        arrivals.clear()
        everyone = loop.create_future()
        sent = time.perf_counter()
        await publisher.publish(awaited)
        await asyncio.wait_for(everyone, 30)
        if number:
            results.append((arrivals[0] - sent, arrivals[-1] - sent))
        await asyncio.sleep(0.2)
    publisher.transport.close()
    for reader in readers:
        reader.transport.close()
    return {
        "setup": setup,
        "first": statistics.median(first for first, _ in results),
        "all": statistics.median(last for _, last in results),
        "rounds": results,
    }


# --- orchestration -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = _free_port()
    process = subprocess.Popen(
        [server, "--bind", HOST, "--port", str(port), "--dir", str(directory), "--save", "",
         "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    _wait_for_port(port, process, "redis-server")
    return process, f"redis://{HOST}:{port}/0"


def _start_app(url: str, pin: Optional[int]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    argv = [sys.executable, __file__, "serve", str(port), url]
    if pin is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", str(pin), *argv]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, start_new_session=True)
    _wait_for_port(port, process, f"the app on {url}")
    return process, port


def _raise_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise SystemExit(f"{needed} open files are needed; the hard limit is {hard}")
        # Children inherit it: the server holds as many sockets as the client.
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--backends", default="memory,redis")
    parser.add_argument("--no-pin", action="store_true", help="leave both on any core")
    args = parser.parse_args(argv)
    _raise_open_files(args.connections + 256)
    if not args.no_pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    figures: dict[str, dict[str, Any]] = {}
    directory = Path(tempfile.mkdtemp(prefix="ignyx-fanout-"))
    redis: Optional[subprocess.Popen[bytes]] = None
    try:
        for backend in (b.strip() for b in args.backends.split(",") if b.strip()):
            if backend == "redis":
                redis, url = _start_redis(directory)
            elif backend == "memory":
                url = "memory://"
            else:
                raise SystemExit(f"unknown backend {backend!r} (memory, redis)")
            app, port = _start_app(url, None if args.no_pin else 0)
            try:
                result = asyncio.run(measure(port, args.connections, args.rounds))
            finally:
                _stop(app)
            figures[backend] = result
            rounds = ", ".join(f"{last * 1000:.1f}" for _, last in result["rounds"])
            print(f"{backend:7} all {args.connections} received after (ms): {rounds}", flush=True)
    finally:
        if redis is not None:
            _stop(redis)
        shutil.rmtree(directory, ignore_errors=True)

    print(
        f"\nOne message to {args.connections} WebSockets subscribed to one room, one worker"
        f" (medians of {args.rounds} rounds after one warm-up)"
    )
    print("| backend | first received | all received | connections set up in |")
    print("|---|---:|---:|---:|")
    for backend, result in figures.items():
        print(
            f"| {backend} | {result['first'] * 1000:.2f} ms | {result['all'] * 1000:.2f} ms"
            f" | {result['setup']:.2f} s |"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "serve":
        fanout_app(sys.argv[3]).run(host=HOST, port=int(sys.argv[2]), log_level="warning")
    else:
        sys.exit(main())
