"""GZip, TrustedHost and HTTPSRedirect as Starlette's, executed by the engine.

Each app is built with FastAPI's imports (Starlette's middleware) and with Ignyx's; the same
requests must get the same status, body and headers that matter. Gzip goes through zlib
with Starlette's settings, so even the compressed bytes are Starlette's: the compared
headers include ``content-length`` and ``content-encoding``.

Each middleware is checked where the engine runs it (outside every Python middleware), where
it runs in Python (between two Python middleware) and under an ASGI server.
"""

import asyncio
import gzip
import importlib
import shutil
import subprocess
from types import SimpleNamespace
from typing import Any, Callable

import brotli
import httpx
import pytest
import zstandard
from conftest import compared_headers, live_server

HEADERS = ("content-encoding", "content-length", "vary", "location", "content-type")


def _middleware(fw: SimpleNamespace) -> SimpleNamespace:
    package = fw.name
    return SimpleNamespace(
        GZip=importlib.import_module(f"{package}.middleware.gzip").GZipMiddleware,
        TrustedHost=importlib.import_module(
            f"{package}.middleware.trustedhost"
        ).TrustedHostMiddleware,
        HTTPSRedirect=importlib.import_module(
            f"{package}.middleware.httpsredirect"
        ).HTTPSRedirectMiddleware,
    )


def _routes(fw: SimpleNamespace, app: Any) -> None:
    responses = fw.responses

    @app.get("/big")
    def big():
        return {"words": ["compressible"] * 100}

    @app.get("/small")
    def small():
        return {"a": 1}

    @app.get("/html")
    def html():
        return responses.HTMLResponse("<p>" + "hello " * 200 + "</p>")

    @app.get("/png")
    def png():
        return fw.Response(b"\x89PNG" + b"\0" * 2000, media_type="image/png")

    @app.get("/encoded")
    def encoded():
        # Already encoded by the app: left as it is.
        body = gzip.compress(b"x" * 2000, mtime=0)
        return fw.Response(body, media_type="text/plain", headers={"content-encoding": "gzip"})

    @app.get("/partial")
    def partial():
        return fw.Response(b"y" * 2000, status_code=206, media_type="text/plain")

    @app.get("/varies")
    def varies():
        return fw.Response(b"z" * 2000, media_type="text/plain", headers={"vary": "Origin"})

    @app.get("/stream")
    def stream():
        def chunks():
            for i in range(50):
                yield f"line {i} of a streamed body\n".encode()

        return responses.StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/where")
    def where(request: fw.Request):
        return {"url": str(request.url)}


def _placed(placement: str, fw: SimpleNamespace, add: Callable[[Any], None]) -> Any:
    """An app with the middleware `add` installs: alone (the engine runs it), or between two
    Python middleware (it runs in Python)."""
    app = fw.FastAPI()
    _routes(fw, app)
    if placement == "between":
        app.add_middleware(_PassThrough)
    add(app)
    if placement == "between":
        app.add_middleware(_PassThrough)
    return app


class _PassThrough:
    """A pure ASGI middleware that changes nothing (a Python middleware to the engine)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _same(theirs: Any, ours: Any, *extra: str) -> None:
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content)
    for name in HEADERS + extra:
        assert ours.headers.get(name) == theirs.headers.get(name), name
    assert compared_headers(ours) == compared_headers(theirs)


PLACEMENTS = ["native", "between", "asgi"]


def _pair(placement: str, add: Callable[[SimpleNamespace, Any], None]) -> Callable[..., Any]:
    from conftest import framework

    apps = {
        name: _placed(placement, framework(name), lambda app, fw=framework(name): add(fw, app))
        for name in ("fastapi", "ignyx")
    }

    def request(method: str, url: str, **kwargs: Any) -> tuple[Any, Any]:
        kwargs.setdefault("follow_redirects", False)
        theirs = _asgi_request(apps["fastapi"], method, url, **kwargs)
        if placement == "asgi":
            ours = _asgi_request(apps["ignyx"], method, url, **kwargs)
        else:
            with framework("ignyx").TestClient(apps["ignyx"]) as client:
                ours = client.request(method, url, **kwargs)
        return theirs, ours

    return request


def _asgi_request(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    base_url = kwargs.pop("base_url", "http://testserver")

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(go())


# -- GZip ---------------------------------------------------------------------------------


def _gzip(fw: SimpleNamespace, app: Any) -> None:
    app.add_middleware(_middleware(fw).GZip, minimum_size=500)


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize(
    "path", ["/big", "/small", "/html", "/png", "/encoded", "/partial", "/varies", "/stream"]
)
@pytest.mark.parametrize("accept", ["gzip, deflate", "br", None])
def test_gzip_answers_as_starlettes(placement: str, path: str, accept: Any) -> None:
    request = _pair(placement, _gzip)
    headers = {"accept-encoding": accept} if accept else {"accept-encoding": ""}
    theirs, ours = request("GET", path, headers=headers)
    _same(theirs, ours)


def test_gzip_writes_starlettes_bytes() -> None:
    request = _pair("native", _gzip)
    theirs, ours = request("GET", "/big", headers={"accept-encoding": "gzip"})
    assert ours.headers["content-encoding"] == "gzip"
    assert ours.headers["vary"] == "Accept-Encoding"
    assert ours.headers["content-length"] == theirs.headers["content-length"]
    assert int(ours.headers["content-length"]) < len(ours.content)


def test_gzip_on_the_wire_with_curl() -> None:
    """A real socket: the compressed bytes as sent, decoded by curl --compressed."""
    import ignyx
    from ignyx.middleware.gzip import GZipMiddleware

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    app = ignyx.FastAPI()
    app.add_middleware(GZipMiddleware)
    _routes(_ignyx_fw(), app)
    with live_server(app) as server:
        url = f"http://127.0.0.1:{server.port}"
        raw = httpx.get(f"{url}/big", headers={"accept-encoding": "gzip"})
        with httpx.stream("GET", f"{url}/stream", headers={"accept-encoding": "gzip"}) as stream:
            assert stream.headers["content-encoding"] == "gzip"
            assert "content-length" not in stream.headers
            streamed = gzip.decompress(b"".join(stream.iter_raw()))
        curl = subprocess.run(
            ["curl", "-s", "--compressed", "-D", "-", f"{url}/big"],
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout
    assert raw.json() == {"words": ["compressible"] * 100}
    assert streamed == b"".join(f"line {i} of a streamed body\n".encode() for i in range(50))
    head, _, body = curl.partition(b"\r\n\r\n")
    assert b"content-encoding: gzip" in head.lower()
    assert body == raw.content


def _ignyx_fw() -> SimpleNamespace:
    from conftest import framework

    return framework("ignyx")


# -- CompressionMiddleware (Ignyx's own: gzip, Brotli, Zstandard) -------------------------


def _decode(encoding: str, raw: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "br":
        return brotli.decompress(raw)
    return zstandard.ZstdDecompressor().decompress(raw, max_output_size=10**7)


@pytest.mark.parametrize(
    "accept, chosen",
    [
        ("gzip, deflate, br, zstd", "zstd"),
        ("br;q=1, zstd;q=0.5, gzip;q=0.9", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.2", "gzip"),
        ("*", "zstd"),
        ("identity", None),
    ],
)
@pytest.mark.parametrize("placement", ["native", "between"])
def test_compression_negotiates_by_q_values(placement: str, accept: str, chosen: Any) -> None:
    from ignyx.middleware.compression import CompressionMiddleware

    app = _placed(placement, _ignyx_fw(), lambda app: app.add_middleware(CompressionMiddleware))
    with _ignyx_fw().TestClient(app) as client:
        for path in ("/big", "/stream"):
            with client.stream("GET", path, headers={"accept-encoding": accept}) as response:
                raw = b"".join(response.iter_raw())
                assert response.headers.get("content-encoding") == chosen
                if chosen is not None:
                    assert response.headers["vary"] == "Accept-Encoding"
                    raw = _decode(chosen, raw)
            plain = client.get(path, headers={"accept-encoding": "identity"}).content
            assert raw == plain


def test_compression_refuses_an_unknown_encoding() -> None:
    from ignyx.middleware.compression import CompressionMiddleware

    with pytest.raises(ValueError, match="unknown encoding"):
        CompressionMiddleware(encodings=("gzip", "lzma"))


# -- TrustedHost ---------------------------------------------------------------------------


def _trusted(fw: SimpleNamespace, app: Any) -> None:
    app.add_middleware(
        _middleware(fw).TrustedHost, allowed_hosts=["example.com", "*.example.org", "www.shop.io"]
    )


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "example.com:8000",
        "api.example.org",
        "example.org",
        "evil.com",
        "shop.io",
        "shop.io:8443",
        "www.shop.io",
        "",
    ],
)
def test_trusted_host_answers_as_starlettes(placement: str, host: str) -> None:
    request = _pair(placement, _trusted)
    theirs, ours = request("GET", "/where?x=1", headers={"host": host})
    _same(theirs, ours)


def test_refused_host_gets_400_in_plain_text() -> None:
    _, ours = _pair("native", _trusted)("GET", "/where", headers={"host": "evil.com"})
    assert (ours.status_code, ours.text) == (400, "Invalid host header")
    _, moved = _pair("native", _trusted)("GET", "/where?x=1", headers={"host": "shop.io"})
    assert (moved.status_code, moved.headers["location"]) == (307, "http://www.shop.io/where?x=1")


@pytest.mark.parametrize("pattern", ["exa*mple.com", "*example.com", "a.*.com"])
def test_bad_wildcards_are_refused(fw: SimpleNamespace, pattern: str) -> None:
    with pytest.raises((AssertionError, ValueError)):
        _middleware(fw).TrustedHost(None, allowed_hosts=[pattern])


def test_trusted_host_refuses_a_websocket_handshake() -> None:
    import ignyx
    from ignyx.middleware.trustedhost import TrustedHostMiddleware
    from ignyx.websockets import WebSocketDisconnect

    app = ignyx.FastAPI()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["example.com"])

    @app.websocket("/ws")
    async def ws(websocket: ignyx.WebSocket):
        await websocket.accept()
        await websocket.close()

    with ignyx.testclient.TestClient(app) as client:
        with pytest.raises(WebSocketDisconnect):
            with client.websocket_connect("/ws", headers={"host": "evil.com"}):
                pass
        with client.websocket_connect("/ws", headers={"host": "example.com"}):
            pass


# -- HTTPSRedirect -------------------------------------------------------------------------


def _https(fw: SimpleNamespace, app: Any) -> None:
    app.add_middleware(_middleware(fw).HTTPSRedirect)


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize(
    "host, path",
    [
        ("example.com", "/where"),
        ("example.com:80", "/where?a=1&b=%20"),
        ("example.com:8080", "/big"),
        ("example.com:443", "/small"),
        ("[::1]:8080", "/where"),
    ],
)
def test_https_redirect_answers_as_starlettes(placement: str, host: str, path: str) -> None:
    request = _pair(placement, _https)
    theirs, ours = request("GET", path, headers={"host": host})
    _same(theirs, ours)
    assert ours.status_code == 307


def test_https_requests_pass_through() -> None:
    import ignyx
    from ignyx.middleware.httpsredirect import HTTPSRedirectMiddleware

    app = ignyx.FastAPI()
    app.add_middleware(HTTPSRedirectMiddleware)

    @app.get("/")
    def root(request: ignyx.Request):
        return {"scheme": request.url.scheme}

    with live_server(app, proxy_headers=True) as server:
        url = f"http://127.0.0.1:{server.port}/"
        moved = httpx.get(url, follow_redirects=False)
        secure = httpx.get(url, headers={"x-forwarded-proto": "https"})
    assert (moved.status_code, moved.headers["location"]) == (
        307,
        f"https://127.0.0.1:{server.port}/",
    )
    assert secure.json() == {"scheme": "https"}


# -- order -------------------------------------------------------------------------------


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_cors_and_gzip_compose_in_starlettes_order(placement: str) -> None:
    def both(fw: SimpleNamespace, app: Any) -> None:
        app.add_middleware(_middleware(fw).GZip, minimum_size=100)
        app.add_middleware(fw.CORSMiddleware, allow_origins=["https://a.example"])
        app.add_middleware(_middleware(fw).TrustedHost, allowed_hosts=["testserver"])

    request = _pair(placement, both)
    origin = {"origin": "https://a.example", "accept-encoding": "gzip"}
    for method, url, headers in [
        ("GET", "/big", origin),
        ("GET", "/big", {**origin, "host": "evil.com"}),
        (
            "OPTIONS",
            "/big",
            {**origin, "access-control-request-method": "GET"},
        ),
    ]:
        theirs, ours = request(method, url, headers=headers)
        _same(theirs, ours, "access-control-allow-origin")
