"""Faults in user code never take the server down: an exception, ``SystemExit``,
``KeyboardInterrupt`` or ``RecursionError`` raised by a handler, a dependency, a background
task, a streamed body, a middleware or a WebSocket handler is answered (500, or a cut body,
or a 1011 close), logged, and the next request is served. (A ``SystemExit`` printed the
usual way would end the process: CPython treats printing one as a request to exit.)"""

import asyncio
import subprocess
import sys

import httpx
import ignyx
import pytest
from conftest import live_server
from ignyx.middleware.base import BaseHTTPMiddleware


def _recurse(depth: int = 0) -> int:
    return _recurse(depth + 1)


def _raise(kind: str) -> None:
    if kind == "exit":
        raise SystemExit(3)
    if kind == "interrupt":
        raise KeyboardInterrupt
    if kind == "recursion":
        _recurse()
    raise ValueError("broken")


KINDS = ["error", "exit", "interrupt", "recursion"]


def build() -> ignyx.Ignyx:
    app = ignyx.Ignyx()
    ran: list[str] = []
    app.state.ran = ran

    @app.get("/ok")
    def ok():
        return {"ok": True}

    @app.get("/sync/{kind}")
    def sync_handler(kind: str):
        _raise(kind)

    @app.get("/async/{kind}")
    async def async_handler(kind: str):
        await asyncio.sleep(0)
        _raise(kind)

    def failing_dependency(kind: str):
        _raise(kind)

    @app.get("/dependency/{kind}")
    def with_dependency(value=ignyx.Depends(failing_dependency)):
        return {"never": True}

    @app.get("/background/{kind}")
    def background(kind: str, tasks: ignyx.BackgroundTasks):
        tasks.add_task(_raise, kind)
        tasks.add_task(ran.append, kind)  # not run: the task before it failed
        return {"answered": True}

    @app.get("/stream/{kind}")
    def stream(kind: str):
        def chunks():
            yield b"first,"
            _raise(kind)

        return ignyx.responses.StreamingResponse(chunks(), media_type="text/plain")

    @app.websocket("/ws/{kind}")
    async def websocket(ws: ignyx.WebSocket, kind: str):
        await ws.accept()
        await ws.receive_text()
        _raise(kind)

    return app


def build_with_middleware() -> ignyx.Ignyx:
    app = build()

    async def failing(request, call_next):
        kind = request.query_params.get("fail")
        if kind:
            _raise(kind)
        return await call_next(request)

    app.add_middleware(BaseHTTPMiddleware, dispatch=failing)
    return app


@pytest.fixture(scope="module", params=["plain", "middleware"])
def base(request):
    app = build() if request.param == "plain" else build_with_middleware()
    with live_server(app) as server:
        yield f"http://127.0.0.1:{server.port}"


def _still_serving(base: str) -> None:
    assert httpx.get(base + "/ok", timeout=5).json() == {"ok": True}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["sync", "async", "dependency"])
def test_a_fault_in_a_handler_or_dependency_is_a_500(base, where, kind):
    response = httpx.get(f"{base}/{where}/{kind}", timeout=5)
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    _still_serving(base)


@pytest.mark.parametrize("kind", KINDS)
def test_a_fault_in_a_background_task_is_logged_after_the_answer(base, kind):
    assert httpx.get(f"{base}/background/{kind}", timeout=5).json() == {"answered": True}
    _still_serving(base)


@pytest.mark.parametrize("kind", KINDS)
def test_a_fault_mid_stream_cuts_the_body_cleanly(base, kind):
    with httpx.Client(timeout=5) as client:
        with pytest.raises(httpx.HTTPError):
            client.get(f"{base}/stream/{kind}").read()
    _still_serving(base)


@pytest.mark.parametrize("kind", KINDS)
def test_a_fault_in_a_websocket_handler_closes_with_1011(base, kind):
    from websockets.exceptions import ConnectionClosedError
    from websockets.sync.client import connect

    with connect(base.replace("http", "ws") + f"/ws/{kind}", open_timeout=5) as ws:
        ws.send("go")
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    _still_serving(base)


@pytest.mark.parametrize("kind", KINDS)
def test_a_fault_in_a_middleware_is_a_500(kind):
    with live_server(build_with_middleware()) as server:
        base = f"http://127.0.0.1:{server.port}"
        response = httpx.get(f"{base}/ok?fail={kind}", timeout=5)
        assert response.status_code == 500
        _still_serving(base)


def test_a_testclient_never_closed_does_not_crash_the_interpreter_at_exit(tmp_path):
    """Its server's thread is stopped before the interpreter finalizes (it aborted, about
    one exit in two, when the thread outlived that point)."""
    script = tmp_path / "unclosed.py"
    script.write_text(
        "import ignyx\nfrom ignyx.testclient import TestClient\n\n"
        "client = TestClient(ignyx.FastAPI())\nassert client.get('/').status_code == 404\n"
    )
    for _ in range(6):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()
