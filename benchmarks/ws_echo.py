"""WebSocket echo: messages per second over 64 connections, Ignyx against FastAPI on uvicorn.

Each server runs the same echo handler (``receive_text`` then ``send_text``) pinned to
core 0; the client, a small asyncio program using the ``websockets`` package (on uvloop
when installed), is pinned to core 1 and keeps one message in flight per connection.
The frameworks take turns for ``--rounds`` rounds and the median is kept::

    .venv/bin/python benchmarks/ws_echo.py
    .venv/bin/python benchmarks/ws_echo.py --duration 10 --rounds 3 --size 512

The client is Python too: when it shows ~100% CPU it, not the server, is the limit,
and the ratio understates the faster server.
"""

import argparse
import asyncio
import json
import os
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"


# --- the apps ------------------------------------------------------------------------------------


def ignyx_app() -> Any:
    from ignyx import Ignyx, WebSocket, WebSocketDisconnect

    app = Ignyx()

    @app.get("/ready")
    def ready():
        return "ok"

    @app.websocket("/ws")
    async def echo(ws: WebSocket):
        await ws.accept()
        try:
            while True:
                await ws.send_text(await ws.receive_text())
        except WebSocketDisconnect:
            pass

    return app


def fastapi_app() -> Any:
    from fastapi import FastAPI, WebSocket, WebSocketDisconnect

    app = FastAPI()

    @app.get("/ready")
    async def ready():
        return "ok"

    @app.websocket("/ws")
    async def echo(ws: WebSocket):
        await ws.accept()
        try:
            while True:
                await ws.send_text(await ws.receive_text())
        except WebSocketDisconnect:
            pass

    return app


KEYS = ("msgs_per_s", "msgs_per_cpu_s")

SERVERS = {
    "ignyx": "{python} {script} serve {port}",
    "fastapi": (
        "{python} -m uvicorn ws_echo:fastapi_app --factory --app-dir {dir} --host {host}"
        " --port {port} --loop uvloop --http httptools --ws auto --log-level warning"
        " --no-access-log"
    ),
}


# --- the client ----------------------------------------------------------------------------------


async def _echo_load(url: str, connections: int, duration: float, size: int) -> dict[str, Any]:
    import websockets

    sockets = [
        await websockets.connect(url, ping_interval=None, compression=None, max_size=None)
        for _ in range(connections)
    ]
    payload = "x" * size
    loop = asyncio.get_running_loop()
    counts = [0] * connections
    measuring = False

    async def talk(i: int, ws: Any, until: float) -> None:
        while loop.time() < until:
            await ws.send(payload)
            if await ws.recv() != payload:
                raise RuntimeError("wrong echo")
            if measuring:
                counts[i] += 1

    # One second of warm-up, then the measured run.
    warm = loop.time() + 1.0
    await asyncio.gather(*(talk(i, ws, warm) for i, ws in enumerate(sockets)))
    measuring = True
    cpu0, start = _cpu(), time.monotonic()
    until = loop.time() + duration
    await asyncio.gather(*(talk(i, ws, until) for i, ws in enumerate(sockets)))
    end = time.monotonic()
    client_cpu = 100 * (_cpu() - cpu0) / (end - start)
    await asyncio.gather(*(ws.close() for ws in sockets))
    return {
        "msgs_per_s": sum(counts) / (end - start),
        "client_cpu_pct": round(client_cpu),
        "window": [start, end],
    }


class _RawEcho(asyncio.Protocol):
    """A bare client for when the websockets client is the bottleneck: one pre-masked frame
    out per echo received; echoes are counted by length, never parsed."""

    def __init__(self, request: bytes, frame: bytes, echo_len: int) -> None:
        self.request, self.frame, self.echo_len = request, frame, echo_len
        self.opened = asyncio.get_running_loop().create_future()
        self.head = b""
        self.pending = 0
        self.count = 0
        self.running = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.opened.done():
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            head, _, data = self.head.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(RuntimeError(head.decode(errors="replace")))
                return
            self.opened.set_result(None)
        done, self.pending = divmod(self.pending + len(data), self.echo_len)
        if done:
            self.count += done
            if self.running:
                self.transport.write(self.frame * done)


async def _raw_load(url: str, connections: int, duration: float, size: int) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    if size >= 65536:
        raise SystemExit("--client raw handles messages under 64 KiB")
    # A masked text frame with an all-zero key: the payload goes out as is.
    length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big")
    frame = b"\x81" + length + b"\0\0\0\0" + b"x" * size
    echo_len = 2 + (0 if size < 126 else 2) + size
    loop = asyncio.get_running_loop()
    protocols = []
    for _ in range(connections):
        _, protocol = await loop.create_connection(
            lambda: _RawEcho(request, frame, echo_len), parts.hostname, parts.port
        )
        await protocol.opened
        protocols.append(protocol)
    for protocol in protocols:
        protocol.running = True
        protocol.transport.write(frame)
    await asyncio.sleep(1.0)  # warm-up
    before = sum(p.count for p in protocols)
    cpu0, start = _cpu(), time.monotonic()
    await asyncio.sleep(duration)
    end = time.monotonic()
    total = sum(p.count for p in protocols) - before
    client_cpu = 100 * (_cpu() - cpu0) / (end - start)
    for protocol in protocols:
        protocol.running = False
        protocol.transport.close()
    return {
        "msgs_per_s": total / (end - start),
        "client_cpu_pct": round(client_cpu),
        "window": [start, end],
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def client_main(url: str, connections: int, duration: float, size: int, kind: str) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    load = _raw_load if kind == "raw" else _echo_load
    print(json.dumps(asyncio.run(load(url, connections, duration, size))))


# --- orchestration -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _start(name: str, pin: Optional[int]) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    command = SERVERS[name].format(
        python=shlex.quote(sys.executable),
        script=shlex.quote(__file__),
        dir=shlex.quote(str(BENCH_DIR)),
        host=HOST,
        port=port,
    )
    argv = shlex.split(command)
    if pin is not None:
        argv = ["taskset", "-c", str(pin), *argv]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {proc.stderr.read().decode(errors='replace')}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not start")


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _server_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one_run(port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    argv = [sys.executable, __file__, "client", f"ws://{HOST}:{port}/ws"]
    argv += ["--connections", str(args.connections), "--duration", str(args.duration)]
    argv += ["--size", str(args.size), "--client", args.client]
    if not args.no_pin:
        argv = ["taskset", "-c", str(args.client_cpu), *argv]
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            samples.append((time.monotonic(), _server_cpu(pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 120)
    finally:
        done.set()
        sampler.join()
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    result = json.loads(out.stdout)
    # The server's CPU over the client's measured window only (not its warm-up).
    start, end = result.pop("window")
    cpu = _at(samples, end) - _at(samples, start)
    result["server_cpu_pct"] = round(100 * cpu / (end - start))
    result["msgs_per_cpu_s"] = result["msgs_per_s"] * (end - start) / cpu if cpu else None
    return result


def _at(samples: list[tuple[float, float]], t: float) -> float:
    """The server's CPU seconds at time `t`, from the sample closest after it."""
    return next((cpu for when, cpu in samples if when >= t), samples[-1][1])


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--frameworks", default="ignyx,fastapi")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--size", type=int, default=64, help="message size in bytes (default 64)")
    p.add_argument(
        "--client",
        choices=("websockets", "raw"),
        default="websockets",
        help="the websockets package's client (default), or a bare one that costs less per echo",
    )
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--no-pin", action="store_true")
    args = p.parse_args(argv)

    names = [n.strip() for n in args.frameworks.split(",") if n.strip()]
    servers = {}
    try:
        for name in names:
            servers[name] = _start(name, None if args.no_pin else args.server_cpu)
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for rnd in range(args.rounds):
            for name in names:
                proc, port = servers[name]
                r = _one_run(port, proc.pid, args)
                runs[name].append(r)
                print(
                    f"round {rnd + 1}/{args.rounds} {name:8} {r['msgs_per_s']:>10,.0f} msg/s"
                    f"  ({r['msgs_per_cpu_s'] or 0:>7,.0f} per server CPU-s)"
                    f"  cpu: server {r['server_cpu_pct']}% client {r['client_cpu_pct']}%",
                    flush=True,
                )
    finally:
        for proc, _ in servers.values():
            _stop(proc)

    def median(name: str, key: str) -> Optional[float]:
        values = [r[key] for r in runs[name] if r.get(key)]
        return statistics.median(values) if values else None

    base = {key: median("fastapi", key) if "fastapi" in runs else None for key in KEYS}
    print(
        f"\nWebSocket echo, {args.connections} connections, {args.size}-byte text messages,"
        f" {args.client} client (medians of {args.rounds} rounds)"
    )
    print("| framework | msg/s | ratio | msg per server CPU-second | ratio | server CPU |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in runs:
        cells = []
        for key in KEYS:
            value = median(name, key)
            ratio = f"{value / base[key]:.2f}x" if value and base[key] else "n/a"
            cells += [f"{value:,.0f}" if value else "n/a", ratio]
        cpu = median(name, "server_cpu_pct")
        print(f"| {name} | " + " | ".join(cells) + f" | {cpu or 0:.0f}% |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        ignyx_app().run(host=HOST, port=int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "client":
        c = argparse.ArgumentParser()
        c.add_argument("url")
        c.add_argument("--connections", type=int, default=64)
        c.add_argument("--duration", type=float, default=5.0)
        c.add_argument("--size", type=int, default=64)
        c.add_argument("--client", default="websockets")
        a = c.parse_args(sys.argv[2:])
        client_main(a.url, a.connections, a.duration, a.size, a.client)
    else:
        sys.exit(main())
