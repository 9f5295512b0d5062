"""Issue 21, item 6: an exception no handler takes, raised by a handler (sync or async), a
dependency, a ``yield`` dependency's code after the yield or a background task.

Before the response, the client gets FastAPI's 500 (Starlette's ServerErrorMiddleware's
plain-text ``Internal Server Error``); after it, the response as sent. Either way the
traceback is logged with the exception's message (uvicorn logs "Exception in ASGI
application" on ``uvicorn.error``; Ignyx logs on ``ignyx.error``, at ERROR, with the
exception's traceback), and the server serves the next request, on the same keep-alive
connection too. The TestClient raises the exception in the test, as Starlette's does,
unless ``raise_server_exceptions=False``.
"""

import http.client
import importlib
import json
import logging

import httpx
import pytest
from conftest import differential, eventually, framework, live_server


class Boom(Exception):
    pass


def build(fw):
    BackgroundTasks = importlib.import_module(fw.name).BackgroundTasks
    app = fw.FastAPI()

    @app.get("/sync")
    def sync_handler():
        raise Boom("sync handler failed")

    @app.get("/async")
    async def async_handler():
        raise Boom("async handler failed")

    def failing_dependency():
        raise Boom("dependency failed")

    @app.get("/dependency")
    def with_dependency(value: str = fw.Depends(failing_dependency)):
        return {"never": value}

    async def failing_async_dependency():
        raise Boom("async dependency failed")

    @app.get("/async-dependency")
    async def with_async_dependency(value: str = fw.Depends(failing_async_dependency)):
        return {"never": value}

    def failing_exit():
        yield "opened"
        raise Boom("code after yield failed")

    @app.get("/after-yield")
    def after_yield(value: str = fw.Depends(failing_exit)):
        return {"value": value}

    def failing_task():
        raise Boom("background task failed")

    @app.get("/background")
    def background(tasks: BackgroundTasks):
        tasks.add_task(failing_task)
        return {"answered": True}

    @app.get("/ok")
    def ok():
        return {"ok": True}

    return app


# Raised before the response: the client gets the 500.
BEFORE = {
    "/sync": "sync handler failed",
    "/async": "async handler failed",
    "/dependency": "dependency failed",
    "/async-dependency": "async dependency failed",
}
# Raised once the response is on its way: the client gets it as the handler made it.
AFTER = {
    "/after-yield": ("code after yield failed", {"value": "opened"}),
    "/background": ("background task failed", {"answered": True}),
}
MESSAGES = {**BEFORE, **{url: message for url, (message, _) in AFTER.items()}}


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    """The records of ``ignyx.error`` at ERROR that carry the traceback of `message`."""
    return [
        record
        for record in caplog.records
        if record.name == "ignyx.error"
        and record.levelno == logging.ERROR
        and record.exc_info is not None
        and isinstance(record.exc_info[1], Boom)
        and str(record.exc_info[1]) == message
    ]


def assert_traceback_logged(caplog: pytest.LogCaptureFixture, message: str) -> None:
    assert eventually(lambda: logged(caplog, message)), f"no traceback logged for {message!r}"
    assert "Traceback (most recent call last)" in caplog.text
    assert f"Boom: {message}" in caplog.text


# --- through the TestClient ---------------------------------------------------------------


@pytest.mark.parametrize("url", BEFORE)
def test_an_exception_before_the_response_is_fastapis_500(clients, url):
    response = differential(clients, "GET", url)
    assert (response.status_code, response.content) == (500, b"Internal Server Error")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert differential(clients, "GET", "/ok").json() == {"ok": True}


@pytest.mark.parametrize("url", AFTER)
def test_an_exception_after_the_response_leaves_the_response_as_sent(clients, url):
    response = differential(clients, "GET", url)
    assert (response.status_code, response.json()) == (200, AFTER[url][1])
    assert differential(clients, "GET", "/ok").json() == {"ok": True}


@pytest.mark.parametrize("url", MESSAGES)
def test_the_traceback_is_logged_with_the_exceptions_message(clients, url, caplog):
    with caplog.at_level(logging.ERROR, logger="ignyx.error"):
        clients.ignyx.get(url)
        # The TestClient returns once background work is done: the record is there already.
        assert logged(caplog, MESSAGES[url])
    assert_traceback_logged(caplog, MESSAGES[url])


@pytest.mark.parametrize("url", MESSAGES)
def test_the_testclient_raises_the_exception_in_the_test_by_default(fw, url, caplog):
    with fw.TestClient(build(fw)) as client:
        with pytest.raises(Boom, match=MESSAGES[url]):
            client.get(url)
        assert client.get("/ok").json() == {"ok": True}


def build_with_failing_handler(fw):
    app = fw.FastAPI()

    @app.exception_handler(Boom)
    def failing_handler(request: fw.Request, exc: Boom):
        raise RuntimeError("the exception handler failed too")

    @app.get("/handled-badly")
    def handled_badly():
        raise Boom("handler failed")

    return app


def test_an_exception_handler_that_raises_gives_fastapis_500(dual):
    response = differential(dual(build_with_failing_handler), "GET", "/handled-badly")
    assert (response.status_code, response.content) == (500, b"Internal Server Error")


# --- on a real socket ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with live_server(build(framework("ignyx"))) as running:
        yield running


def expected_answer(url: str) -> tuple[int, str, bytes]:
    if url in BEFORE:
        return 500, "text/plain; charset=utf-8", b"Internal Server Error"
    return 200, "application/json", json.dumps(AFTER[url][1], separators=(",", ":")).encode()


@pytest.mark.parametrize("url", MESSAGES)
def test_on_the_wire_the_same_connection_serves_the_next_request(server, url, caplog):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        with caplog.at_level(logging.ERROR, logger="ignyx.error"):
            connection.request("GET", url)
            response = connection.getresponse()
            answer = (response.status, response.getheader("content-type"), response.read())
            assert answer == expected_answer(url)
            assert_traceback_logged(caplog, MESSAGES[url])
        kept_alive = connection.sock
        assert kept_alive is not None, "the server closed the connection"

        connection.request("GET", "/ok")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b'{"ok":true}')
        assert connection.sock is kept_alive
    finally:
        connection.close()
    # And on a new connection.
    assert httpx.get(f"http://127.0.0.1:{server.port}/ok", timeout=10).json() == {"ok": True}
