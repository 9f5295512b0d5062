"""While the server serves, the event loop's executor (``run_in_threadpool``,
``asyncio.to_thread``, a sync generator's bursts) is the engine's sync pool
(``src/runtime/executor.rs``), as FastAPI runs sync routes and ``run_in_threadpool`` on one
threadpool of 40: quick work shares one thread, blocked work gets threads as it needs them
(asyncio's own executor has ``min(32, cores + 4)``, six on two cores), and each call keeps a
ThreadPoolExecutor's outcome: its result or its exception.
Before and after serving, and when the app chose its own default executor, asyncio's
executor runs it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastapi
import httpx
import ignyx
import pytest
from conftest import eventually, http_client, live_server, served_script, under_uvicorn
from ignyx.concurrency import run_in_threadpool

# More calls blocked at once than asyncio's executor has threads on a 2-core machine.
BLOCKED_AT_ONCE = 12


def native_thread_name() -> str:
    """The thread's name as the OS has it (the engine names its pool threads)."""
    with open(f"/proc/self/task/{threading.get_native_id()}/comm") as comm:
        return comm.read().strip()


def blocking_app(framework: Any) -> Any:
    app = framework.FastAPI() if framework is fastapi else framework.Ignyx()
    threadpool = importlib.import_module(f"{framework.__name__}.concurrency").run_in_threadpool
    barrier = threading.Barrier(BLOCKED_AT_ONCE, timeout=10)

    @app.get("/meet")
    async def meet():
        # Every call waits until all of them are blocked at once: it finishes only if the
        # executor has a thread for each.
        index = await threadpool(barrier.wait)
        return {"met": True, "index": index}

    return app


@contextlib.contextmanager
def served(app: Any, by: str) -> Iterator[str]:
    """`app` served by Ignyx's server, or by uvicorn as an ASGI app; yields its URL."""
    if by == "uvicorn":
        with under_uvicorn(app) as url:
            yield url
        return
    with live_server(app) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize(
    ("framework", "by"),
    [(ignyx, "ignyx"), (ignyx, "uvicorn"), (fastapi, "uvicorn")],
    ids=["ignyx", "ignyx-as-asgi-app", "fastapi"],
)
def test_as_many_calls_block_at_once_as_fastapis_threadpool_allows(framework, by):
    """Also when the app is another server's ASGI app: there its loop's executor would
    have six threads, and `run_in_threadpool` takes anyio's forty, as FastAPI's does."""
    with served(blocking_app(framework), by) as url:

        def fetch(_: int) -> Any:
            with httpx.Client(base_url=url, timeout=20) as client:
                return client.get("/meet")

        with concurrent.futures.ThreadPoolExecutor(BLOCKED_AT_ONCE) as clients:
            responses = list(clients.map(fetch, range(BLOCKED_AT_ONCE)))
    assert [r.status_code for r in responses] == [200] * BLOCKED_AT_ONCE
    indexes = sorted(r.json()["index"] for r in responses)
    assert indexes == list(range(BLOCKED_AT_ONCE))


def test_executor_work_runs_in_the_sync_pool_and_keeps_its_outcome():
    app = ignyx.Ignyx()

    def fail() -> None:
        raise LookupError("from the pool")

    @app.get("/where")
    async def where():
        return {
            "to_thread": await asyncio.to_thread(native_thread_name),
            "threadpool": await run_in_threadpool(native_thread_name),
            "executor": await asyncio.get_running_loop().run_in_executor(None, native_thread_name),
        }

    @app.get("/fails")
    async def fails():
        try:
            await run_in_threadpool(fail)
        except LookupError as exc:
            return {"raised": str(exc)}
        return {"raised": None}

    with live_server(app) as server, http_client(server.port, timeout=10) as client:
        names = client.get("/where").json()
        assert names == {
            "to_thread": "ignyx-sync",
            "threadpool": "ignyx-sync",
            "executor": "ignyx-sync",
        }
        assert client.get("/fails").json() == {"raised": "from the pool"}


def test_an_apps_own_default_executor_is_kept():
    mine = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mine")

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        asyncio.get_running_loop().set_default_executor(mine)
        yield

    app = ignyx.Ignyx(lifespan=lifespan)

    @app.get("/where")
    async def where():
        return {"name": await run_in_threadpool(lambda: threading.current_thread().name)}

    with live_server(app) as server, http_client(server.port, timeout=10) as client:
        assert client.get("/where").json()["name"].startswith("mine")
    mine.shutdown()


def test_executor_work_before_and_after_serving_runs_in_asyncios_executor():
    seen: dict[str, str] = {}

    def python_thread_name() -> str:
        return threading.current_thread().name

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        seen["startup"] = await asyncio.to_thread(python_thread_name)
        yield
        # The pool has stopped by now: asyncio's executor takes the work.
        seen["shutdown"] = await asyncio.to_thread(python_thread_name)

    app = ignyx.Ignyx(lifespan=lifespan)

    @app.get("/during")
    async def during():
        return {"name": await asyncio.to_thread(native_thread_name)}

    with live_server(app) as server, http_client(server.port, timeout=10) as client:
        assert client.get("/during").json() == {"name": "ignyx-sync"}
    assert eventually(lambda: "shutdown" in seen, timeout=10)
    assert seen["startup"].startswith("asyncio")
    assert seen["shutdown"].startswith("asyncio")


_STREAMS = """
import sys
from collections.abc import Iterator
from pathlib import Path

from ignyx import Ignyx

app = Ignyx()


@app.get("/items")
def items() -> Iterator[dict]:
    for i in range(5_000):
        yield {"i": i}


app.run(host="127.0.0.1", port=int(sys.argv[1]))
"""


def thread_names(pid: int) -> list[str]:
    names = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            names.append((task / "comm").read_text().strip())
    return names


def test_sync_generators_stream_on_the_pool_not_on_a_thread_each(tmp_path):
    """Eight JSON Lines streams of a sync generator at once, in a server of its own: their
    bursts run on the sync pool, which they keep moving, so it adds few threads or none;
    asyncio's executor would have started a thread for each, up to six."""
    with served_script(tmp_path / "streams.py", _STREAMS) as (process, port):
        # Counted once a request is answered: the port accepts from the moment it is bound,
        # before `serve` starts the access log's writer thread.
        with http_client(port) as client:
            assert client.get("/nothing").status_code == 404
        idle = len(thread_names(process.pid))
        most = {"threads": 0, "pool": 0}
        seen: set[str] = set()  # every thread's name, for the message when the count is off
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                names = thread_names(process.pid)
                seen.update(names)
                most["threads"] = max(most["threads"], len(names))
                most["pool"] = max(most["pool"], names.count("ignyx-sync"))
                done.wait(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()

        def fetch(_: int) -> list[str]:
            with http_client(port, timeout=30) as client:
                return client.get("/items").text.splitlines()

        try:
            with concurrent.futures.ThreadPoolExecutor(8) as clients:
                bodies = list(clients.map(fetch, range(8)))
        finally:
            done.set()
            watcher.join()
    assert [len(lines) for lines in bodies] == [5_000] * 8
    assert all(lines[-1] == '{"i":4999}' for lines in bodies)
    assert 1 <= most["pool"] <= 4, most
    # Only pool threads were added: no executor thread per stream.
    assert most["threads"] - idle <= most["pool"], (idle, most, sorted(seen))


def _background_app(framework: Any, seen: list) -> Any:
    import contextvars

    tag: contextvars.ContextVar[str] = contextvars.ContextVar("tag", default="unset")
    app = framework.FastAPI()

    @app.middleware("http")
    async def tagging(request, call_next):
        tag.set(request.headers.get("x-tag", "none"))
        return await call_next(request)

    def job() -> None:
        seen.append((tag.get(), native_thread_name(), threading.current_thread().name))

    def later(tasks):
        tasks.add_task(job)
        return {}

    # Set, not written: this module's annotations are strings, which name no local.
    later.__annotations__["tasks"] = framework.BackgroundTasks
    app.get("/later")(later)
    return app


@pytest.mark.parametrize("framework", [ignyx, fastapi])
def test_a_sync_background_task_sees_the_requests_context_vars(framework):
    """As in Starlette, a plain function added to BackgroundTasks runs in the threadpool with
    the request's ContextVars (a request id a log line carries, say). It ran in the loop's
    executor without them."""
    seen: list = []
    app = _background_app(framework, seen)
    with importlib.import_module(f"{framework.__name__}.testclient").TestClient(app) as client:
        for tag in ("a", "b"):
            assert client.get("/later", headers={"x-tag": tag}).status_code == 200
        assert eventually(lambda: len(seen) == 2, timeout=5)
    assert [tag for tag, _, _ in seen] == ["a", "b"]
    if framework is ignyx:
        assert {thread for _, thread, _ in seen} == {"ignyx-sync"}


def test_a_sync_background_task_under_uvicorn_runs_in_anyios_threadpool():
    seen: list = []
    with under_uvicorn(_background_app(ignyx, seen)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/later", headers={"x-tag": "u"}).status_code == 200
        assert eventually(lambda: len(seen) == 1, timeout=5)
    assert seen[0][0] == "u"
    assert seen[0][2].startswith("AnyIO worker")  # FastAPI's threadpool, as FastAPI's app
