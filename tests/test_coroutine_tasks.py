"""Issue 4: async handlers run as Rust-stepped coroutines on the I/O thread's event loop
(``src/runtime/task.rs``), not as asyncio Tasks. Whatever a handler does with asyncio
(current task, cancellation, timeouts, task groups, futures, executors, anyio cancel
scopes, an httpx client) must behave as it does under FastAPI; each route below is
served by both frameworks and compared."""

import asyncio
import contextvars
import sys

import anyio
import httpx
import pytest
from conftest import differential, live_server

trace: contextvars.ContextVar[str] = contextvars.ContextVar("trace", default="")


def build(fw):
    app = fw.FastAPI()

    @app.get("/current-task")
    async def current_task():
        task = asyncio.current_task()
        await asyncio.sleep(0)
        again = asyncio.current_task()
        return {
            "same_across_yield": task is again,
            "done": task.done(),
            "cancelling": task.cancelling(),
            "named": isinstance(task.get_name(), str),
            "own_coro": task.get_coro() is not None,
        }

    @app.get("/future")
    async def future():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.call_later(0.01, fut.set_result, 41)
        return {"value": await fut + 1}

    @app.get("/future-error")
    async def future_error():
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        loop.call_soon(fut.set_exception, ValueError("boom"))
        try:
            await fut
        except ValueError as exc:
            return {"caught": str(exc)}
        return {"caught": None}

    @app.get("/gather")
    async def gather():
        async def after(delay, value):
            await asyncio.sleep(delay)
            return value

        return {"values": await asyncio.gather(after(0.02, "a"), after(0.01, "b"), after(0, "c"))}

    @app.get("/wait-for")
    async def wait_for():
        try:
            await asyncio.wait_for(asyncio.sleep(1), timeout=0.02)
        except asyncio.TimeoutError:
            return {"timed_out": True}
        return {"timed_out": False}

    @app.get("/self-cancel")
    async def self_cancel():
        task = asyncio.current_task()
        task.cancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            requested = task.cancelling()
            task.uncancel()
            return {"caught": True, "requested": requested, "after": task.cancelling()}
        return {"caught": False}

    @app.get("/cancel-while-waiting")
    async def cancel_while_waiting():
        task = asyncio.current_task()
        asyncio.get_running_loop().call_later(0.01, task.cancel, "enough")
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError as exc:
            task.uncancel()
            return {"message": exc.args[0] if exc.args else None}
        return {"message": "not cancelled"}

    @app.get("/executor")
    async def executor():
        loop = asyncio.get_running_loop()
        return {"value": await loop.run_in_executor(None, sum, [1, 2, 3])}

    @app.get("/done-callback")
    async def done_callback():
        loop = asyncio.get_running_loop()
        child = loop.create_task(asyncio.sleep(0, "child"))
        seen = loop.create_future()
        child.add_done_callback(lambda t: seen.set_result(t.result()))
        return {"child": await seen}

    @app.get("/anyio-fail-after")
    async def anyio_fail_after():
        try:
            with anyio.fail_after(0.02):
                await anyio.sleep(1)
        except TimeoutError:
            return {"timed_out": True}
        return {"timed_out": False}

    @app.get("/anyio-move-on")
    async def anyio_move_on():
        with anyio.move_on_after(0.02) as scope:
            await anyio.sleep(1)
        with anyio.move_on_after(1) as quick:
            await anyio.sleep(0)
        return {"first": scope.cancelled_caught, "second": quick.cancelled_caught}

    @app.get("/context-across-awaits")
    async def context_across_awaits():
        before = trace.get()
        trace.set("handler")
        await asyncio.sleep(0.01)
        await asyncio.sleep(0)
        return {"before": before, "after": trace.get()}

    @app.get("/error-after-await")
    async def error_after_await():
        await asyncio.sleep(0.01)
        raise fw.HTTPException(status_code=418, detail="teapot after a nap")

    @app.get("/crash-after-await")
    async def crash_after_await():
        await asyncio.sleep(0)
        raise RuntimeError("unhandled")

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


@pytest.mark.parametrize(
    "path",
    [
        "/current-task",
        "/future",
        "/future-error",
        "/gather",
        "/wait-for",
        "/self-cancel",
        "/cancel-while-waiting",
        "/executor",
        "/done-callback",
        "/anyio-fail-after",
        "/anyio-move-on",
        "/context-across-awaits",
        "/error-after-await",
    ],
)
def test_asyncio_inside_handlers_behaves_as_under_fastapi(clients, path):
    differential(clients, "GET", path)


def test_expected_answers(clients):
    # The differential test proves equality; these pin what equal means.
    assert clients.ignyx.get("/current-task").json() == {
        "same_across_yield": True,
        "done": False,
        "cancelling": 0,
        "named": True,
        "own_coro": True,
    }
    assert clients.ignyx.get("/future").json() == {"value": 42}
    assert clients.ignyx.get("/gather").json() == {"values": ["a", "b", "c"]}
    assert clients.ignyx.get("/self-cancel").json() == {"caught": True, "requested": 1, "after": 0}
    assert clients.ignyx.get("/cancel-while-waiting").json() == {"message": "enough"}
    assert clients.ignyx.get("/anyio-move-on").json() == {"first": True, "second": False}
    assert clients.ignyx.get("/context-across-awaits").json() == {
        "before": "",
        "after": "handler",
    }


def test_unhandled_error_after_an_await_gives_500_and_serving_goes_on(clients):
    response = clients.ignyx.get("/crash-after-await")
    assert response.status_code == 500
    assert clients.ignyx.get("/future").json() == {"value": 42}


def build_task_group(fw):
    app = fw.FastAPI()

    @app.get("/group")
    async def group():
        finished = []

        async def slow():
            await asyncio.sleep(1)
            finished.append("slow")

        async def failing():
            await asyncio.sleep(0.01)
            raise ValueError("child failed")

        errors = []
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(slow())
                tg.create_task(failing())
        except ExceptionGroup as group_error:  # noqa: F821 - a builtin from 3.11
            errors = [str(e) for e in group_error.exceptions]
        return {
            "errors": errors,
            "finished": finished,
            "cancelling": asyncio.current_task().cancelling(),
        }

    return app


def test_task_group_cancels_siblings_and_raises_to_the_handler(dual):
    if sys.version_info < (3, 11):
        pytest.skip("TaskGroup is 3.11+")
    clients = dual(build_task_group)
    response = differential(clients, "GET", "/group")
    assert response.json()["errors"] == ["child failed"]
    assert response.json()["finished"] == []


def test_httpx_async_client_inside_a_handler_calls_the_same_server():
    """httpx (anyio underneath, with its cancel scopes and timeouts) used from a handler,
    calling back into the server that runs the handler: the loop keeps serving while the
    handler waits on it."""
    import ignyx

    app = ignyx.Ignyx()

    @app.get("/inner")
    async def inner():
        await asyncio.sleep(0.01)
        return {"inner": True}

    @app.get("/outer")
    async def outer(request: ignyx.Request):
        base = f"http://127.0.0.1:{request.url.port}"
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            responses = await asyncio.gather(*(client.get("/inner") for _ in range(5)))
        return {"inner": [r.json()["inner"] for r in responses]}

    with live_server(app) as server:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            assert client.get("/outer").json() == {"inner": [True] * 5}
