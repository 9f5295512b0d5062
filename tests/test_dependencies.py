"""Issue 3: Depends, yield dependencies, background tasks, exception handlers, lifespan,
routers and the Response parameter, as FastAPI users write them."""

import asyncio
import socket
import threading
import time
from contextlib import asynccontextmanager
from typing import Annotated, Optional

import fastapi
import fastapi.testclient
import ignyx
import ignyx.depends
import ignyx.exceptions
import ignyx.testclient
import pytest
from ignyx.server import Server
from pydantic import BaseModel


def build_app(fw, events: list):
    """The same application for `fw` (the fastapi or the ignyx module)."""

    class Item(BaseModel):
        name: str
        price: float

    def common(q: Optional[str] = None, limit: int = fw.Query(10, le=100)):
        return {"q": q, "limit": limit}

    async def async_user(x_user: str = fw.Header()):
        return x_user.upper()

    def level1(token: str = fw.Query()):
        events.append("level1")
        return token

    async def level2(t: str = fw.Depends(level1)):
        return t + "2"

    def level3(t: str = fw.Depends(level2), t1: str = fw.Depends(level1)):
        return t + "3" + t1

    class Pager:
        def __init__(self, page: int = 1, size: int = 20):
            self.page = page
            self.size = size

    def verify_key(x_key: str = fw.Header()):
        if x_key != "secret":
            raise fw.HTTPException(status_code=403, detail="bad key")

    app = fw.FastAPI()
    router = fw.APIRouter(prefix="/items", tags=["items"], dependencies=[fw.Depends(verify_key)])

    @router.get("/{item_id}")
    def read_item(item_id: int, commons: dict = fw.Depends(common)):
        return {"item_id": item_id, **commons}

    @router.post("/")
    async def create_item(item: Item, user: Annotated[str, fw.Depends(async_user)]):
        return {"item": item.model_dump(), "user": user}

    app.include_router(router)

    @app.get("/nested")
    def nested(value: str = fw.Depends(level3)):
        return {"value": value}

    @app.get("/pager")
    def pager(p: Pager = fw.Depends()):
        return {"page": p.page, "size": p.size}

    @app.get("/pager-annotated")
    def pager_annotated(p: Annotated[Pager, fw.Depends(Pager)]):
        return {"page": p.page, "size": p.size}

    @app.get("/status")
    def set_status(response: fw.Response):
        response.status_code = 201
        response.headers["x-custom"] = "yes"
        response.set_cookie("session", "abc")
        return {"ok": True}

    return app


REQUESTS = [
    ("GET", "/items/3?q=x", {"x-key": "secret"}, None),
    ("GET", "/items/3?limit=500", {"x-key": "secret"}, None),
    ("GET", "/items/3", {"x-key": "wrong"}, None),
    ("GET", "/items/3", {}, None),
    ("POST", "/items/", {"x-key": "secret", "x-user": "ann"}, {"name": "a", "price": 1.5}),
    ("POST", "/items/", {"x-key": "secret"}, {"name": "a"}),
    ("GET", "/nested?token=t", {}, None),
    ("GET", "/nested", {}, None),
    ("GET", "/pager?page=3", {}, None),
    ("GET", "/pager?size=x", {}, None),
    ("GET", "/pager-annotated?page=2&size=5", {}, None),
    ("GET", "/status", {}, None),
]


@pytest.fixture(scope="module")
def clients():
    fa = fastapi.testclient.TestClient(build_app(fastapi, []))
    ig = ignyx.testclient.TestClient(build_app(ignyx, []))
    yield fa, ig
    ig.close()


@pytest.mark.parametrize("method,url,headers,body", REQUESTS)
def test_dependency_responses_match_fastapi(clients, method, url, headers, body):
    fa, ig = clients
    expected = fa.request(method, url, headers=headers, json=body)
    actual = ig.request(method, url, headers=headers, json=body)
    assert actual.status_code == expected.status_code
    assert actual.content == expected.content
    for header in ("content-type", "x-custom", "set-cookie"):
        assert actual.headers.get(header) == expected.headers.get(header)


def test_dependency_is_called_once_per_request_when_cached():
    events: list = []
    with ignyx.testclient.TestClient(build_app(ignyx, events)) as client:
        assert client.get("/nested?token=t").json() == {"value": "t23t"}
    assert events == ["level1"]


def test_use_cache_false_calls_again():
    calls = []

    def dep():
        calls.append(1)
        return len(calls)

    app = ignyx.Ignyx()

    @app.get("/")
    def handler(a=ignyx.Depends(dep), b=ignyx.Depends(dep, use_cache=False)):
        return [a, b]

    with ignyx.testclient.TestClient(app) as client:
        assert client.get("/").json() == [1, 2]


def test_dependency_overrides_apply_on_next_request():
    def real():
        return "real"

    app = ignyx.Ignyx()

    @app.get("/")
    def handler(v: str = ignyx.depends.Depends(real)):
        return {"v": v}

    with ignyx.testclient.TestClient(app) as client:
        assert client.get("/").json() == {"v": "real"}
        app.dependency_overrides[real] = lambda: "fake"
        assert client.get("/").json() == {"v": "fake"}
        app.dependency_overrides.clear()
        assert client.get("/").json() == {"v": "real"}


def test_app_level_dependencies_run_for_every_route():
    seen = []

    def audit(x_trace: str = ignyx.Header("none")):
        seen.append(x_trace)

    app = ignyx.Ignyx(dependencies=[ignyx.Depends(audit)])

    @app.get("/a")
    def a():
        return "a"

    with ignyx.testclient.TestClient(app) as client:
        client.get("/a", headers={"x-trace": "t1"})
        client.get("/a")
    assert seen == ["t1", "none"]


def _order_app(events: list):
    app = ignyx.Ignyx()

    def resource():
        events.append("setup")
        try:
            yield "res"
        except ValueError:
            events.append("saw-error")
            raise
        finally:
            events.append("cleanup")

    async def async_resource():
        events.append("async-setup")
        yield "ares"
        events.append("async-cleanup")

    def slow_task(name: str):
        time.sleep(0.2)
        events.append(f"task:{name}")

    async def async_task(name: str):
        events.append(f"async-task:{name}")

    @app.get("/order")
    def order(r: str = ignyx.Depends(resource), tasks: ignyx.depends.BackgroundTask = None):
        events.append("handler")
        tasks.add(slow_task, "one")
        tasks.add_task(async_task, name="two")
        return {"r": r}

    @app.get("/async-order")
    async def async_order(r: str = ignyx.Depends(async_resource)):
        events.append("handler")
        return {"r": r}

    @app.get("/raises")
    def raises(r: str = ignyx.Depends(resource)):
        raise ValueError("boom")

    @app.get("/bad-task")
    def bad_task(tasks: ignyx.BackgroundTasks):
        tasks.add_task(lambda: 1 / 0)
        tasks.add_task(events.append, "after-bad")
        return "ok"

    @app.get("/response-background")
    def response_background():
        from ignyx.background import BackgroundTask
        from ignyx.responses import JSONResponse

        return JSONResponse({"ok": 1}, background=BackgroundTask(events.append, "bg"))

    return app


def _wait_for(events: list, item: str, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while item not in events and time.monotonic() < deadline:
        time.sleep(0.01)


def test_order_of_events_seen_from_a_live_server():
    """setup -> handler -> response sent -> background tasks -> yield cleanup, in order
    (FastAPI's: the request's exit stack closes after the response and its tasks)."""
    events: list = []
    server = Server(_order_app(events), "127.0.0.1", 0)
    server.start_in_thread()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /order HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = sock.recv(65536)
            events.append("client-got-response")
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK")
        assert data.endswith(b'{"r":"res"}')
        _wait_for(events, "cleanup")
    finally:
        server.shutdown()
    assert events.index("client-got-response") < events.index("task:one")
    assert [e for e in events if e != "client-got-response"] == [
        "setup",
        "handler",
        "task:one",
        "async-task:two",
        "cleanup",
    ]


def test_async_yield_dependency_cleans_up_after_response():
    events: list = []
    with ignyx.testclient.TestClient(_order_app(events)) as client:
        assert client.get("/async-order").json() == {"r": "ares"}
        _wait_for(events, "async-cleanup")
    assert events == ["async-setup", "handler", "async-cleanup"]


def test_handler_exception_is_thrown_into_yield_dependency():
    events: list = []
    app = _order_app(events)
    with ignyx.testclient.TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/raises")
        assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert events == ["setup", "saw-error", "cleanup"]


def test_failing_background_task_does_not_affect_response_or_later_tasks():
    events: list = []
    app = _order_app(events)
    with ignyx.testclient.TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/bad-task")
        assert response.json() == "ok"
        _wait_for(events, "after-bad")
        assert client.get("/response-background").json() == {"ok": 1}
        _wait_for(events, "bg")
    assert events == ["after-bad", "bg"]


def test_exception_handlers_by_class_and_status_code():
    class TeapotError(Exception):
        pass

    app = ignyx.Ignyx()

    @app.exception_handler(TeapotError)
    async def teapot(request, exc):
        from ignyx.responses import JSONResponse

        return JSONResponse({"teapot": request.url.path}, status_code=418)

    @app.exception_handler(404)
    def not_found(request, exc):
        from ignyx.responses import PlainTextResponse

        return PlainTextResponse(f"nothing at {request.url.path}", status_code=404)

    @app.exception_handler(ignyx.exceptions.RequestValidationError)
    def invalid(request, exc):
        from ignyx.responses import JSONResponse

        return JSONResponse({"errors": len(exc.errors())}, status_code=400)

    @app.exception_handler(ignyx.HTTPException)
    def http_error(request, exc):
        from ignyx.responses import JSONResponse

        return JSONResponse({"custom": exc.detail}, status_code=exc.status_code)

    @app.get("/teapot")
    def raise_teapot():
        raise TeapotError()

    @app.get("/missing")
    def missing():
        raise ignyx.HTTPException(404, "gone")

    @app.get("/forbidden")
    def forbidden():
        raise ignyx.HTTPException(403, "no")

    @app.get("/int")
    def needs_int(n: int):
        return n

    with ignyx.testclient.TestClient(app) as client:
        assert client.get("/teapot").status_code == 418
        assert client.get("/teapot").json() == {"teapot": "/teapot"}
        assert client.get("/missing").text == "nothing at /missing"
        assert client.get("/forbidden").json() == {"custom": "no"}
        assert client.get("/int?n=x").json() == {"errors": 1}
        assert client.get("/int?n=x").status_code == 400


def test_lifespan_state_and_startup_on_the_request_loop():
    events: list = []

    @asynccontextmanager
    async def lifespan(app):
        events.append("startup")
        # A loop-bound object, as an async client or pool is.
        queue: asyncio.Queue = asyncio.Queue()
        yield {"queue": queue, "loop": asyncio.get_running_loop()}
        events.append("shutdown")

    app = ignyx.Ignyx(lifespan=lifespan)

    @app.on_event("startup")
    async def on_startup():
        events.append("on_startup")

    @app.on_event("shutdown")
    def on_shutdown():
        events.append("on_shutdown")

    @app.get("/use")
    async def use(request: ignyx.Request):
        await request.state.queue.put(1)
        same_loop = request.state.loop is asyncio.get_running_loop()
        return {"size": request.state.queue.qsize(), "same_loop": same_loop}

    with ignyx.testclient.TestClient(app) as client:
        # With a lifespan, the on_event handlers are not run, as FastAPI documents.
        assert events == ["startup"]
        assert client.get("/use").json() == {"size": 1, "same_loop": True}
    assert events == ["startup", "shutdown"]


def test_nested_routers_with_prefixes_tags_and_dependencies():
    calls = []

    def outer_dep():
        calls.append("outer")

    def inner_dep():
        calls.append("inner")

    inner = ignyx.APIRouter(prefix="/inner", dependencies=[ignyx.Depends(inner_dep)])

    @inner.get("/leaf")
    def leaf():
        return "leaf"

    outer = ignyx.APIRouter(prefix="/outer")
    outer.include_router(inner)
    app = ignyx.Ignyx()
    app.include_router(outer, prefix="/v1", dependencies=[ignyx.Depends(outer_dep)])

    with ignyx.testclient.TestClient(app) as client:
        assert client.get("/v1/outer/inner/leaf").json() == "leaf"
    assert calls == ["outer", "inner"]


def test_sync_generator_dependency_cleanup_runs_off_the_request_thread():
    done = threading.Event()

    def dep():
        yield 1
        done.set()

    app = ignyx.Ignyx()

    @app.get("/")
    def handler(x: int = ignyx.Depends(dep)):
        return x

    with ignyx.testclient.TestClient(app) as client:
        assert client.get("/").json() == 1
        assert done.wait(3)


def test_test_client_reraises_unhandled_exceptions_like_starlettes():
    app = ignyx.Ignyx()

    @app.get("/boom")
    def boom():
        raise LookupError("from the handler")

    with ignyx.testclient.TestClient(app) as client:
        with pytest.raises(LookupError, match="from the handler"):
            client.get("/boom")
        # The server answered 500 and keeps serving.
        with ignyx.testclient.TestClient(app, raise_server_exceptions=False) as quiet:
            assert quiet.get("/boom").status_code == 500
