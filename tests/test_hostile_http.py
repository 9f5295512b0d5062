"""Malformed and hostile HTTP/1.1 on a real socket: each request below is written as raw
bytes to the native server, which must answer it with the right status (or close the
connection) within a bounded time, never answer one request twice (request smuggling),
never hand the app a body it did not fully receive, and keep serving other connections.

Paths and queries (bad %-escapes, invalid UTF-8, dot segments) are compared with what
FastAPI answers under uvicorn, the reference for what an app sees.

Oversized headers, too many headers, HTTP/0.9 and unknown versions, a declared body over
the limit and a chunked body growing over it are in test_server_live.py.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Optional

import pytest
from conftest import free_port, live_server, wait_for_port

# Every socket operation is bounded by this; a hang fails the test instead of the suite.
SOCKET_TIMEOUT = 5.0
# Every answer (or close) comes within this, including the 408 for a body never sent.
ANSWER_WITHIN = 3.0
BODY_TIMEOUT = 1.0
HEADER_TIMEOUT = 3.0

APP_SOURCE = """
from FRAMEWORK import FastAPI, Request

app = FastAPI()
# What the handlers saw: bodies /echo received and requests /smuggled answered.
ECHOED = []
SMUGGLED = []


@app.get("/fast")
def fast():
    return {"fast": True}


@app.get("/users/{id:int}")
def user(id: int):
    return {"id": id}


@app.post("/echo")
async def echo(request: Request):
    body = await request.body()
    ECHOED.append(body)
    return {"received": len(body)}


@app.get("/files/{path:path}")
def files(path: str):
    return {"path": path}


@app.get("/search")
def search(q: str):
    return {"q": q}


@app.get("/smuggled")
def smuggled():
    SMUGGLED.append(True)
    return {"smuggled": True}
"""


def app_source(framework: str) -> str:
    return APP_SOURCE.replace("FRAMEWORK", framework)


@pytest.fixture(scope="module")
def hostile():
    namespace: dict = {}
    exec(compile(app_source("ignyx"), "hostile_app", "exec"), namespace)
    with live_server(
        namespace["app"], header_timeout=HEADER_TIMEOUT, body_timeout=BODY_TIMEOUT
    ) as server:
        yield SimpleNamespace(
            port=server.port, echoed=namespace["ECHOED"], smuggled=namespace["SMUGGLED"]
        )


@pytest.fixture
def seen(hostile):
    """What the handlers saw during one test."""
    hostile.echoed.clear()
    hostile.smuggled.clear()
    return hostile


# --- raw HTTP/1.1 ---------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)


def send(sock: socket.socket, data: bytes) -> None:
    """Writes `data`; a server that refuses early may close (or reset) before it is all
    written, which is not a failure: what it answered is read next."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def read_response(stream) -> Optional[Response]:
    """Reads one response from a socket file; None when the server closed the connection
    (or reset it) instead. A timeout raises: a server that hangs fails the test."""
    try:
        status_line = stream.readline()
        if not status_line:
            return None
        version, status, _ = status_line.decode("latin-1").split(" ", 2)
        assert version.startswith("HTTP/1."), status_line
        headers = {}
        while True:
            line = stream.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        assert "transfer-encoding" not in headers, headers
        if "content-length" in headers:
            body = stream.read(int(headers["content-length"]))
        else:
            body = stream.read()
        return Response(int(status), headers, body)
    except ConnectionResetError:
        return None


def get(path: str) -> bytes:
    return b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode("latin-1")


def assert_still_serving(port: int) -> None:
    """A well-formed request on a new connection is answered 200."""
    with connect(port) as sock, sock.makefile("rb") as stream:
        sock.sendall(get("/fast"))
        response = read_response(stream)
    assert response is not None
    assert (response.status, response.body) == (200, b'{"fast":true}')


# --- the table: one request, written at once --------------------------------------------

CLOSED = None  # the server closed (or reset) the connection without answering
HOST = b"Host: x\r\n"
GET_FAST = b"GET /fast HTTP/1.1\r\n" + HOST
POST_ECHO = b"POST /echo HTTP/1.1\r\n" + HOST
CHUNKED = b"Transfer-Encoding: chunked\r\n"
# A request hidden in a body: answered only by a server that misreads the framing.
SMUGGLE = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
SMUGGLE_SIZE = b"%x\r\n" % len(SMUGGLE)
# SMUGGLE as the one chunk of a chunked body; read by Content-Length: len(SMUGGLE_SIZE)
# instead, the body would end right before "GET /smuggled".
SMUGGLE_CHUNKED = SMUGGLE_SIZE + SMUGGLE + b"\r\n0\r\n\r\n"


@dataclass
class Case:
    data: bytes
    # The statuses a correct server may answer; CLOSED when it may close without one.
    answers: frozenset
    # The one body /echo may see when it answers 200; None: /echo must not run.
    echo: Optional[bytes] = None
    # The server must close the connection after its answer (RFC 9112 §6.1, §6.3).
    must_close: bool = False


def case(id, data, answers, echo=None, must_close=False, xfail=None):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(Case(data, frozenset(answers), echo, must_close), id=id, marks=marks)


CASES = [
    # 1. request lines and header fields
    case("binary-garbage", b"\x00\x01\x02 nonsense\r\n\r\n", {400}),
    case("double-space-in-request-line", b"GET  /fast HTTP/1.1\r\n" + HOST + b"\r\n", {400}),
    case("tabs-in-request-line", b"GET\t/fast\tHTTP/1.1\r\n" + HOST + b"\r\n", {400}),
    case("space-in-target", b"GET /fa st HTTP/1.1\r\n" + HOST + b"\r\n", {400}),
    case("junk-after-version", b"GET /fast HTTP/1.1 x\r\n" + HOST + b"\r\n", {400}),
    case("version-1.10", b"GET /fast HTTP/1.10\r\n" + HOST + b"\r\n", {400, 505}),
    # Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
    case("lowercase-method", b"get /fast HTTP/1.1\r\n" + HOST + b"\r\n", {400, 405, 501}),
    case("unknown-method", b"FOO /fast HTTP/1.1\r\n" + HOST + b"\r\n", {400, 405, 501}),
    # RFC 9112 §2.2: a server SHOULD ignore an empty line before the request line.
    case("leading-empty-line", b"\r\n" + GET_FAST + b"\r\n", {200, 400}),
    case("nul-in-header-value", GET_FAST + b"X-A: a\x00b\r\n\r\n", {400}),
    case("control-char-in-header-value", GET_FAST + b"X-A: a\x01b\r\n\r\n", {400}),
    case("cr-without-lf-in-header-value", GET_FAST + b"X-A: a\rb\r\n\r\n", {400}),
    case("obs-fold", GET_FAST + b"X-A: a\r\n b\r\n\r\n", {400}),
    case("fold-before-first-header", b"GET /fast HTTP/1.1\r\n Host: x\r\n\r\n", {400}),
    case("space-before-colon", GET_FAST + b"X-A : a\r\n\r\n", {400}),
    case("header-without-colon", GET_FAST + b"X-A a\r\n\r\n", {400}),
    case("empty-header-name", GET_FAST + b": a\r\n\r\n", {400}),
    case("separator-in-header-name", GET_FAST + b"X(A): a\r\n\r\n", {400}),
    # RFC 9112 §2.2: a recipient MAY take a bare LF as a line terminator.
    case("bare-lf-line-endings", b"GET /fast HTTP/1.1\nHost: x\nX-A: a\n\n", {200, 400}),
    case("raw-invalid-utf8-in-path", b"GET /files/\xff\xfe HTTP/1.1\r\n" + HOST + b"\r\n", {400}),
    case("raw-invalid-utf8-in-query", b"GET /search?q=\xff HTTP/1.1\r\n" + HOST + b"\r\n", {400}),
    # RFC 9112 §3.2: an HTTP/1.1 request without a Host header, or with two, is a 400.
    case("no-host", b"GET /fast HTTP/1.1\r\n\r\n", {400}),
    case(
        "two-hosts",
        b"GET /fast HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        {400},
    ),
    # 2. Content-Length (RFC 9112 §6.3: an invalid one is unrecoverable framing: 400, close)
    case(
        "content-length-twice-same-value",
        POST_ECHO + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        {200, 400},
        echo=b"abc",
    ),
    case(
        "content-length-list-same-value",
        POST_ECHO + b"Content-Length: 3, 3\r\n\r\nabc",
        {200, 400},
        echo=b"abc",
    ),
    case(
        "content-length-conflicting",
        POST_ECHO + b"Content-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
        {400},
        must_close=True,
    ),
    case(
        "content-length-list-conflicting",
        POST_ECHO + b"Content-Length: 3, 5\r\n\r\nabcde",
        {400},
        must_close=True,
    ),
    case(
        "content-length-plus", POST_ECHO + b"Content-Length: +3\r\n\r\nabc", {400}, must_close=True
    ),
    case(
        "content-length-minus", POST_ECHO + b"Content-Length: -3\r\n\r\nabc", {400}, must_close=True
    ),
    case(
        "content-length-hex", POST_ECHO + b"Content-Length: 0x3\r\n\r\nabc", {400}, must_close=True
    ),
    case(
        "content-length-trailing-letter",
        POST_ECHO + b"Content-Length: 3a\r\n\r\nabc",
        {400},
        must_close=True,
    ),
    case(
        "content-length-inner-space",
        POST_ECHO + b"Content-Length: 1 2\r\n\r\nabc",
        {400},
        must_close=True,
    ),
    case(
        "content-length-empty", POST_ECHO + b"Content-Length: \r\n\r\nabc", {400}, must_close=True
    ),
    case(
        "content-length-overflows-u64",
        POST_ECHO + b"Content-Length: 99999999999999999999999\r\n\r\nabc",
        {400, 413},
        must_close=True,
    ),
    # 2. Transfer-Encoding with Content-Length (RFC 9112 §6.3: 400, or chunked with the
    # Content-Length ignored; either way the connection MUST be closed afterwards)
    case(
        "te-chunked-then-content-length-smuggle",
        POST_ECHO + CHUNKED + b"Content-Length: %d\r\n\r\n" % len(SMUGGLE_SIZE) + SMUGGLE_CHUNKED,
        {200, 400},
        echo=SMUGGLE,
        must_close=True,
    ),
    case(
        "content-length-then-te-chunked-smuggle",
        POST_ECHO
        + b"Content-Length: %d\r\n" % len(SMUGGLE_SIZE)
        + CHUNKED
        + b"\r\n"
        + SMUGGLE_CHUNKED,
        {200, 400},
        echo=SMUGGLE,
        must_close=True,
    ),
    case(
        # By Content-Length the body is "0\r\n\r\n" plus the hidden request; by
        # Transfer-Encoding it is empty and the hidden request comes next.
        "content-length-covers-a-request-after-the-last-chunk",
        POST_ECHO
        + b"Content-Length: %d\r\n" % (5 + len(SMUGGLE))
        + CHUNKED
        + b"\r\n0\r\n\r\n"
        + SMUGGLE,
        {200, 400},
        echo=b"",
        must_close=True,
    ),
    # 2. Transfer-Encoding values
    case(
        "te-uppercase-chunked",
        POST_ECHO + b"Transfer-Encoding: CHUNKED\r\n\r\n" + SMUGGLE_CHUNKED,
        {200},
        echo=SMUGGLE,
    ),
    case(
        "te-chunked-not-last",
        POST_ECHO + b"Transfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + SMUGGLE,
        {400},
        must_close=True,
    ),
    case(
        "te-xchunked",
        POST_ECHO + b"Transfer-Encoding: xchunked\r\n\r\n" + SMUGGLE,
        {400, 501},
        must_close=True,
    ),
    case(
        "te-identity-with-content-length",
        POST_ECHO + b"Transfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc",
        {400, 501},
        must_close=True,
    ),
    case(
        "te-chunked-trailing-comma",
        POST_ECHO + b"Transfer-Encoding: chunked,\r\n\r\n" + SMUGGLE_CHUNKED,
        {200, 400},
        echo=SMUGGLE,
    ),
    case(
        "te-vertical-tab-chunked",
        POST_ECHO + b"Transfer-Encoding: \x0bchunked\r\n\r\n" + SMUGGLE_CHUNKED,
        {400},
        must_close=True,
    ),
    case(
        "te-on-http-1.0",
        b"POST /echo HTTP/1.0\r\n" + HOST + CHUNKED + b"\r\n" + SMUGGLE_CHUNKED,
        {200, 400},
        echo=SMUGGLE,
        must_close=True,
    ),
    # RFC 9112 §6.1: a transfer coding the server does not implement is a 501; §7: chunked
    # applied twice is invalid. (hyper framed both as chunked and handed the app the rest.)
    case(
        "te-gzip-chunked",
        POST_ECHO + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + SMUGGLE_CHUNKED,
        {400, 501},
        must_close=True,
    ),
    case(
        "te-chunked-twice",
        POST_ECHO + CHUNKED + CHUNKED + b"\r\n" + SMUGGLE_CHUNKED,
        {400},
        must_close=True,
    ),
    # 3. chunk sizes and extensions
    case(
        "chunk-size-not-hex",
        POST_ECHO + CHUNKED + b"\r\nzz\r\nabc\r\n0\r\n\r\n",
        {400},
        must_close=True,
    ),
    case(
        "chunk-size-0x-prefix",
        POST_ECHO + CHUNKED + b"\r\n0x3\r\nabc\r\n0\r\n\r\n",
        {400},
        must_close=True,
    ),
    case(
        "chunk-size-negative",
        POST_ECHO + CHUNKED + b"\r\n-3\r\nabc\r\n0\r\n\r\n",
        {400},
        must_close=True,
    ),
    case(
        "chunk-size-overflows-u64",
        POST_ECHO + CHUNKED + b"\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        {400, 413},
        must_close=True,
    ),
    case(
        # A chunk of 2**64 - 1 bytes announced, three sent: waits for the rest, within
        # the body timeout (408), or refuses it as over the limit (413).
        "chunk-size-u64-max-never-sent",
        POST_ECHO + CHUNKED + b"\r\nffffffffffffffff\r\nabc\r\n0\r\n\r\n",
        {408, 413},
        must_close=True,
    ),
    case(
        "chunk-size-leading-zeros",
        POST_ECHO + CHUNKED + b"\r\n" + b"0" * 100 + b"3\r\nabc\r\n0\r\n\r\n",
        {200, 400},
        echo=b"abc",
    ),
    case(
        "chunk-data-without-crlf",
        POST_ECHO + CHUNKED + b"\r\n3\r\nabcXX0\r\n\r\n",
        {400},
        must_close=True,
    ),
    case(
        "chunk-extension",
        POST_ECHO + CHUNKED + b"\r\n3;name=value\r\nabc\r\n0\r\n\r\n",
        {200},
        echo=b"abc",
    ),
    case(
        "chunk-extensions-100kb",
        POST_ECHO + CHUNKED + b"\r\n3" + b";ext=val" * 12_800 + b"\r\nabc\r\n0\r\n\r\n",
        {200, 400, 413, CLOSED},
        echo=b"abc",
    ),
    case(
        "chunk-trailer",
        POST_ECHO + CHUNKED + b"\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
        {200},
        echo=b"abc",
    ),
    case(
        "chunk-trailers-5000",
        POST_ECHO
        + CHUNKED
        + b"\r\n3\r\nabc\r\n0\r\n"
        + b"".join(b"X-%d: y\r\n" % i for i in range(5000))
        + b"\r\n",
        {200, 400, 431, CLOSED},
        echo=b"abc",
    ),
    # 4. request-target forms
    case("absolute-form", b"GET http://127.0.0.1/fast HTTP/1.1\r\n" + HOST + b"\r\n", {200}),
    case(
        "authority-form-connect",
        b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
        {400, 404, 405, 501},
    ),
    case("asterisk-form-options", b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n", {200, 204, 400, 404}),
    case("asterisk-form-get", b"GET * HTTP/1.1\r\n" + HOST + b"\r\n", {400, 404}),
    # 5. a 100 KB request-target
    case(
        "url-100kb",
        b"GET /files/" + b"a" * 100_000 + b" HTTP/1.1\r\n" + HOST + b"\r\n",
        {414, 431, CLOSED},
        must_close=True,
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_hostile_request_is_answered_once_and_the_server_keeps_serving(seen, case):
    with connect(seen.port) as sock, sock.makefile("rb") as stream:
        started = time.monotonic()
        send(sock, case.data)
        response = read_response(stream)
        elapsed = time.monotonic() - started
        status = response.status if response is not None else CLOSED
        assert status in case.answers, response
        assert elapsed < ANSWER_WITHIN
        if response is not None:
            # The connection is closed, or in step: the next request written on it is
            # the next one answered (not a request hidden in the body).
            send(sock, get("/fast"))
            following = read_response(stream)
            if case.must_close:
                assert following is None, following
            elif following is not None:
                assert (following.status, following.body) == (200, b'{"fast":true}')
    assert seen.smuggled == []
    if status == 200 and case.echo is not None:
        assert seen.echoed == [case.echo]
        assert json.loads(response.body) == {"received": len(case.echo)}
    else:
        assert seen.echoed == []
    assert_still_serving(seen.port)


# --- a body cut short --------------------------------------------------------------------


@pytest.mark.parametrize(
    "head, partial",
    [
        (b"Content-Length: 100\r\n", b"0123456789"),
        (CHUNKED, b"64\r\n0123456789"),
        (CHUNKED, b"3\r\nabc\r\n"),
    ],
    ids=["content-length", "inside-a-chunk", "before-the-last-chunk"],
)
@pytest.mark.parametrize("ending", ["half-close", "reset"])
def test_a_body_cut_short_never_reaches_the_handler(seen, head, partial, ending):
    with connect(seen.port) as sock, sock.makefile("rb") as stream:
        sock.sendall(POST_ECHO + head + b"\r\n" + partial)
        if ending == "half-close":
            # The client is done writing but still reads: 400 or a close, at once.
            started = time.monotonic()
            sock.shutdown(socket.SHUT_WR)
            response = read_response(stream)
            assert time.monotonic() - started < ANSWER_WITHIN
            assert response is None or response.status == 400, response
            assert read_response(stream) is None
        else:
            # Closed with a reset (SO_LINGER 0) instead.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert_still_serving(seen.port)
    assert seen.echoed == []


# --- many requests on one connection -------------------------------------------------------


def test_a_pipelined_flood_is_answered_in_order_and_the_server_keeps_serving(seen):
    count = 2000
    requests = b"".join(get(f"/users/{n}") for n in range(count))
    started = time.monotonic()
    with connect(seen.port) as sock, sock.makefile("rb") as stream:
        # Written from another thread: the answers come while the requests still go out.
        writer = threading.Thread(target=sock.sendall, args=(requests,))
        writer.start()
        try:
            for n in range(count):
                response = read_response(stream)
                assert response is not None, f"closed after {n} answers"
                assert (response.status, response.body) == (200, b'{"id":%d}' % n)
        finally:
            writer.join(SOCKET_TIMEOUT)
    assert time.monotonic() - started < 20
    assert_still_serving(seen.port)


# --- paths and queries: what the app sees, as with FastAPI ------------------------------


def path(target, status, body, xfail=None):
    """A request target and FastAPI's answer to it under uvicorn: status and JSON body."""
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(target, (status, body), id=target, marks=marks)


NOT_FOUND = {"detail": "Not Found"}

PATHS = [
    # 7. bad %-escapes and invalid UTF-8
    # {id:int} matches digits only, as Starlette's convertor: anything else is not found.
    path("/users/%ff", 404, NOT_FOUND),
    path("/users/%zz", 404, NOT_FOUND),
    path("/users/%31", 200, {"id": 1}),
    path("/files/%zz", 200, {"path": "%zz"}),
    path("/files/%ff", 200, {"path": "\ufffd"}),
    path("/files/a%2", 200, {"path": "a%2"}),
    path("/files/a%00b", 200, {"path": "a\x00b"}),
    path("/search?q=%ff%fe", 200, {"q": "\ufffd\ufffd"}),
    path("/search?q=%e2%82", 200, {"q": "\ufffd"}),
    path("/search?q=%", 200, {"q": "%"}),
    path("/search?q=%zz", 200, {"q": "%zz"}),
    # 8. dot segments, encoded slashes and backslashes: neither framework normalises the
    # path; {path:path} hands the handler the decoded rest verbatim (sanitising it is the
    # handler's job, as with FastAPI), and no request is re-routed by its dot segments.
    path("/files/../../etc/passwd", 200, {"path": "../../etc/passwd"}),
    path("/files/..%2f..%2fetc%2fpasswd", 200, {"path": "../../etc/passwd"}),
    path("/files/%2e%2e/%2e%2e/etc/passwd", 200, {"path": "../../etc/passwd"}),
    path("/files/..\\..\\etc\\passwd", 200, {"path": "..\\..\\etc\\passwd"}),
    path("/files/..%5c..%5cetc%5cpasswd", 200, {"path": "..\\..\\etc\\passwd"}),
    path("/files//etc/passwd", 200, {"path": "/etc/passwd"}),
    path("/files/%2fetc%2fpasswd", 200, {"path": "/etc/passwd"}),
    path("/files/./a/../b", 200, {"path": "./a/../b"}),
    path("/files/../fast", 200, {"path": "../fast"}),
    path("/users/1/../../fast", 404, NOT_FOUND),
    path("/../../fast", 404, NOT_FOUND),
    path("/fast/..", 404, NOT_FOUND),
]


def ask(port: int, target: str) -> tuple[int, object]:
    with connect(port) as sock, sock.makefile("rb") as stream:
        sock.sendall(get(target))
        response = read_response(stream)
    assert response is not None, target
    return response.status, json.loads(response.body)


@pytest.mark.parametrize("target, expected", PATHS)
def test_paths_and_queries_reach_the_app_as_with_fastapi(seen, target, expected):
    assert ask(seen.port, target) == expected
    assert_still_serving(seen.port)


def test_fastapi_under_uvicorn_gives_the_expected_answers(tmp_path):
    """The reference the table above pins: the same app with FastAPI's imports."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    (tmp_path / "fastapi_app.py").write_text(app_source("fastapi"))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(tmp_path), "--port", str(port)]
        + ["--log-level", "warning", "fastapi_app:app"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, timeout=20)
        answers = {param.values[0]: ask(port, param.values[0]) for param in PATHS}
    finally:
        process.terminate()
        process.wait(10)
    assert answers == {param.values[0]: param.values[1] for param in PATHS}
