"""The server on a real socket: a real HTTP client, raw HTTP/1.1 (keep-alive, pipelining,
bad requests, limits), HTTP/2, blocking handlers, and graceful shutdown of a process."""

import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import ignyx
import pytest
from conftest import (
    free_port,
    http_client,
    live_server,
    recv_until,
    served_script,
    settled,
    wait_for_port,
)
from ignyx.middleware import CORSMiddleware
from pydantic import BaseModel

MAX_BODY = 1024
SLOW_STARTED = threading.Event()


class User(BaseModel):
    name: str
    age: int


def build():
    app = ignyx.Ignyx(max_body_size=MAX_BODY)
    app.add_middleware(CORSMiddleware(allow_origins=["*"]))

    @app.get("/")
    def hello():
        return {"message": "Ignyx is live"}

    @app.get("/users/{id}")
    def get_user(id: int):
        return {"id": id}

    @app.post("/users")
    def create_user(body: User):
        return {"name": body.name, "age": body.age}

    @app.get("/search")
    def search(q: str, tags: list[str] = ignyx.Query([])):
        return {"q": q, "tags": tags}

    @app.post("/echo")
    async def echo(request: ignyx.Request):
        return {"received": len(await request.body())}

    @app.get("/sleep-sync")
    def sleep_sync():
        SLOW_STARTED.set()
        time.sleep(1)
        return {"slept": "sync"}

    @app.get("/sleep-async")
    async def sleep_async():
        await asyncio.sleep(1)
        return {"slept": "async"}

    @app.get("/fast")
    def fast():
        return {"fast": True}

    return app


@pytest.fixture(scope="module")
def server():
    with live_server(build()) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with http_client(server.port) as http:
        yield http


# --- a real HTTP client -----------------------------------------------------------------


def test_quick_start_endpoints(client):
    response = client.get("/")
    assert (response.status_code, response.content) == (200, b'{"message":"Ignyx is live"}')
    assert response.headers["content-type"] == "application/json"
    response = client.get("/users/7")
    assert (response.status_code, response.content) == (200, b'{"id":7}')
    response = client.post("/users", json={"name": "Ada", "age": 36})
    assert (response.status_code, response.content) == (200, b'{"name":"Ada","age":36}')


def test_errors_on_the_wire(client):
    response = client.get("/nope")
    assert (response.status_code, response.content) == (404, b'{"detail":"Not Found"}')
    response = client.delete("/users/7")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    response = client.get("/users/x")
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "int_parsing"
    response = client.post("/users", content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_head_on_the_wire(client):
    response = client.head("/users/7")
    assert response.status_code == 200
    assert response.headers["content-length"] == "8"
    assert response.content == b""


def test_query_decoding_on_the_wire(client):
    response = client.get("/search?q=hello%20world+again&tags=a&tags=b%2Bc")
    assert response.json() == {"q": "hello world again", "tags": ["a", "b+c"]}


def test_cors_on_the_wire(client):
    response = client.options(
        "/users",
        headers={"origin": "https://site.example", "access-control-request-method": "GET"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


def test_body_over_the_limit_gives_413(client):
    response = client.post("/echo", content=b"x" * (MAX_BODY + 1))
    assert response.status_code == 413
    assert client.post("/echo", content=b"x" * MAX_BODY).json() == {"received": MAX_BODY}


def test_chunked_body_over_the_limit_gives_413(client):
    def chunks():
        for _ in range(8):
            yield b"y" * 512

    response = client.post("/echo", content=chunks())
    assert response.status_code == 413
    assert client.get("/fast").status_code == 200


def test_http2_with_prior_knowledge(server):
    pytest.importorskip("h2")
    with httpx.Client(
        base_url=f"http://127.0.0.1:{server.port}", http1=False, http2=True
    ) as h2_client:
        response = h2_client.get("/users/5")
        assert response.http_version == "HTTP/2"
        assert (response.status_code, response.content) == (200, b'{"id":5}')
        response = h2_client.post("/users", json={"name": "h2", "age": 2})
        assert response.json() == {"name": "h2", "age": 2}


def test_a_connection_opening_in_pieces_is_served_by_the_protocol_it_speaks(server):
    """The server tells HTTP/1 from HTTP/2 by a connection's first bytes, left unread for
    hyper: bytes that are only the start of HTTP/2's preface wait for more. A preface sent in
    three pieces opens HTTP/2; "POST", whose "P" starts the preface too, sent a byte at a
    time, opens HTTP/1."""
    pytest.importorskip("h2")
    import h2.config
    import h2.connection
    import h2.events

    client = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    opening = client.data_to_send()  # the preface, then SETTINGS
    status, body, ended = None, b"", False
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        for piece in (opening[:1], opening[1:16], opening[16:]):
            conn.sendall(piece)
            time.sleep(0.05)
        headers = [(":method", "GET"), (":path", "/users/5"), (":scheme", "http")]
        client.send_headers(1, [*headers, (":authority", "x")], end_stream=True)
        conn.sendall(client.data_to_send())
        while not ended:
            data = conn.recv(65536)
            assert data, "the server closed the HTTP/2 connection"
            for event in client.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers)[b":status"]
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    client.acknowledge_received_data(len(event.data), event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
            conn.sendall(client.data_to_send())
    assert (status, body) == (b"200", b'{"id":5}')

    request = (
        b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 25\r\nConnection: close\r\n\r\n{"name": "Ada", "age": 3}'
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        for byte in request[:8]:
            conn.sendall(bytes([byte]))
            time.sleep(0.02)
        conn.sendall(request[8:])
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b'{"name":"Ada","age":3}')


def test_a_stopping_server_lets_a_silent_connection_go():
    """A connection that has sent nothing when the server stops is closed then, as an idle
    one is, not held for the grace period (30 s)."""
    with live_server(timeout_app()) as server:
        conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        with http_client(server.port, timeout=10) as http:
            assert http.get("/").json() == {"ok": True}
        started = time.monotonic()
        server.shutdown()
        assert time.monotonic() - started < 10
        assert conn.recv(4096) == b""
        conn.close()


@pytest.mark.parametrize(
    ("path", "streams"),
    [("/users/5", 1), ("/users/5", 100), ("/sleep-async", 1000)],
    ids=["one-stream", "100-streams", "1000-streams-asked"],
)
def test_h2load_every_request_succeeds(server, client, path, streams):
    """nghttp2's h2load (h2c, prior knowledge): 10 connections, up to `streams` concurrent
    streams each (it keeps to the 200 the server advertises); every request succeeds, and
    HTTP/1.1 is served alongside. /sleep-async holds each stream for a second."""
    total = 2000 if path == "/sleep-async" else 20_000
    result = subprocess.run(
        [
            "h2load",
            "-n",
            str(total),
            "-c",
            "10",
            "-m",
            str(streams),
            "-T",
            "30",
            f"http://127.0.0.1:{server.port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = next(line for line in result.stdout.splitlines() if line.startswith("requests:"))
    assert f"{total} succeeded, 0 failed, 0 errored, 0 timeout" in summary, result.stdout
    assert f"status codes: {total} 2xx," in result.stdout
    assert client.get("/fast").json() == {"fast": True}


# --- raw HTTP/1.1 -----------------------------------------------------------------------


def read_response(stream):
    """Reads one HTTP/1.1 response with a content-length from a socket file."""
    status_line = stream.readline()
    if not status_line:
        return None
    headers = {}
    while True:
        line = stream.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def get(path, host="127.0.0.1"):
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


@pytest.fixture
def raw(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    stream = sock.makefile("rb")
    yield sock, stream
    stream.close()
    sock.close()


def test_keep_alive_serves_several_requests_on_one_connection(raw):
    sock, stream = raw
    for user_id in range(1, 6):
        sock.sendall(get(f"/users/{user_id}"))
        status, headers, body = read_response(stream)
        assert (status, body) == (200, b'{"id":%d}' % user_id)
        assert headers.get("connection", "keep-alive").lower() != "close"
    sock.sendall(
        b"POST /users HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b'content-length: 22\r\n\r\n{"name":"k","age":1}  '
    )
    assert read_response(stream)[::2] == (200, b'{"name":"k","age":1}')


def test_pipelined_requests_are_answered_in_order(raw):
    sock, stream = raw
    sock.sendall(get("/users/1") + get("/nope") + get("/users/2"))
    assert read_response(stream)[::2] == (200, b'{"id":1}')
    assert read_response(stream)[::2] == (404, b'{"detail":"Not Found"}')
    assert read_response(stream)[::2] == (200, b'{"id":2}')


def test_connection_close_is_honoured(raw):
    sock, stream = raw
    sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers, body = read_response(stream)
    assert (status, body) == (200, b'{"fast":true}')
    assert stream.read() == b""


@pytest.mark.parametrize(
    "request_bytes",
    [b"THIS IS NOT HTTP\r\n\r\n", b"GET /\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n"],
    ids=["garbage", "http-0.9", "bad-version"],
)
def test_malformed_request_gives_400_and_the_server_keeps_serving(server, raw, request_bytes):
    sock, stream = raw
    sock.sendall(request_bytes)
    status, headers, body = read_response(stream)
    assert (status, headers["connection"], body) == (400, "close", b"")
    with http_client(server.port) as http:
        assert http.get("/fast").json() == {"fast": True}


@pytest.mark.parametrize(
    "header_lines",
    [
        b"X-Huge: " + b"x" * (1024 * 1024) + b"\r\n",
        b"".join(b"X-%d: y\r\n" % i for i in range(1000)),
    ],
    ids=["one-huge-header", "too-many-headers"],
)
def test_oversized_headers_get_431_or_a_closed_connection(server, raw, header_lines):
    sock, stream = raw
    try:
        sock.sendall(b"GET /fast HTTP/1.1\r\nHost: x\r\n" + header_lines + b"\r\n")
        response = read_response(stream)
    except (ConnectionResetError, BrokenPipeError):
        response = None
    assert response is None or response[0] == 431
    with http_client(server.port) as http:
        assert http.get("/fast").json() == {"fast": True}


def test_declared_body_over_the_limit_is_refused_before_it_is_sent(raw):
    sock, stream = raw
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\ncontent-length: %d\r\n\r\n" % (MAX_BODY * 100))
    status, _, _ = read_response(stream)
    assert status == 413


# --- execution model --------------------------------------------------------------------


def test_blocking_sync_handler_does_not_stall_other_routes(client, server):
    with ThreadPoolExecutor(1) as pool, http_client(server.port) as other:
        SLOW_STARTED.clear()
        slow = pool.submit(client.get, "/sleep-sync")
        assert SLOW_STARTED.wait(5)
        started = time.monotonic()
        response = other.get("/fast")
        elapsed = time.monotonic() - started
        assert response.json() == {"fast": True}
        assert not slow.done()
        assert slow.result().json() == {"slept": "sync"}
    # A behaviour bound, with a wide margin: the fast route must not wait for the
    # second the slow one sleeps.
    assert elapsed < 0.5


def test_concurrent_async_sleeps_share_one_loop(server):
    # Ignyx 3.1 pinned one OS thread per in-flight async request.
    def call(_):
        with http_client(server.port) as http:
            return http.get("/sleep-async").json()

    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(call, range(20)))
    elapsed = time.monotonic() - started
    assert results == [{"slept": "async"}] * 20
    assert elapsed < 5  # serialised, they would take 20 s


def test_hundreds_of_concurrent_async_requests_share_one_loop(server):
    # Ignyx 3.1 took 9.55 s for 700 concurrent sleeps, capped by a 512-thread pool.
    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /sleep-async HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        data = await reader.read()
        writer.close()
        return data.split(b"\r\n", 1)[0], data.rsplit(b"\r\n\r\n", 1)[1]

    async def many(n):
        return await asyncio.gather(*(one() for _ in range(n)))

    started = time.monotonic()
    results = asyncio.run(many(300))
    elapsed = time.monotonic() - started
    assert set(results) == {(b"HTTP/1.1 200 OK", b'{"slept":"async"}')}
    assert elapsed < 5


# --- a server process: signals ----------------------------------------------------------

APP_SOURCE = textwrap.dedent(
    """
    import asyncio
    import sys
    import time
    from contextlib import asynccontextmanager
    from pathlib import Path

    from ignyx import BackgroundTasks, Ignyx, Request

    marks = Path(sys.argv[2]).parent


    async def forever():
        # The app's own task (a cache refresher, a Socket.IO server's pinger): never ends.
        try:
            while True:
                await asyncio.sleep(3600)
        finally:
            (marks / "forever-cancelled").touch()


    @asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(forever())
        yield
        (marks / "shutdown-hook").touch()


    app = Ignyx(lifespan=lifespan)


    @app.get("/")
    def root():
        return {"ok": True}


    async def write_later():
        await asyncio.sleep(0.5)
        (marks / "background-done").touch()


    @app.get("/later")
    def later(tasks: BackgroundTasks):
        tasks.add_task(write_later)
        return {"later": True}


    @app.get("/slow")
    def slow():
        Path(sys.argv[2]).touch()
        time.sleep(1)
        return {"done": True}


    @app.get("/crash")
    def crash(request: Request):
        return {"value": 1 / len(request.query_params)}


    app.run(host="127.0.0.1", port=int(sys.argv[1]))
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_server_after_in_flight_requests(tmp_path, signum):
    script = tmp_path / "server_app.py"
    script.write_text(APP_SOURCE)
    started = tmp_path / "slow-started"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), str(port), str(started)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process)
        with http_client(port, timeout=10) as http:
            assert http.get("/").json() == {"ok": True}
            crash = http.get("/crash")
            assert (crash.status_code, crash.content) == (500, b"Internal Server Error")
            assert http.get("/").status_code == 200

        results = {}

        def slow_request():
            with http_client(port, timeout=10) as http:
                response = http.get("/slow")
                results["slow"] = (response.status_code, response.content)

        with http_client(port, timeout=10) as http:
            assert http.get("/later").json() == {"later": True}
        thread = threading.Thread(target=slow_request)
        thread.start()
        deadline = time.monotonic() + 10
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started.exists(), "the slow handler never started"
        signalled = time.monotonic()
        process.send_signal(signum)
        thread.join(10)
        assert results["slow"] == (200, b'{"done":true}')
        assert process.wait(10) == 0
        # The request in flight and the background task finished; the app's own task was
        # cancelled after the shutdown hooks, not waited for (the grace period is 30 s).
        assert time.monotonic() - signalled < 10
        for mark in ("background-done", "shutdown-hook", "forever-cancelled"):
            assert (tmp_path / mark).exists(), mark
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read().decode()
    process.stdout.close()
    process.stderr.close()
    assert f"http://127.0.0.1:{port}" in stderr
    assert "Traceback (most recent call last)" in stderr
    assert "ZeroDivisionError: division by zero" in stderr
    assert "KeyboardInterrupt" not in stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def timeout_app():
    app = ignyx.Ignyx()

    @app.get("/")
    def root():
        return {"ok": True}

    @app.post("/echo")
    async def echo(request: ignyx.Request):
        return {"length": len(await request.body())}

    return app


def test_header_and_body_timeouts_close_slow_clients_and_the_server_keeps_serving():
    """A client that stops mid-head is disconnected after `header_timeout`, also on a kept-
    alive connection that already had an answer (the timer is armed again per request);
    one that stops mid-body gets 408. Both timers are tokio's, which the engine's wake-up
    floor (a periodic timer) must not delay."""
    with live_server(timeout_app(), header_timeout=0.3, body_timeout=0.3) as server:
        address = ("127.0.0.1", server.port)
        with socket.create_connection(address, timeout=10) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = conn.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
            assert answer.endswith(b'{"ok":true}')
            started = time.monotonic()
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            assert conn.recv(4096) == b""
            assert 0.25 < time.monotonic() - started < 5

        # One that sends nothing at all: the same timeout (the server waits for its first
        # bytes to tell HTTP/1 from HTTP/2 before hyper reads the head).
        with socket.create_connection(address, timeout=10) as conn:
            started = time.monotonic()
            assert conn.recv(4096) == b""
            assert 0.25 < time.monotonic() - started < 5

        with socket.create_connection(address, timeout=10) as conn:
            conn.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
            answer = conn.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
            assert answer.endswith(b'{"detail":"Request Timeout"}')

        with http_client(server.port, timeout=10) as http:
            assert http.post("/echo", content=b"0123456789").json() == {"length": 10}


def test_max_in_flight_bounds_the_requests_python_holds_and_every_one_is_answered():
    """Past `max_in_flight`, requests wait in the engine, not as Python work; each release
    lets exactly one more in, and none is forgotten."""
    app = ignyx.Ignyx()
    now = {"running": 0, "peak": 0}

    @app.get("/hold/{n}")
    async def hold(n: int):
        now["running"] += 1
        now["peak"] = max(now["peak"], now["running"])
        await asyncio.sleep(0.05)
        now["running"] -= 1
        return {"n": n}

    with live_server(app, max_in_flight=2) as server:

        def fetch(n):
            with http_client(server.port, timeout=10) as http:
                return http.get(f"/hold/{n}").json()

        with ThreadPoolExecutor(max_workers=7) as pool:
            answers = list(pool.map(fetch, range(7)))

    assert answers == [{"n": n} for n in range(7)]
    assert now == {"running": 0, "peak": 2}


FLOOD_APP = textwrap.dedent(
    """
    import asyncio
    import sys
    import time

    from ignyx import Ignyx

    app = Ignyx()


    @app.get("/async")
    async def slow_async():
        await asyncio.sleep(0.5)
        return {"ok": True}


    @app.get("/sync")
    def slow_sync():
        time.sleep(0.2)
        return {"ok": True}


    app.run(host="127.0.0.1", port=int(sys.argv[1]))
    """
)


def test_sigterm_with_a_thousand_requests_in_flight_answers_every_one(tmp_path):
    """1,000 async requests and 100 blocking ones in flight when SIGTERM arrives: every one is
    answered 200 (counted by the client), and the process exits 0."""
    script = tmp_path / "flood_app.py"
    script.write_text(FLOOD_APP)
    port = free_port()
    process = subprocess.Popen([sys.executable, str(script), str(port)], cwd=tmp_path)

    async def one(path: str) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nhost: x\r\n\r\n".encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 30)
        writer.close()
        return status.split(b" ")[1] if status else b"closed"

    async def flood() -> list[bytes]:
        calls = [asyncio.create_task(one("/async")) for _ in range(1000)]
        calls += [asyncio.create_task(one("/sync")) for _ in range(100)]
        await asyncio.sleep(0.3)  # all connected and in flight
        process.send_signal(signal.SIGTERM)
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        wait_for_port(port, process)
        answers = asyncio.run(flood())
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert answers == [b"200"] * 1100


IDLE_APP = textwrap.dedent(
    """
    import sys

    from ignyx import Ignyx

    app = Ignyx()


    @app.get("/")
    def root():
        return {"ok": True}


    app.run(host="127.0.0.1", port=int(sys.argv[1]), timeout_keep_alive=8.0)
    """
)


IDLE_CONNECTIONS = 10_000


def _process_figures(pid: int) -> tuple[int, int]:
    """A process's resident memory (KiB) and thread count, from /proc."""
    status = dict(
        line.split(":", 1)
        for line in open(f"/proc/{pid}/status").read().splitlines()
        if ":" in line
    )
    return int(status["VmRSS"].split()[0]), int(status["Threads"])


def test_idle_and_slowloris_clients_cost_memory_only_and_are_timed_out(tmp_path):
    """10,000 idle keep-alive connections and 500 slowloris clients (a head never finished)
    add no thread and a few KiB each; the slow ones are cut at the header timeout, and the
    server answers throughout. The server raises its own descriptor limit to the hard limit;
    this client raises its own. (Figures: docs/reliability.md.)"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= 11_000, f"this machine allows {hard} descriptors; the test needs 11,000"
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held: list[socket.socket] = []
    try:
        with served_script(tmp_path / "idle_app.py", IDLE_APP) as (process, port):
            with http_client(port, timeout=10) as http:
                assert http.get("/").json() == {"ok": True}
            rss_before, threads_before = _process_figures(process.pid)
            for _ in range(IDLE_CONNECTIONS):
                conn = socket.create_connection(("127.0.0.1", port), timeout=10)
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                held.append(conn)
            for conn in held:
                assert conn.recv(4096).startswith(b"HTTP/1.1 200 OK")  # then idle, kept alive
            slow = []
            for _ in range(500):
                conn = socket.create_connection(("127.0.0.1", port), timeout=10)
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and nothing more
                slow.append(conn)
            time.sleep(0.5)
            rss_after, threads_after = _process_figures(process.pid)
            for conn in held:  # all still open, idle
                conn.setblocking(False)
                with pytest.raises(BlockingIOError):
                    conn.recv(1)
            with http_client(port, timeout=10) as http:
                assert http.get("/").json() == {"ok": True}
            started = time.monotonic()
            assert all(conn.recv(4096) == b"" for conn in slow)  # cut at the header timeout
            assert time.monotonic() - started < 10
            for conn in slow:
                conn.close()
            per_connection = (rss_after - rss_before) / (IDLE_CONNECTIONS + 500)
            print(f"RSS per idle or slow connection: {per_connection:.1f} KiB")
            assert threads_after == threads_before
            # 14.3 KiB measured; 21.1 KiB when hyper-util's HTTP/2 detection read the first
            # bytes apart and hyper's read buffer grew to 16 KiB for each connection.
            assert per_connection < 18
    finally:
        for conn in held:
            conn.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


STALLED_READER_APP = textwrap.dedent(
    """
    import asyncio
    import os
    import sys

    from ignyx import Ignyx
    from ignyx.responses import StreamingResponse

    app = Ignyx()
    if os.environ.get("WITH_MIDDLEWARE"):

        class Passthrough:
            def __init__(self, app):
                self.app = app

            async def __call__(self, scope, receive, send):
                await self.app(scope, receive, send)

        app.add_middleware(Passthrough)

    CHUNK = b"x" * 65536
    produced = [0]


    @app.get("/endless")
    async def endless():
        async def chunks():
            while True:
                produced[0] += 1
                yield CHUNK
                await asyncio.sleep(0)

        return StreamingResponse(chunks(), media_type="application/octet-stream")


    @app.get("/endless-tiny")
    async def endless_tiny():
        async def chunks():
            while True:
                produced[0] += 1
                yield b"x"

        return StreamingResponse(chunks(), media_type="application/octet-stream")


    @app.get("/endless-sync")
    def endless_sync():
        def chunks():
            while True:
                yield CHUNK

        return StreamingResponse(chunks(), media_type="application/octet-stream")


    @app.get("/")
    def root():
        return {"ok": True}


    @app.get("/produced")
    def produced_so_far():
        return {"chunks": produced[0]}


    app.run(host="127.0.0.1", port=int(sys.argv[1]))
    """
)


@pytest.mark.parametrize("middleware", [False, True], ids=["native", "through-middleware"])
def test_a_stream_stops_once_its_client_has_gone(tmp_path, middleware):
    """An endless async stream whose client reads a little and leaves: the stream stops
    (natively its pump sees the client gone; an ASGI app hears it as an OSError from
    `send`), rather than producing for nobody until shutdown."""
    env = {"WITH_MIDDLEWARE": "1"} if middleware else {}
    with served_script(tmp_path / "stalled_reader_app.py", STALLED_READER_APP, env) as (_, port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as reader:
            reader.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
            for _ in range(20):
                assert reader.recv(65536)
        with http_client(port, timeout=10) as http:
            time.sleep(0.5)  # the stream hears of it
            settled = http.get("/produced").json()["chunks"]
            time.sleep(0.5)
            assert http.get("/produced").json()["chunks"] == settled


@pytest.mark.parametrize("middleware", [False, True], ids=["native", "through-middleware"])
@pytest.mark.parametrize("path", ["/endless", "/endless-sync"])
def test_a_client_that_stops_reading_costs_a_bounded_buffer(tmp_path, path, middleware):
    """An endless stream to a client that reads its head and then nothing: the producer
    waits for the client (a few hundred KiB ahead at most) instead of buffering the stream
    (it grew by ~700 MiB a second before), and the server answers others meanwhile."""
    env = {"WITH_MIDDLEWARE": "1"} if middleware else {}
    script = tmp_path / "stalled_reader_app.py"
    with served_script(script, STALLED_READER_APP, env) as (process, port):
        rss_before, _ = _process_figures(process.pid)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as stalled:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            stalled.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert stalled.recv(1024).startswith(b"HTTP/1.1 200 OK")
            time.sleep(1.5)
            rss_after, _ = _process_figures(process.pid)
            with http_client(port, timeout=10) as http:
                assert http.get("/").json() == {"ok": True}
        grown = (rss_after - rss_before) / 1024
        assert grown < 32, f"RSS grew by {grown:.0f} MiB"


def _queued_bytes(local_port: int, remote_port: int) -> tuple[int, int]:
    """The kernel's send and receive queues of the loopback socket from `local_port` to
    `remote_port` (/proc/net/tcp), in bytes."""
    wanted = (f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == wanted:
            tx, rx = fields[4].split(":")
            return int(tx, 16), int(rx, 16)
    raise AssertionError(f"no socket {wanted} in /proc/net/tcp")


def test_a_stream_of_tiny_chunks_is_bounded_by_what_they_hold(tmp_path):
    """An endless stream of one-byte chunks to a client that stops reading: what waits in
    the server is bounded by what each chunk holds (its allocation and its place in the
    queue), not by its one byte, so the producer stops about a thousand chunks ahead of the
    socket. Counted by bytes alone, 64 KiB of them would be 65,536 chunks (~6 MiB)."""
    with served_script(tmp_path / "stalled_reader_app.py", STALLED_READER_APP, {}) as (_, port):
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.settimeout(10)
        with stalled, http_client(port, timeout=10) as http:
            stalled.connect(("127.0.0.1", port))
            stalled.sendall(b"GET /endless-tiny HTTP/1.1\r\nHost: x\r\n\r\n")
            received = recv_until(stalled, b"\r\n\r\n")
            head = received[: received.index(b"\r\n\r\n") + 4]

            def count() -> int:
                return http.get("/produced").json()["chunks"]

            produced = settled(count, interval=0.2, tries=50)
            assert count() == produced, f"the producer never waited ({produced} chunks)"
            client_port = stalled.getsockname()[1]
            server_queued, _ = _queued_bytes(port, client_port)
            _, client_queued = _queued_bytes(client_port, port)
        # Each one-byte chunk goes out framed as b"1\r\nx\r\n".
        written = (len(received) - len(head) + server_queued + client_queued) // 6
        in_server = produced - written
        print(f"produced {produced}, on the wire {written}, in the server {in_server}")
        assert 0 <= in_server < 2_000


EXAMPLE_APP = Path(__file__).resolve().parent.parent / "examples" / "app.py"

# The README's example app, with an upload route, served on 127.0.0.1 at the port given.
UPLOAD_ROUTE = textwrap.dedent(
    """
    import sys

    from ignyx import File, UploadFile


    @app.post("/upload")
    async def upload(file: UploadFile = File(...)):
        data = await file.read()
        if data.startswith(b"fail"):
            raise ValueError("refused upload")
        return {"size": len(data)}


    app.run(host="127.0.0.1", port=int(sys.argv[1]))
    """
)


def long_run_app() -> str:
    example = EXAMPLE_APP.read_text()
    served = 'app.run(host="0.0.0.0", port=8000)'
    assert served in example
    return example.replace(served, UPLOAD_ROUTE)


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_long_run_keeps_memory_descriptors_threads_and_temp_files_flat(tmp_path):
    """Rounds of the README's requests, bad ones, and uploads big enough to spill to a
    temporary file (some failing in the handler): after a warm-up round, more rounds grow
    neither RSS (beyond a few MiB of allocator noise), nor open descriptors, nor threads, and
    no temporary file is left behind. (The million-request figures: docs/reliability.md.)"""
    spool = tmp_path / "tmp"
    spool.mkdir()
    big = b"x" * (2 * 1024 * 1024)  # past the 1 MiB spool: written to a temporary file

    def one_round(http: httpx.Client, port: int) -> None:
        for n in range(400):
            assert http.get("/").status_code == 200
            assert http.get(f"/users/{n}").json() == {"id": n}
            assert http.get("/users/nope").status_code in (404, 422)
            assert http.post("/users", json={"name": "a", "age": n}).status_code == 200
            assert http.post("/users", json={"name": "a"}).status_code == 422
        for n in range(20):
            data = big if n % 2 else b"fail" + big
            status = http.post("/upload", files={"file": ("f.bin", data)}).status_code
            assert status == (200 if n % 2 else 500)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as fresh:
            assert fresh.get("/").status_code == 200  # a connection opened and closed

    script = tmp_path / "long_run_app.py"
    with served_script(script, long_run_app(), {"TMPDIR": str(spool)}) as (process, port):
        with http_client(port, timeout=10) as http:
            one_round(http, port)  # warm-up: caches, the pool, the allocator's arenas
            rss, threads = _process_figures(process.pid)
            fds = _open_fds(process.pid)
            for _ in range(3):
                one_round(http, port)
            rss_after, threads_after = _process_figures(process.pid)
            fds_after = _open_fds(process.pid)
        leftover = list(spool.iterdir())
    print(f"RSS {rss} -> {rss_after} KiB, fds {fds} -> {fds_after}, threads {threads}")
    assert leftover == []
    assert threads_after == threads
    assert fds_after <= fds + 2  # the fresh connection may still be closing
    assert rss_after - rss < 8 * 1024


SERVER_HEADER_APP = textwrap.dedent(
    """
    import os
    import sys

    from ignyx import Ignyx, Response

    app = Ignyx()

    @app.get("/")
    def hello():
        return {"hello": "world"}

    @app.get("/own")
    def own():
        return Response("mine", headers={"server": "my-proxy"})

    options = {"server_header": False} if os.environ.get("NO_SERVER_HEADER") else {}
    app.run(host="127.0.0.1", port=int(sys.argv[1]), **options)
    """
)


@pytest.mark.parametrize("off_by", [None, "keyword", "environment"])
def test_server_header_is_sent_as_uvicorn_sends_its_own(tmp_path, off_by):
    env = {"NO_SERVER_HEADER": "1"} if off_by == "keyword" else {}
    if off_by == "environment":
        env["IGNYX_SERVER_HEADER"] = "false"
    with served_script(tmp_path / "app.py", SERVER_HEADER_APP, env) as (_, port):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            hello, own, missing = client.get("/"), client.get("/own"), client.get("/nope")
    want = None if off_by else ["ignyx"]
    assert (hello.headers.get_list("server") or None) == want
    assert missing.status_code == 404
    assert (missing.headers.get_list("server") or None) == want
    # The app's own Server header is the one sent, alone.
    assert own.headers.get_list("server") == ["my-proxy"]
    assert "date" in hello.headers


def test_the_test_client_sends_no_server_header_as_starlettes_does():
    from ignyx.testclient import TestClient

    app = ignyx.Ignyx()

    @app.get("/")
    def hello():
        return {}

    with TestClient(app) as client:
        assert "server" not in client.get("/").headers
