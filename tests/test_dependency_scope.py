"""``Depends(scope="function")``: a ``yield`` dependency's exit code runs when the endpoint
has returned, before the response is sent; the default (``"request"``) runs it after the
response, as FastAPI does. Checked on both frameworks with the same app."""

from types import SimpleNamespace
from typing import Annotated, Any

import pytest


def build(fw: SimpleNamespace, log: list[str]) -> Any:
    app = fw.FastAPI()

    def function_scoped():
        log.append("function: enter")
        yield "f"
        log.append("function: exit")

    def request_scoped():
        log.append("request: enter")
        yield "r"
        log.append("request: exit")

    async def async_function_scoped():
        log.append("async function: enter")
        try:
            yield "af"
        except ValueError:
            log.append("async function: saw ValueError")
            raise
        log.append("async function: exit")

    @app.get("/sync")
    def sync_endpoint(
        f: Annotated[str, fw.Depends(function_scoped, scope="function")],
        r: Annotated[str, fw.Depends(request_scoped)],
    ):
        log.append("endpoint")
        return {"f": f, "r": r}

    @app.get("/async")
    async def async_endpoint(
        f: Annotated[str, fw.Depends(async_function_scoped, scope="function")],
        r: Annotated[str, fw.Depends(request_scoped, scope="request")],
    ):
        log.append("endpoint")
        return {"f": f, "r": r}

    @app.get("/fails")
    async def failing(f: Annotated[str, fw.Depends(async_function_scoped, scope="function")]):
        raise ValueError("boom")

    @app.middleware("http")
    async def mark_response(request, call_next):
        response = await call_next(request)
        log.append("response made")
        return response

    return app


@pytest.mark.parametrize("path", ["/sync", "/async"])
def test_function_scope_exits_before_the_response(fw: SimpleNamespace, path: str) -> None:
    log: list[str] = []
    with fw.TestClient(build(fw, log)) as client:
        response = client.get(path)
    assert response.status_code == 200
    assert response.json() == {"f": "af" if path == "/async" else "f", "r": "r"}
    prefix = "async function" if path == "/async" else "function"
    # The request scope exits once the response is sent, which may come before or after the
    # middleware's code after `call_next` (it runs as the body streams out).
    during = [entry for entry in log if entry != "request: exit"]
    assert during == [
        f"{prefix}: enter",
        "request: enter",
        "endpoint",
        f"{prefix}: exit",
        "response made",
    ]
    assert log.index("request: exit") > log.index(f"{prefix}: exit")


def test_function_scope_sees_the_endpoints_exception(fw: SimpleNamespace) -> None:
    log: list[str] = []
    client = fw.TestClient(build(fw, log), raise_server_exceptions=False)
    response = client.get("/fails")
    assert response.status_code == 500
    assert log[:2] == ["async function: enter", "async function: saw ValueError"]


def test_request_scope_cannot_depend_on_function_scope(fw: SimpleNamespace) -> None:
    from importlib import import_module

    exceptions = import_module(f"{fw.name}.exceptions")
    app = fw.FastAPI()

    def inner():
        yield 1

    def outer(x: Annotated[int, fw.Depends(inner, scope="function")]):
        yield x

    with pytest.raises(exceptions.DependencyScopeError) as raised:

        @app.get("/")
        def endpoint(y: Annotated[int, fw.Depends(outer)]):
            return y

    assert str(raised.value) == (
        'The dependency "outer" has a scope of "request", it cannot depend on '
        'dependencies with scope "function".'
    )


def test_unknown_scope_is_refused() -> None:
    # FastAPI takes any value and treats it as "request"; a typo should not pass silently.
    from ignyx import Depends

    with pytest.raises(ValueError, match="scope must be"):
        Depends(lambda: 1, scope="session")  # type: ignore[arg-type]


def build_limited(fw: SimpleNamespace, seen: dict[str, int]) -> Any:
    import asyncio
    import threading
    import time

    app = fw.FastAPI()
    lock = threading.Lock()

    def count(delta: int) -> None:
        with lock:
            seen["now"] += delta
            seen["most"] = max(seen["most"], seen["now"])

    async def async_limited():
        count(1)
        await asyncio.sleep(0.05)
        count(-1)
        return "a"

    def sync_limited():
        count(1)
        time.sleep(0.05)
        count(-1)
        return "s"

    async def yield_limited():
        count(1)
        yield "y"
        await asyncio.sleep(0.02)
        count(-1)

    @app.get("/async")
    async def one(v: Annotated[str, fw.Depends(async_limited, max_concurrency=2)]):
        return v

    @app.get("/sync")
    def two(v: Annotated[str, fw.Depends(sync_limited, max_concurrency=2)]):
        return v

    @app.get("/yield")
    async def three(v: Annotated[str, fw.Depends(yield_limited, max_concurrency=2)]):
        await asyncio.sleep(0.03)
        return v

    return app


@pytest.mark.parametrize("path, value", [("/async", "a"), ("/sync", "s"), ("/yield", "y")])
def test_max_concurrency_bounds_simultaneous_calls(
    fw: SimpleNamespace, path: str, value: str
) -> None:
    import asyncio

    import httpx

    seen = {"now": 0, "most": 0}
    app = build_limited(fw, seen)

    async def burst() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.gather(*(client.get(path) for _ in range(6)))

    responses = asyncio.run(burst())
    assert [r.json() for r in responses] == [value] * 6
    assert seen == {"now": 0, "most": 2}


def test_max_concurrency_holds_on_the_native_server() -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from conftest import framework, live_server

    seen = {"now": 0, "most": 0}
    with live_server(build_limited(framework("ignyx"), seen)) as server:
        url = f"http://127.0.0.1:{server.port}/async"
        with ThreadPoolExecutor(6) as pool:
            bodies = list(pool.map(lambda _: httpx.get(url).json(), range(6)))
    assert bodies == ["a"] * 6
    assert seen == {"now": 0, "most": 2}


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_max_concurrency_must_be_a_positive_integer(fw: SimpleNamespace, value: Any) -> None:
    with pytest.raises(ValueError, match="max_concurrency must be a positive integer"):
        fw.Depends(lambda: 1, max_concurrency=value)


def test_background_tasks_run_before_the_request_scoped_cleanup(fw: SimpleNamespace) -> None:
    log: list[str] = []
    app = fw.FastAPI()

    def resource():
        log.append("setup")
        yield "r"
        log.append("cleanup")

    background_tasks = __import__(fw.name).BackgroundTasks

    @app.get("/")
    def endpoint(tasks: background_tasks, r: Annotated[str, fw.Depends(resource)]):
        tasks.add_task(log.append, "task")
        return r

    with fw.TestClient(app) as client:
        assert client.get("/").json() == "r"
    assert log == ["setup", "task", "cleanup"]
