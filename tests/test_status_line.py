"""A response's status line reads as uvicorn writes it: the running Python's reason phrase
(`http.HTTPStatus`), and none for a status Python does not name. hyper's own names differ
for some (413 "Payload Too Large" where Python 3.11 says "Request Entity Too Large", and
"<none>" for an unnamed status)."""

from __future__ import annotations

import socket

import pytest
from conftest import framework, live_server, recv_until, under_uvicorn

# The statuses whose phrase hyper would have written otherwise, on some Python, around a few
# where they agree.
STATUSES = [200, 201, 203, 299, 404, 413, 414, 416, 418, 422, 451, 499, 503, 599]


def status_app(name: str):
    """The same app on either framework: ``/status/{code}`` answers with that status."""
    fw = framework(name)
    app = fw.FastAPI()

    @app.get("/status/{code}")
    def status(code: int):
        return fw.responses.Response(b"x", status_code=code)

    return app


def status_lines(host: str, port: int) -> dict[int, bytes]:
    lines = {}
    for code in STATUSES:
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(f"GET /status/{code} HTTP/1.1\r\nhost: t\r\n\r\n".encode())
            lines[code] = recv_until(sock, b"\r\n").split(b"\r\n", 1)[0]
    return lines


@pytest.fixture(scope="module")
def uvicorn_lines() -> dict[int, bytes]:
    with under_uvicorn(status_app("fastapi")) as url:
        host, port = url.removeprefix("http://").split(":")
        return status_lines(host, int(port))


def test_status_lines_read_as_uvicorn_writes_them(uvicorn_lines):
    with live_server(status_app("ignyx")) as server:
        lines = status_lines("127.0.0.1", server.port)
    assert lines == uvicorn_lines
    # What the comparison covers, so that it cannot pass on two equal mistakes.
    assert lines[299] == b"HTTP/1.1 299 "
    assert lines[418] == b"HTTP/1.1 418 I'm a Teapot"
    assert lines[200] == b"HTTP/1.1 200 OK"


def test_ignyx_as_an_asgi_app_under_uvicorn_writes_the_same(uvicorn_lines):
    # uvicorn writes the status line there; the engine's phrases do not come into it.
    with under_uvicorn(status_app("ignyx")) as url:
        host, port = url.removeprefix("http://").split(":")
        assert status_lines(host, int(port)) == uvicorn_lines
