"""Sync `def` handlers: quick ones run without thread switches, blocking ones never stall
the rest of the server (ARCHITECTURE.md, the adaptive pool)."""

import asyncio
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import ignyx
import pytest
from conftest import free_port, live_server, wait_for_port
from ignyx.responses import JSONResponse
from ignyx.server import Server


def make_app(state: dict) -> ignyx.Ignyx:
    app = ignyx.Ignyx()

    @app.get("/quick")
    def quick():
        return {"thread": threading.current_thread().name}

    @app.get("/sometimes-slow")
    def sometimes_slow():
        if state.get("slow"):
            time.sleep(0.5)
        return {"thread": threading.current_thread().name}

    @app.get("/always-slow")
    def always_slow():
        time.sleep(1)
        return "done"

    return app


def _timed_get(client: httpx.Client, url: str) -> float:
    start = time.monotonic()
    assert client.get(url).status_code == 200
    return time.monotonic() - start


def test_quick_handler_is_promoted_to_run_on_the_io_thread():
    server = Server(make_app({}), "127.0.0.1", 0)
    server.start_in_thread()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
            threads = [client.get("/quick").json()["thread"] for _ in range(100)]
    finally:
        server.shutdown()
    assert threads[0] != "ignyx-server"  # starts on the sync pool
    assert threads[-1] == "ignyx-server"  # proven quick: no thread switch any more


def test_blocking_handler_never_stalls_other_routes():
    server = Server(make_app({}), "127.0.0.1", 0)
    server.start_in_thread()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with ThreadPoolExecutor(4) as pool, httpx.Client(base_url=base) as client:
            for _ in range(100):
                client.get("/quick")
            slow = [pool.submit(_timed_get, httpx.Client(base_url=base), "/always-slow")]
            time.sleep(0.2)
            fast = _timed_get(client, "/quick")
            assert slow[0].result() >= 1.0
    finally:
        server.shutdown()
    assert fast < 0.5


@pytest.mark.parametrize("blocked", [4, 8])
def test_blocked_handlers_never_hold_up_a_fresh_route(blocked):
    """Several calls arrive together and block the pool's threads (each sleeps a second); a
    quick route called 200 ms later must not wait for them: the pool keeps adding threads
    while queued work makes no progress, and work arriving when every thread is stuck gets
    one at once. (It used to add one thread per burst, and the quick call waited ~0.9 s.)"""
    server = Server(make_app({}), "127.0.0.1", 0)
    server.start_in_thread()
    try:
        # Connected first, then sent in one go: the calls reach the pool within a few ms.
        slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(blocked)]
        started = time.monotonic()
        for connection in slow:
            connection.sendall(b"GET /always-slow HTTP/1.1\r\nhost: t\r\n\r\n")
        time.sleep(0.2)
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
            fast = _timed_get(client, "/quick")  # its first call: it runs on the pool
        answers = []
        for connection in slow:
            connection.settimeout(5)
            answers.append(connection.recv(4096).split(b"\r\n", 1)[0])
            connection.close()
        slow_took = time.monotonic() - started
    finally:
        server.shutdown()
    assert answers == [b"HTTP/1.1 200 OK"] * blocked
    # Behaviour bounds with wide margins: a second of sleep each, side by side, and the
    # quick route waiting for none of them.
    assert slow_took < 2.5
    assert fast < 0.5


def test_promoted_handler_that_starts_blocking_goes_back_to_the_pool():
    state: dict = {}
    server = Server(make_app(state), "127.0.0.1", 0)
    server.start_in_thread()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with ThreadPoolExecutor(4) as pool, httpx.Client(base_url=base) as client:
            threads = [client.get("/sometimes-slow").json()["thread"] for _ in range(100)]
            assert threads[-1] == "ignyx-server"
            state["slow"] = True
            # The first slow call runs inline once; after it the route is sent back.
            assert _timed_get(client, "/sometimes-slow") >= 0.5
            slow = pool.submit(_timed_get, httpx.Client(base_url=base), "/sometimes-slow")
            time.sleep(0.1)
            fast = _timed_get(client, "/quick")
            assert slow.result() >= 0.5
    finally:
        server.shutdown()
    assert fast < 0.4


class Teapot(Exception):
    pass


def test_promoted_handler_whose_error_handler_awaits_still_answers():
    """An inline call that ends in an async error handler hands it to the event loop; the
    connection then waits for that reply instead of the inline one."""
    app = ignyx.Ignyx()

    @app.exception_handler(Teapot)
    async def teapot(request, exc):
        await asyncio.sleep(0.001)
        return JSONResponse({"handled": request.url.path}, status_code=418)

    @app.get("/where")
    def where(fail: bool = False):
        if fail:
            raise Teapot()
        return {"thread": threading.current_thread().name}

    server = Server(app, "127.0.0.1", 0)
    server.start_in_thread()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
            threads = [client.get("/where").json()["thread"] for _ in range(100)]
            assert threads[-1] == "ignyx-server"  # promoted: the next calls run inline
            for _ in range(20):
                failed = client.get("/where", params={"fail": "true"})
                assert failed.status_code == 418
                assert failed.json() == {"handled": "/where"}
                assert client.get("/where").json() == {"thread": "ignyx-server"}
    finally:
        server.shutdown()


BUSY_APP = """
import sys, time
import ignyx

app = ignyx.Ignyx()

@app.get("/busy")
def busy():
    deadline = time.perf_counter() + 0.003
    while time.perf_counter() < deadline:
        pass
    return "done"

app.run(port=int(sys.argv[1]))
"""


def _os_threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


def test_busy_handlers_do_not_grow_the_pool(tmp_path):
    """A handler busy on the CPU (about 3 ms of Python, holding the GIL) is slow but never
    stuck: the queue keeps moving, so the pool keeps its one thread. More threads would only
    queue for the GIL; a thread is added when nothing has moved for 10 ms (a handler that
    sleeps or waits on I/O), not when one call merely outlasts a preemption. The server
    runs in its own process, so the load's threads do not take its GIL."""
    script = tmp_path / "busy_app.py"
    script.write_text(BUSY_APP)
    port = free_port()
    server = subprocess.Popen([sys.executable, str(script), str(port)])
    try:
        wait_for_port(port, server)
        before = _os_threads(server.pid)

        def load(_):
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                return [client.get("/busy").status_code for _ in range(15)]

        with ThreadPoolExecutor(16) as pool:
            statuses = [s for batch in pool.map(load, range(16)) for s in batch]
        grown = _os_threads(server.pid) - before  # extra pool threads stay for 30 s
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert statuses == [200] * 240
    # 8-10 here when 1 ms of waiting added a thread; 1-4 when a thread was added for 10 ms
    # without progress while a pool thread was preempted (runnable, waiting for a core the
    # load shares); none in ten runs since a runnable thread earns 100 ms of patience.
    assert grown <= 3, grown


def test_a_handler_that_keeps_the_cpu_gets_company_in_the_end():
    """A handler busy on the CPU for a second and a half keeps its thread runnable, which
    alone adds no thread; after 100 ms without progress one is added all the same, so a quick
    call queued behind it is answered long before it ends (the GIL's switch interval lets the
    new thread run)."""
    app = ignyx.Ignyx()

    @app.get("/spin")
    def spin():
        deadline = time.perf_counter() + 1.5
        while time.perf_counter() < deadline:
            pass
        return "done"

    @app.get("/quick")
    def quick():
        return "quick"

    with live_server(app) as server:
        base = f"http://127.0.0.1:{server.port}"
        with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=base) as client:
            spinning = pool.submit(_timed_get, httpx.Client(base_url=base), "/spin")
            time.sleep(0.2)
            fast = _timed_get(client, "/quick")  # its first call: it runs on the pool
            assert spinning.result() >= 1.5
    assert fast < 1.0  # ~1.3 s if it waited for the spinning handler
