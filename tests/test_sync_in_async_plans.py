"""Sync callables of async plans: a `def` dependency of an `async def` route, a `def`
`yield` dependency there, and a `def` endpoint with async dependencies. FastAPI runs each in
its threadpool, in a copy of the context; so does Ignyx, until the callable proves quick
(the policy of sync routes), and then on the event loop, still in a copy of the context. A
blocking one never stalls the worker's loop."""

import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import fastapi
import fastapi.testclient
import ignyx
import pytest
from conftest import eventually, http_client, live_server
from ignyx.testclient import TestClient

LOOP_THREAD = "ignyx-server"  # the thread `live_server` and the TestClient serve from

tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant", default="none")


def build():
    app = ignyx.Ignyx()
    app.state.started = threading.Event()
    app.state.threads = []

    def blocking() -> str:
        app.state.started.set()
        time.sleep(1)
        return "slept"

    @app.get("/blocking-dependency")
    async def blocking_dependency(value: str = ignyx.Depends(blocking)):
        return {"value": value}

    def session():
        app.state.threads.append(("enter", threading.current_thread().name))
        yield "session"
        app.state.threads.append(("exit", threading.current_thread().name))

    @app.get("/yield-dependency")
    async def yield_dependency(value: str = ignyx.Depends(session)):
        return {"value": value}

    async def one() -> int:
        return 1

    @app.get("/sync-endpoint")
    def sync_endpoint(a: int = ignyx.Depends(one)):
        return {"a": a, "thread": threading.current_thread().name}

    def quick() -> str:
        return threading.current_thread().name

    @app.get("/quick")
    async def quick_route(thread: str = ignyx.Depends(quick)):
        return {"thread": thread}

    @app.get("/fast")
    def fast():
        return {"fast": True}

    return app


@pytest.fixture(scope="module")
def server():
    with live_server(build()) as running:
        yield running


def test_a_blocking_sync_dependency_does_not_stall_other_requests(server):
    app = server.app
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(_get, server.port, "/blocking-dependency")
        assert app.state.started.wait(5)
        started = time.monotonic()
        assert _get(server.port, "/fast") == {"fast": True}
        assert time.monotonic() - started < 0.5  # the loop was free while the dependency slept
        assert slow.result(timeout=10) == {"value": "slept"}


def test_a_sync_yield_dependency_enters_and_exits_off_the_loop(server):
    server.app.state.threads.clear()
    assert _get(server.port, "/yield-dependency") == {"value": "session"}
    threads = eventually(
        lambda: server.app.state.threads if len(server.app.state.threads) == 2 else None
    )
    assert [step for step, _ in threads] == ["enter", "exit"]
    assert all(name != LOOP_THREAD for _, name in threads)


def test_a_sync_endpoint_with_async_dependencies_runs_off_the_loop(server):
    answer = _get(server.port, "/sync-endpoint")
    assert answer["a"] == 1
    assert answer["thread"] != LOOP_THREAD


def test_a_quick_sync_dependency_moves_onto_the_loop_once_proven():
    with live_server(build()) as server:
        with http_client(server.port, timeout=10) as http:
            threads = [http.get("/quick").json()["thread"] for _ in range(80)]
    assert threads[0] != LOOP_THREAD  # the threadpool first, as FastAPI
    assert threads[-1] == LOOP_THREAD  # then inline, once 64 calls proved it quick


def contextvar_app(framework):
    """A ContextVar set by an async dependency is seen by a sync one (its context is a copy);
    one the sync dependency sets is not seen by the handler."""
    app = framework.FastAPI() if framework is fastapi else framework.Ignyx()
    Depends = framework.Depends

    async def set_tenant():
        tenant.set("acme")

    def read_then_set() -> str:
        seen = tenant.get()
        tenant.set("changed in a sync dependency")
        return seen

    @app.get("/tenant", dependencies=[Depends(set_tenant)])
    async def handler(seen: str = Depends(read_then_set)):
        return {"seen_by_dependency": seen, "seen_by_handler": tenant.get()}

    return app


def test_contextvars_across_sync_dependencies_behave_as_in_fastapi():
    with fastapi.testclient.TestClient(contextvar_app(fastapi)) as theirs:
        expected = theirs.get("/tenant").json()
    assert expected == {"seen_by_dependency": "acme", "seen_by_handler": "acme"}
    with TestClient(contextvar_app(ignyx)) as ours:
        # Pooled at first, inline after 64 quick calls: the same answer either way.
        answers = [ours.get("/tenant").json() for _ in range(80)]
    assert answers == [expected] * 80


def _get(port, path):
    with http_client(port, timeout=10) as http:
        return http.get(path).json()
