"""Sync `def` handlers: quick ones run without thread switches, blocking ones never stall
the rest of the server (ARCHITECTURE.md, the adaptive pool)."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import ignyx
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
