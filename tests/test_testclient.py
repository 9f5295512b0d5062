"""Issue 21, item 7: ``ignyx.testclient.TestClient`` behaves as Starlette's, which FastAPI
users' tests are written against. Each test runs the same app and the same assertions
with FastAPI's TestClient and with Ignyx's (the ``fw`` fixture), or compares the two
answers (``differential``)."""

import asyncio
import importlib
import subprocess
import sys
import textwrap
import time
from contextlib import asynccontextmanager

import pytest
from conftest import differential


def build(fw):
    BackgroundTasks = importlib.import_module(fw.name).BackgroundTasks
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app):
        events.append("startup")
        yield
        events.append("shutdown")

    app = fw.FastAPI(lifespan=lifespan)
    app.state.events = events

    def slow_task(name: str):
        time.sleep(0.2)
        events.append(name)

    async def slow_async_task(name: str):
        await asyncio.sleep(0.2)
        events.append(name)

    @app.get("/background")
    def background(tasks: BackgroundTasks, kind: str = "sync"):
        tasks.add_task(slow_task if kind == "sync" else slow_async_task, f"{kind} task done")
        return {"queued": True}

    @app.get("/streamed-with-background")
    def streamed():
        def chunks():
            yield b"one,"
            yield b"two"

        tasks = BackgroundTasks()
        tasks.add_task(slow_task, "stream task done")
        return fw.responses.StreamingResponse(chunks(), background=tasks)

    @app.get("/who")
    def who(request: fw.Request):
        return {
            "url": str(request.url),
            "base_url": str(request.base_url),
            "host": request.headers["host"],
            "user_agent": request.headers["user-agent"],
            "team": request.headers.get("x-team"),
            "cookies": request.cookies,
        }

    @app.get("/client")
    def client(request: fw.Request):
        return {"host": request.client.host, "port": request.client.port}

    @app.get("/login")
    def login(response: fw.Response):
        response.set_cookie("session", "s3cret")
        return {"logged_in": True}

    @app.get("/redirect")
    def redirect():
        return fw.responses.RedirectResponse("/who")

    @app.websocket("/closes")
    async def closes(websocket: fw.WebSocket):
        await websocket.accept()
        await websocket.send_text("bye")
        await websocket.close(code=4001, reason="done here")

    @app.websocket("/refuses")
    async def refuses(websocket: fw.WebSocket):
        await websocket.close(code=1008)

    @app.websocket("/needs-token")
    async def needs_token(websocket: fw.WebSocket, token: str):
        await websocket.accept()
        await websocket.send_text(token)

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


# --- background tasks ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_background_tasks_have_run_when_the_request_returns(fw, kind):
    app = build(fw)
    with fw.TestClient(app) as client:
        assert client.get("/background", params={"kind": kind}).json() == {"queued": True}
        assert app.state.events[-1] == f"{kind} task done"


def test_a_streamed_responses_background_has_run_once_it_is_closed(fw):
    app = build(fw)
    with fw.TestClient(app) as client:
        with client.stream("GET", "/streamed-with-background") as response:
            assert response.read() == b"one,two"
        assert app.state.events[-1] == "stream task done"


# --- the request the app sees -------------------------------------------------------------


def test_the_request_url_is_on_testserver(clients):
    response = differential(clients, "GET", "/who?q=1")
    assert response.json()["url"] == "http://testserver/who?q=1"
    assert response.json()["base_url"] == "http://testserver/"
    assert response.json()["host"] == "testserver"
    assert response.json()["user_agent"] == "testclient"


def test_the_request_client_is_testclient_port_50000(clients):
    assert differential(clients, "GET", "/client").json() == {"host": "testclient", "port": 50000}


def test_a_named_asgi_client_reaches_the_handler():
    # Starlette's TestClient drives the app as ASGI with scope["client"] a name, not an IP.
    import ignyx
    from starlette.testclient import TestClient as StarletteClient

    app = ignyx.FastAPI()

    @app.get("/client")
    def client(request: ignyx.Request):
        return {"host": request.client.host, "port": request.client.port}

    @app.websocket("/ws")
    async def ws(websocket: ignyx.WebSocket):
        await websocket.accept()
        await websocket.send_json(list(websocket.client))
        await websocket.close()

    with StarletteClient(app) as starlette_client:
        assert starlette_client.get("/client").json() == {"host": "testclient", "port": 50000}
    with ignyx.testclient.TestClient(app) as ours:
        with ours.websocket_connect("/ws") as session:
            assert session.receive_json() == ["testclient", 50000]


def test_the_response_keeps_the_url_the_test_asked_for(fw):
    with fw.TestClient(build(fw)) as client:
        response = client.get("/redirect")
        assert str(response.url) == "http://testserver/who"
        assert [str(r.url) for r in response.history] == ["http://testserver/redirect"]


# --- client options -------------------------------------------------------------------------


def test_cookies_persist_across_requests(fw):
    with fw.TestClient(build(fw), cookies={"theme": "dark"}) as client:
        assert client.get("/who").json()["cookies"] == {"theme": "dark"}
        assert client.get("/login").json() == {"logged_in": True}
        assert client.get("/who").json()["cookies"] == {"theme": "dark", "session": "s3cret"}
        assert client.cookies["session"] == "s3cret"


def test_base_url_is_where_relative_urls_go(fw):
    with fw.TestClient(build(fw), base_url="http://example.org/") as client:
        seen = client.get("who").json()
    assert (seen["url"], seen["host"]) == ("http://example.org/who", "example.org")


def test_redirects_are_followed_unless_the_client_says_not(fw):
    with fw.TestClient(build(fw)) as client:
        assert client.get("/redirect").json()["url"] == "http://testserver/who"
        assert client.get("/redirect", follow_redirects=False).status_code == 307
    with fw.TestClient(build(fw), follow_redirects=False) as client:
        response = client.get("/redirect")
        assert (response.status_code, response.headers["location"]) == (307, "/who")


def test_client_headers_go_with_every_request(fw):
    with fw.TestClient(build(fw), headers={"x-team": "blue"}) as client:
        assert client.get("/who").json()["team"] == "blue"
        assert client.get("/who", headers={"x-team": "red"}).json()["team"] == "red"


# --- lifespan -------------------------------------------------------------------------------


def test_the_lifespan_runs_around_the_with_block(fw):
    app = build(fw)
    with fw.TestClient(app) as client:
        assert app.state.events == ["startup"]
        client.get("/who")
        assert app.state.events == ["startup"]
    assert app.state.events == ["startup", "shutdown"]


# --- WebSockets -----------------------------------------------------------------------------


@pytest.mark.parametrize("receive", ["receive_text", "receive_bytes", "receive_json"])
def test_a_websocket_closed_by_the_server_raises_disconnect_on_the_next_receive(fw, receive):
    with fw.TestClient(build(fw)) as client, client.websocket_connect("/closes") as ws:
        assert ws.receive_text() == "bye"
        with pytest.raises(fw.WebSocketDisconnect) as closed:
            getattr(ws, receive)()
    assert (closed.value.code, closed.value.reason) == (4001, "done here")


def test_a_websocket_the_server_refuses_raises_disconnect_with_its_code(fw):
    with fw.TestClient(build(fw)) as client:
        with pytest.raises(fw.WebSocketDisconnect) as refused:
            with client.websocket_connect("/refuses"):
                pass  # pragma: no cover - not reached
        assert refused.value.code == 1008
        with pytest.raises(fw.WebSocketDisconnect) as invalid:
            with client.websocket_connect("/needs-token"):
                pass  # pragma: no cover - not reached
        assert invalid.value.code == 1008
        with client.websocket_connect("/needs-token?token=t0k") as ws:
            assert ws.receive_text() == "t0k"


# --- what it needs installed ------------------------------------------------------------------


def test_the_testclient_works_without_the_websockets_package(tmp_path):
    """``pip install ignyx httpx`` is enough: WebSocket sessions use a client of Ignyx's own."""
    script = tmp_path / "no_websockets.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys

            sys.modules["websockets"] = None  # any `import websockets` now fails

            from ignyx import FastAPI, WebSocket
            from ignyx.testclient import TestClient

            app = FastAPI()

            @app.websocket("/echo")
            async def echo(websocket: WebSocket):
                await websocket.accept()
                await websocket.send_text("echo: " + await websocket.receive_text())

            with TestClient(app) as client, client.websocket_connect("/echo") as ws:
                ws.send_text("hi")
                assert ws.receive_text() == "echo: hi"
            assert not any(name.startswith("websockets.") for name in sys.modules)
            print("ok")
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr
