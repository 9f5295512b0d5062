"""The app as an ASGI 3 application: the same app on FastAPI and on Ignyx, both called
through ``httpx.ASGITransport``, give the same answers; lifespan through
``asgi_lifespan.LifespanManager``; WebSockets through Starlette's own TestClient (an ASGI
client); and the app served over a socket by uvicorn, hypercorn and granian."""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from conftest import COMPARED_HEADERS, framework
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    price: float


def build(fw):
    app = fw.FastAPI()
    responses = fw.responses

    @app.get("/items/{item_id}")
    def read_item(item_id: int, q: str | None = None):
        return {"item_id": item_id, "q": q}

    @app.get("/async/{name}")
    async def read_async(name: str, request: fw.Request, limit: int = 10):
        return {"name": name, "limit": limit, "agent": request.headers.get("user-agent")}

    @app.post("/items", status_code=201)
    def create_item(item: Item):
        return item

    @app.get("/teapot")
    async def teapot():
        raise fw.HTTPException(418, "I'm a teapot", headers={"x-why": "tea"})

    @app.get("/text", response_class=responses.PlainTextResponse)
    def text():
        return "plain words"

    @app.get("/stream")
    def stream():
        def chunks():
            yield "one,"
            yield b"two"

        return responses.StreamingResponse(chunks(), media_type="text/csv")

    @app.get("/cookie")
    def cookie(response: fw.Response, session: str | None = fw.Cookie(None)):
        response.set_cookie("seen", "yes")
        return {"session": session}

    @app.get("/slash/")
    def slash():
        return {"slash": True}

    return app


REQUESTS = [
    ("GET", "/items/7", {}),
    ("GET", "/items/7?q=hello%20world", {}),
    ("GET", "/items/seven", {}),
    ("GET", "/async/ada?limit=3", {"headers": {"user-agent": "probe/1"}}),
    ("GET", "/async/ada?limit=many", {}),
    ("POST", "/items", {"json": {"name": "tea", "price": 2.5}}),
    ("POST", "/items", {"json": {"name": "tea"}}),
    ("POST", "/items", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
    ("GET", "/teapot", {}),
    ("GET", "/text", {}),
    ("GET", "/stream", {}),
    ("GET", "/cookie", {"headers": {"cookie": "session=abc"}}),
    ("GET", "/missing", {}),
    ("DELETE", "/items/7", {}),
    ("GET", "/slash", {}),
]


async def _call_both(method, url, kwargs):
    answers = []
    for name in ("fastapi", "ignyx"):
        app = build(framework(name))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answers.append(await client.request(method, url, **kwargs))
    return answers


@pytest.mark.parametrize(("method", "url", "kwargs"), REQUESTS, ids=lambda v: str(v)[:40])
def test_asgi_answers_match_fastapi(method, url, kwargs):
    theirs, ours = asyncio.run(_call_both(method, url, kwargs))
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content)
    for header in (*COMPARED_HEADERS, "content-length", "x-why"):
        assert ours.headers.get(header) == theirs.headers.get(header), header
    assert ours.headers.get_list("set-cookie") == theirs.headers.get_list("set-cookie")


def test_lifespan_runs_the_hooks_and_its_state_reaches_requests():
    import ignyx

    events = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("startup")
        yield {"pool": "the-pool"}
        events.append("shutdown")

    app = ignyx.FastAPI(lifespan=lifespan)

    @app.get("/pool")
    async def pool(request: ignyx.Request):
        return {"pool": request.state.pool}

    async def scenario():
        async with LifespanManager(app) as manager:
            assert events == ["startup"]
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/pool")
        return response

    response = asyncio.run(scenario())
    assert response.json() == {"pool": "the-pool"}
    assert events == ["startup", "shutdown"]


def test_a_failing_startup_is_reported_to_the_server():
    import ignyx

    app = ignyx.FastAPI()

    @app.on_event("startup")
    async def broken():
        raise RuntimeError("no database")

    async def scenario():
        async with LifespanManager(app):
            pass

    with pytest.raises(RuntimeError, match="no database"):
        asyncio.run(scenario())


def test_websockets_through_starlettes_asgi_test_client():
    import ignyx
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    app = ignyx.FastAPI()

    @app.websocket("/echo/{room}")
    async def echo(websocket: ignyx.WebSocket, room: str):
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(f"{room}: {text}")

    @app.websocket("/private")
    async def private(websocket: ignyx.WebSocket):
        await websocket.close(code=1008)

    with TestClient(app) as client:
        with client.websocket_connect("/echo/lobby") as ws:
            ws.send_text("hello")
            assert ws.receive_text() == "lobby: hello"
            ws.send_text("again")
            assert ws.receive_text() == "lobby: again"
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/private"):
                pass
        assert refused.value.code == 1008
        with pytest.raises(WebSocketDisconnect):
            with client.websocket_connect("/nowhere"):
                pass


# -- a live uvicorn --------------------------------------------------------------------

APP_SOURCE = """
import asyncio
from contextlib import asynccontextmanager

from ignyx import FastAPI, Request, WebSocket


@asynccontextmanager
async def lifespan(app):
    yield {"greeting": "served by uvicorn"}


app = FastAPI(lifespan=lifespan)


@app.get("/users/{user_id}")
def user(user_id: int):
    return {"user_id": user_id}


@app.get("/hello")
async def hello(request: Request):
    await asyncio.sleep(0.01)
    return {"greeting": request.state.greeting}


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    message = await websocket.receive_text()
    await websocket.send_text(message.upper())
    await websocket.close()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVERS = {
    "uvicorn": ["-m", "uvicorn", "uvicorn_app:app", "--port", "{port}"],
    "hypercorn": ["-m", "hypercorn", "uvicorn_app:app", "--bind", "127.0.0.1:{port}"],
    "granian": [
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "uvicorn_app:app",
    ],
}


@pytest.fixture(params=sorted(SERVERS))
def uvicorn_server(request, tmp_path: Path):
    """The app served by a real ASGI server (uvicorn, hypercorn, granian) over a socket."""
    (tmp_path / "uvicorn_app.py").write_text(textwrap.dedent(APP_SOURCE))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    command = [part.format(port=port) for part in SERVERS[request.param]]
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/users/1", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            output = process.communicate(timeout=10)[0].decode()
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0].decode()
        assert "Traceback" not in output, output


def test_asgi_servers_serve_the_app_over_a_socket(uvicorn_server):
    assert httpx.get(uvicorn_server + "/hello").json() == {"greeting": "served by uvicorn"}
    assert httpx.get(uvicorn_server + "/users/42").json() == {"user_id": 42}
    bad = httpx.get(uvicorn_server + "/users/abc")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["path", "user_id"]
    assert httpx.get(uvicorn_server + "/nowhere").status_code == 404


def test_asgi_servers_serve_websockets(uvicorn_server):
    from websockets.sync.client import connect

    with connect(uvicorn_server.replace("http", "ws") + "/ws") as ws:
        ws.send("shout")
        assert ws.recv() == "SHOUT"


def _lambda_event(path: str, query: str = "", method: str = "GET", body: str = "") -> dict:
    """An API Gateway (HTTP API, payload 2.0) event, as AWS Lambda hands it to Mangum."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "api.example.com", "content-type": "application/json"},
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "lambda-test",
            },
            "domainName": "api.example.com",
            "stage": "$default",
            "requestId": "request-1",
            "accountId": "123456789012",
            "apiId": "api",
            "domainPrefix": "api",
            "time": "05/Dec/2026:04:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    "event",
    [
        _lambda_event("/items/7", "q=lambda"),
        _lambda_event("/items/seven"),
        _lambda_event("/items", method="POST", body='{"name": "tea", "price": 2}'),
        _lambda_event("/missing"),
    ],
    ids=["get", "invalid", "post", "missing"],
)
def test_mangum_runs_the_app_on_aws_lambda_as_it_runs_fastapi(event):
    from mangum import Mangum

    class Context:
        pass

    answers = [
        Mangum(build(framework(name)), lifespan="off")(dict(event), Context())
        for name in ("fastapi", "ignyx")
    ]
    theirs, ours = answers
    assert ours["statusCode"] == theirs["statusCode"]
    assert ours["body"] == theirs["body"]
    assert ours["headers"].get("content-type") == theirs["headers"].get("content-type")


def test_a_body_over_max_body_size_is_refused_under_an_asgi_server_as_on_the_engine():
    import ignyx
    from ignyx.testclient import TestClient

    app = ignyx.FastAPI(max_body_size=10)

    @app.post("/echo")
    async def echo(request: ignyx.Request):
        return {"size": len(await request.body())}

    async def chunked():
        yield b"x" * 8
        yield b"x" * 8

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (
                await client.post("/echo", content=b"x" * 20),
                await client.post("/echo", content=chunked()),
                await client.post("/echo", content=b"x" * 5),
                await client.post("/elsewhere", content=b"x" * 20),
            )

    declared, streamed, small, unrouted = asyncio.run(scenario())
    with TestClient(app) as client:
        native = client.post("/echo", content=b"x" * 20)
    # A declared Content-Length is refused before reading, in plain text; a chunked body
    # that goes over, with FastAPI's JSON body.
    assert (declared.status_code, declared.content) == (native.status_code, native.content)
    assert declared.content == b"Content Too Large"
    assert (streamed.status_code, streamed.json()) == (413, {"detail": "Content Too Large"})
    for refused in (declared, streamed):
        assert refused.headers["content-length"] == str(len(refused.content))
    assert small.json() == {"size": 5}
    assert unrouted.status_code == 404
