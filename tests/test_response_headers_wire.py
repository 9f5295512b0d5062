"""Issue 6: a Response whose headers were never touched is sent with headers the engine
derives itself (``Response._raw_headers`` stays None). What reaches the wire must be what
``init_headers`` would have written, checked over a raw socket."""

import socket
from http import HTTPStatus

import ignyx
import pytest
from conftest import live_server
from ignyx.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse


class Framed(Response):
    media_type = "text/plain"

    def init_headers(self, headers=None):
        super().init_headers(headers)
        self.raw_headers.append((b"x-frame-options", b"DENY"))


class Latin1Text(PlainTextResponse):
    charset = "latin-1"


class Lines(StreamingResponse):
    media_type = "text/plain"


def make_app() -> ignyx.Ignyx:
    app = ignyx.Ignyx()

    @app.get("/cafe")
    def cafe():
        return PlainTextResponse("café")

    @app.get("/cafe-latin-1")
    def cafe_latin_1():
        return Latin1Text("café")

    # Each kind of result in turn, from one route: the engine recognises results by class,
    # so the same class must keep meaning the same thing whatever came before it.
    @app.get("/kinds/{kind}")
    def kinds(kind: str):
        if kind == "response":
            return Latin1Text("r")
        if kind == "stream":
            return Lines(iter([b"s1", b"s2"]))
        if kind == "tuple":
            return Latin1Text("t"), 201
        if kind == "list":
            return [1, 2]
        if kind == "tuple-content":
            return {"t": 1}, 202
        return {"kind": kind}

    @app.post("/length")
    async def length(request: ignyx.Request):
        return {"length": len(await request.body())}

    @app.get("/plain")
    def plain():
        return PlainTextResponse("Hello, World!")

    @app.get("/bytes")
    def raw_bytes():
        return Response(b"raw")

    @app.get("/no-content")
    def no_content():
        return Response(status_code=204)

    @app.get("/not-modified")
    def not_modified():
        return Response(status_code=304)

    @app.get("/own-charset")
    def own_charset():
        return HTMLResponse("<b>x</b>", media_type="text/html; Charset=latin-1")

    @app.get("/touched")
    def touched():
        response = PlainTextResponse("hi")
        response.headers["x-touched"] = "yes"
        return response

    @app.get("/subclass")
    def subclass():
        return Framed("framed")

    return app


@pytest.fixture(scope="module")
def server():
    with live_server(make_app()) as server:
        yield server


def exchange(
    port: int, method: str, path: str, extra: bytes = b"\r\n"
) -> tuple[str, dict[str, str], bytes]:
    """One request (``extra``: more header lines, the blank line and any body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n".encode() + extra
        )
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"{name} sent twice"
        headers[name.lower()] = value.strip()
    return status, headers, body


PLAIN = "text/plain; charset=utf-8"
ABSENT = None

# (method, path, status, headers that must be sent as given, or ABSENT, body).
WIRE = {
    "plain text gets type with charset and length": (
        "GET",
        "/plain",
        200,
        {"content-type": PLAIN, "content-length": "13"},
        b"Hello, World!",
    ),
    "HEAD gets the length of the GET body": ("HEAD", "/plain", 200, {"content-length": "13"}, b""),
    "no media type means no content-type": (
        "GET",
        "/bytes",
        200,
        {"content-type": ABSENT, "content-length": "3"},
        b"raw",
    ),
    "204 carries no length or type": (
        "GET",
        "/no-content",
        204,
        {"content-length": ABSENT, "content-type": ABSENT},
        b"",
    ),
    "304 carries no length or type": (
        "GET",
        "/not-modified",
        304,
        {"content-length": ABSENT, "content-type": ABSENT},
        b"",
    ),
    "a given charset is kept": (
        "GET",
        "/own-charset",
        200,
        {"content-type": "text/html; Charset=latin-1"},
        b"<b>x</b>",
    ),
    "headers touched after construction are sent with the defaults": (
        "GET",
        "/touched",
        200,
        {"x-touched": "yes", "content-type": PLAIN, "content-length": "2"},
        b"hi",
    ),
    "a subclass's init_headers runs at construction": (
        "GET",
        "/subclass",
        200,
        {"x-frame-options": "DENY", "content-type": PLAIN},
        b"framed",
    ),
    "the default charset encodes utf-8": (
        "GET",
        "/cafe",
        200,
        {"content-type": PLAIN},
        "café".encode(),
    ),
    "a subclass's charset encodes the body and names itself": (
        "GET",
        "/cafe-latin-1",
        200,
        {"content-type": "text/plain; charset=latin-1"},
        b"caf\xe9",
    ),
}


@pytest.mark.parametrize("case", list(WIRE), ids=list(WIRE))
def test_default_headers_on_the_wire(server, case):
    method, path, want_status, want_headers, want_body = WIRE[case]
    status, headers, body = exchange(server.port, method, path)
    assert status == f"HTTP/1.1 {want_status} {HTTPStatus(want_status).phrase}"
    for name, value in want_headers.items():
        assert headers.get(name) == value, name
    assert body == want_body


KINDS = {
    "response": ("200", "text/plain; charset=latin-1", b"r"),
    "stream": ("200", "text/plain; charset=utf-8", b"s1s2"),
    "tuple": ("201", "text/plain; charset=latin-1", b"t"),
    "list": ("200", "application/json", b"[1,2]"),
    "tuple-content": ("202", "application/json", b'{"t":1}'),
    "other": ("200", "application/json", b'{"kind":"other"}'),
}


def test_results_are_told_apart_by_class_in_any_order(server):
    order = list(KINDS) + list(reversed(KINDS)) + ["stream", "response", "stream", "tuple"]
    for kind in order:
        status, headers, body = exchange(server.port, "GET", f"/kinds/{kind}")
        want_status, want_type, want_body = KINDS[kind]
        assert status.split()[1] == want_status, kind
        assert headers["content-type"] == want_type, kind
        if kind == "stream":
            assert headers.get("transfer-encoding") == "chunked"
            assert b"s1" in body and b"s2" in body
        else:
            assert body == want_body, kind


@pytest.mark.parametrize(
    "framing, length",
    [
        (b"Content-Length: 0\r\n\r\n", 0),
        (b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0),
        (b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 5),
        (b"Content-Length: 4\r\n\r\nwxyz", 4),
        (b"\r\n", 0),
    ],
)
def test_bodies_empty_or_not_are_read_whatever_their_framing(server, framing, length):
    status, _, body = exchange(server.port, "POST", "/length", framing)
    assert status == "HTTP/1.1 200 OK"
    assert body == b'{"length":%d}' % length
