"""Python middleware on the native server and under an ASGI server: ``@app.middleware("http")``,
pure ASGI middleware classes, ``Middleware(...)`` lists, Starlette's own ``GZipMiddleware``,
asgi-correlation-id, and Starlette's order (the last added is the outermost, with CORS
keeping its place among Python middleware), each checked against FastAPI."""

import asyncio
import contextvars
import gzip
from urllib.parse import unquote

import httpx
import pytest
from conftest import differential, framework

request_tag: contextvars.ContextVar[str] = contextvars.ContextVar("request_tag", default="unset")


class StampMiddleware:
    """A pure ASGI middleware: adds `x-stamp` to responses and a request header the handler
    can read."""

    def __init__(self, app, stamp: str = "stamped"):
        self.app = app
        self.stamp = stamp

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["headers"] = [*scope["headers"], (b"x-seen-by", self.stamp.encode())]
        request_tag.set(self.stamp)

        async def stamped(message):
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-stamp", self.stamp.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


def build(fw):
    app = fw.FastAPI()

    @app.middleware("http")
    async def add_timing(request, call_next):
        request.state.user = request.headers.get("x-user", "nobody")
        if request.url.path == "/blocked":
            return fw.responses.JSONResponse({"blocked": True}, status_code=403)
        response = await call_next(request)
        response.headers["x-process-time"] = "0.001"
        return response

    app.add_middleware(StampMiddleware, stamp="outer")

    @app.get("/users/{user_id}")
    def user(user_id: int, request: fw.Request):
        return {
            "user_id": user_id,
            "user": request.state.user,
            "seen_by": request.headers.get("x-seen-by"),
            "tag": request_tag.get(),
        }

    @app.get("/async")
    async def in_async(request: fw.Request):
        return {"user": request.state.user, "tag": request_tag.get()}

    @app.post("/echo")
    async def echo(request: fw.Request):
        return {"body": (await request.body()).decode()}

    @app.get("/stream")
    def stream():
        def chunks():
            yield "a,"
            yield "b,"
            yield "c"

        return fw.responses.StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/slow")
    async def slow(request: fw.Request):
        # A real wait: the middleware's call_next goes on after the loop's timer.
        await asyncio.sleep(0.01)
        return {"user": request.state.user}

    @app.get("/ticks")
    async def ticks():
        async def chunks():
            for n in range(3):
                await asyncio.sleep(0.005)
                yield f"tick {n}\n"

        return fw.responses.StreamingResponse(chunks(), media_type="text/event-stream")

    @app.get("/fail")
    def fail():
        raise fw.HTTPException(409, "conflict")

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", "/users/3", {"headers": {"x-user": "ada"}}),
        ("GET", "/users/x", {}),
        ("GET", "/async", {"headers": {"x-user": "grace"}}),
        ("POST", "/echo", {"content": b"hello middleware"}),
        ("GET", "/stream", {}),
        ("GET", "/slow", {"headers": {"x-user": "ada"}}),
        ("GET", "/ticks", {}),
        ("GET", "/fail", {}),
        ("GET", "/blocked", {}),
        ("GET", "/missing", {}),
    ],
)
def test_middleware_answers_match_fastapi(clients, method, url, kwargs):
    differential(clients, method, url, **kwargs)
    theirs, ours = clients.request(method, url, **kwargs)
    for header in ("x-stamp", "x-process-time"):
        assert ours.headers.get(header) == theirs.headers.get(header), header


def test_state_headers_and_contextvars_set_in_middleware_reach_the_handler(clients):
    response = differential(clients, "GET", "/users/3", headers={"x-user": "ada"})
    assert response.json() == {"user_id": 3, "user": "ada", "seen_by": "outer", "tag": "outer"}
    assert response.headers["x-stamp"] == "outer"
    assert response.headers["x-process-time"] == "0.001"


class Trail:
    """A pure ASGI middleware that appends its name to `x-trail` on the way in and out."""

    def __init__(self, app, name: str):
        self.app = app
        self.name = name

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["headers"] = [*scope["headers"], (b"x-in", self.name.encode())]

        async def out(message):
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-out", self.name.encode())],
                }
            await send(message)

        await self.app(scope, receive, out)


def build_ordered(fw):
    Middleware = _middleware_class(fw)
    app = fw.FastAPI(middleware=[Middleware(Trail, name="first-listed")])
    app.add_middleware(Trail, name="inner")
    app.add_middleware(
        fw.CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["GET"]
    )
    app.add_middleware(Trail, name="outer")

    @app.get("/trail")
    def trail(request: fw.Request):
        return {"in": request.headers.getlist("x-in")}

    return app


def _middleware_class(fw):
    if fw.name == "fastapi":
        from fastapi.middleware import Middleware
    else:
        from ignyx.middleware import Middleware
    return Middleware


@pytest.fixture(scope="module")
def ordered(dual):
    return dual(build_ordered)


def test_the_last_added_middleware_is_the_outermost(ordered):
    response = differential(ordered, "GET", "/trail")
    assert response.json() == {"in": ["outer", "inner", "first-listed"]}
    theirs, ours = ordered.request("GET", "/trail")
    assert ours.headers.get_list("x-out") == theirs.headers.get_list("x-out")


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://app.example"},
        {"origin": "https://elsewhere.example"},
        {
            "origin": "https://app.example",
            "access-control-request-method": "GET",
        },
    ],
)
def test_cors_between_python_middleware_keeps_its_place(ordered, headers):
    method = "OPTIONS" if "access-control-request-method" in headers else "GET"
    differential(ordered, method, "/trail", headers=headers)
    theirs, ours = ordered.request(method, "/trail", headers=headers)
    # Inside "outer", CORS answers a preflight itself; "outer" still stamps it.
    assert ours.headers.get_list("x-out") == theirs.headers.get_list("x-out")


def build_gzip(fw):
    from starlette.middleware.gzip import GZipMiddleware

    app = fw.FastAPI()
    app.add_middleware(GZipMiddleware, minimum_size=10)

    @app.get("/big")
    def big():
        return {"words": ["compress me"] * 50}

    return app


def test_starlettes_own_gzip_middleware_runs_on_ignyx(dual):
    pair = dual(build_gzip)
    response = differential(pair, "GET", "/big", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    raw = pair.ignyx.get("/big", headers={"accept-encoding": "gzip"})
    assert raw.json() == {"words": ["compress me"] * 50}
    plain = differential(pair, "GET", "/big", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert gzip.compress(plain.content) != plain.content


def test_asgi_correlation_id_gives_each_request_an_id_the_handler_sees():
    import ignyx
    from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
    from ignyx.testclient import TestClient

    app = ignyx.FastAPI()
    app.add_middleware(CorrelationIdMiddleware)

    @app.get("/id")
    def the_id():
        return {"id": correlation_id.get()}

    with TestClient(app) as client:
        given = client.get("/id", headers={"x-request-id": "4c4e6f0c1f2a4b7e9d3c2b1a0f9e8d7c"})
        assert given.headers["x-request-id"] == "4c4e6f0c1f2a4b7e9d3c2b1a0f9e8d7c"
        assert given.json() == {"id": "4c4e6f0c1f2a4b7e9d3c2b1a0f9e8d7c"}
        fresh = client.get("/id")
        assert fresh.json()["id"] == fresh.headers["x-request-id"]
        assert len(fresh.json()["id"]) == 32


async def _through_asgi(app, method, url, **kwargs):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, url, **kwargs)


@pytest.mark.parametrize(
    ("builder", "method", "url", "kwargs"),
    [
        (build, "GET", "/users/3", {"headers": {"x-user": "ada"}}),
        (build, "GET", "/blocked", {}),
        (build, "GET", "/stream", {}),
        (build_ordered, "GET", "/trail", {"headers": {"origin": "https://app.example"}}),
        (
            build_ordered,
            "OPTIONS",
            "/trail",
            {
                "headers": {
                    "origin": "https://app.example",
                    "access-control-request-method": "GET",
                }
            },
        ),
    ],
)
def test_middleware_under_an_asgi_server_matches_fastapi(builder, method, url, kwargs):
    theirs = asyncio.run(_through_asgi(builder(framework("fastapi")), method, url, **kwargs))
    ours = asyncio.run(_through_asgi(builder(framework("ignyx")), method, url, **kwargs))
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content)
    for header in ("x-stamp", "x-process-time", "access-control-allow-origin", "vary"):
        assert ours.headers.get(header) == theirs.headers.get(header), header
    assert ours.headers.get_list("x-out") == theirs.headers.get_list("x-out")


def test_an_app_without_python_middleware_builds_no_stack():
    import ignyx

    app = ignyx.FastAPI()
    app.add_middleware(ignyx.middleware.CORSMiddleware, allow_origins=["*"])
    outer, python, inner = app._middleware_layers()
    # The engine runs it, in the native chain outside (there is no Python middleware).
    assert len(outer) == 1 and python == [] and inner is None


def test_prometheus_instrumentator_labels_requests_with_route_templates():
    import ignyx
    from ignyx.testclient import TestClient
    from prometheus_client import CollectorRegistry
    from prometheus_fastapi_instrumentator import Instrumentator

    app = ignyx.FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int):
        return {"item_id": item_id}

    Instrumentator(registry=CollectorRegistry()).instrument(app).expose(app)
    with TestClient(app) as client:
        assert client.get("/items/3").json() == {"item_id": 3}
        assert client.get("/items/4").status_code == 200
        assert client.get("/items/x").status_code == 422
        metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    lines = metrics.text.splitlines()
    assert 'http_requests_total{handler="/items/{item_id}",method="GET",status="2xx"} 2.0' in lines
    assert 'http_requests_total{handler="/items/{item_id}",method="GET",status="4xx"} 1.0' in lines


class RouteNamer:
    """Reads what routing left in the scope once the app has answered."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message):
            if message["type"] == "http.response.start":
                route = scope.get("route")
                extra = [
                    (b"x-route", (route.path if route else "-").encode()),
                    (b"x-params", repr(scope.get("path_params")).encode()),
                    (b"x-endpoint", getattr(scope.get("endpoint"), "__name__", "-").encode()),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, named)


def build_named(fw):
    app = fw.FastAPI()
    app.add_middleware(RouteNamer)

    @app.get("/items/{item_id}")
    def read_item(item_id: int):
        return {"item_id": item_id}

    return app


@pytest.mark.parametrize("url", ["/items/5", "/items/x", "/nowhere"])
def test_middleware_finds_the_route_in_the_scope_after_routing(dual, url):
    pair = dual(build_named)
    differential(pair, "GET", url)
    theirs, ours = pair.request("GET", url)
    for header in ("x-route", "x-params", "x-endpoint"):
        assert ours.headers[header] == theirs.headers[header], header


class PathEcho:
    """A pure ASGI middleware that answers with the scope's `path` and `raw_path` as the
    handler would be given them."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def echoed(message):
            if message["type"] == "http.response.start":
                path, raw = scope["path"].encode("utf-8"), scope["raw_path"]
                message = {**message, "headers": [*message["headers"], (b"x-raw", raw)]}
                message["headers"].append((b"x-path", path.hex().encode()))
            await send(message)

        await self.app(scope, receive, echoed)


def build_path_echo(fw):
    app = fw.FastAPI()
    app.add_middleware(PathEcho)

    @app.get("/files/{name}")
    def read_file(name: str, request: fw.Request):
        return {"name": name, "path": request.url.path, "raw": request.scope["raw_path"].hex()}

    return app


@pytest.mark.parametrize(
    "url", ["/files/ab", "/files/a%20b", "/files/%C3%A9t%C3%A9", "/files/a%2Fb"]
)
def test_the_raw_path_is_the_path_as_sent_and_the_path_is_decoded(dual, url):
    ours = differential(dual(build_path_echo), "GET", url)
    assert ours.headers["x-raw"] == url
    assert bytes.fromhex(ours.headers["x-path"]).decode() == unquote(url)
    if ours.status_code == 200:  # a%2Fb is /files/a/b decoded: no route
        assert ours.json()["path"] == unquote(url)
        assert bytes.fromhex(ours.json()["raw"]).decode() == url


class WebSocketGate:
    """A pure ASGI middleware that turns away WebSockets without a token and tells the
    handler who came in (through the scope's state)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            headers = dict(scope["headers"])
            if headers.get(b"x-token") != b"secret":
                await receive()
                await send({"type": "websocket.close", "code": 1008})
                return
            scope["state"]["user"] = "ada"
        await self.app(scope, receive, send)


def test_websockets_pass_through_python_middleware(fw):
    app = fw.FastAPI()
    app.add_middleware(WebSocketGate)

    @app.websocket("/ws/{room}")
    async def chat(websocket: fw.WebSocket, room: str):
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{room}:{text}:{websocket.state.user}")
        await websocket.close()

    with fw.TestClient(app) as client:
        with client.websocket_connect("/ws/lobby", headers={"x-token": "secret"}) as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "lobby:hi:ada"
        with pytest.raises(fw.WebSocketDisconnect) as refused:
            with client.websocket_connect("/ws/lobby"):
                pass
        assert refused.value.code == 1008


class Rewriter:
    """A pure ASGI middleware that changes what the handler gets: the path (`/old/...` is
    served as `/new/...`), the body (upper-cased), the client and scheme (as a proxy-headers
    middleware does), a header appended to the scope's own list, and the scope's state."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/old/"):
            scope["path"] = "/new/" + scope["path"][len("/old/") :]
            scope["raw_path"] = scope["path"].encode()
        if dict(scope["headers"]).get(b"x-forwarded-for"):
            scope["client"] = ("203.0.113.7", 4242)
            scope["scheme"] = "https"
        scope["headers"].append((b"x-appended", b"in place"))
        scope["state"]["who"] = "rewriter"

        async def upper() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                message = {**message, "body": message.get("body", b"").upper()}
            return message

        await self.app(scope, upper, send)


def build_rewritten(fw):
    app = fw.FastAPI()
    app.add_middleware(Rewriter)

    @app.get("/old/{name}")
    def old(name: str):
        return {"old": name}

    @app.get("/new/{name}")
    def new(name: str, request: fw.Request):
        return {"name": name, "path": request.url.path}

    @app.post("/echo")
    async def echo(request: fw.Request):
        return {"body": (await request.body()).decode()}

    @app.get("/who")
    def who(request: fw.Request):
        # (Starlette's test client calls itself "testclient": only a rewritten one is shown.)
        client = request.client
        return {
            "client": f"{client.host}:{client.port}" if client.port == 4242 else "direct",
            "scheme": request.url.scheme,
            "appended": request.headers.get("x-appended"),
            "who": request.state.who,
        }

    return app


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", "/old/ada", {}),  # the engine matched /old/{name}; the middleware moved it
        ("GET", "/new/grace", {}),
        ("POST", "/echo", {"content": b"quiet please"}),
        ("GET", "/who", {}),
        ("GET", "/who", {"headers": {"x-forwarded-for": "203.0.113.7"}}),
    ],
)
def test_what_a_middleware_rewrites_in_the_scope_is_what_the_handler_gets(
    dual, method, url, kwargs
):
    # The engine routes a request before its middleware runs; what they change is read anew.
    differential(dual(build_rewritten), method, url, **kwargs)


def build_cors_inside(fw):
    # CORS added first: inside the Python middleware, right around the routes.
    app = fw.FastAPI()
    app.add_middleware(
        fw.CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["GET"]
    )
    app.add_middleware(Trail, name="outer")

    @app.get("/trail")
    def trail(request: fw.Request):
        return {"in": request.headers.getlist("x-in")}

    return app


@pytest.mark.parametrize(
    ("method", "url", "headers"),
    [
        ("GET", "/trail", {"origin": "https://app.example"}),
        ("GET", "/trail", {"origin": "https://elsewhere.example"}),
        ("GET", "/missing", {"origin": "https://app.example"}),
        (
            "OPTIONS",
            "/trail",
            {"origin": "https://app.example", "access-control-request-method": "GET"},
        ),
        (
            "OPTIONS",
            "/trail",
            {"origin": "https://app.example", "access-control-request-method": "PUT"},
        ),
    ],
)
def test_cors_inside_python_middleware_answers_as_fastapi(dual, method, url, headers):
    pair = dual(build_cors_inside)
    differential(pair, method, url, headers=headers)
    theirs, ours = pair.request(method, url, headers=headers)
    assert ours.headers.get_list("x-out") == theirs.headers.get_list("x-out") == ["outer"]


def build_rate_limited(fw):
    # slowapi as its documentation sets it up: a default limit through its middleware, and
    # a tighter one on a route by decorator (which insists on Starlette's own Request).
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.middleware import SlowAPIMiddleware
    from slowapi.util import get_remote_address
    from starlette.requests import Request as StarletteRequest

    limiter = Limiter(key_func=get_remote_address, default_limits=["2/minute"])
    app = fw.FastAPI()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)
    app.add_middleware(SlowAPIMiddleware)

    @app.get("/hello")
    def hello():
        return {"hello": "world"}

    @app.get("/once")
    @limiter.limit("1/minute")
    def once(request: StarletteRequest):
        return {"once": request.url.path}

    return app


def test_slowapi_limits_answer_429_as_on_fastapi(fw):
    app = build_rate_limited(fw)
    with fw.TestClient(app) as client:
        hello = [client.get("/hello") for _ in range(3)]
        once = [client.get("/once") for _ in range(2)]
    assert [r.status_code for r in hello] == [200, 200, 429]
    assert hello[2].json() == {"error": "Rate limit exceeded: 2 per 1 minute"}
    assert [r.status_code for r in once] == [200, 429]
    assert once[0].json() == {"once": "/once"}
    assert once[1].json() == {"error": "Rate limit exceeded: 1 per 1 minute"}


class Conflict(Exception):
    """An exception the app has a handler of its own for."""


class ErrorWatch:
    """A pure ASGI middleware that sees what goes on out of the app: an exception (which it
    names in a header of the 500 it answers), or a response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/watched"):
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except LookupError as exc:
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"x-watched", type(exc).__name__.encode())],
                }
            )
            await send({"type": "http.response.body", "body": b"watched"})


def build_failing(fw):
    app = fw.FastAPI()

    @app.middleware("http")
    async def catch(request, call_next):
        try:
            response = await call_next(request)
        except ZeroDivisionError as exc:
            return fw.responses.JSONResponse({"caught": str(exc)}, status_code=500)
        response.headers["x-passed"] = "yes"
        return response

    app.add_middleware(ErrorWatch)

    @app.exception_handler(Conflict)
    async def conflict(request, exc):
        return fw.responses.JSONResponse({"conflict": str(exc)}, status_code=409)

    @app.get("/divide")
    def divide():
        return 1 / 0

    @app.get("/adivide")
    async def adivide():
        await asyncio.sleep(0)
        return 1 / 0

    @app.get("/conflict")
    def conflicting():
        raise Conflict("taken")

    @app.get("/missing")
    async def missing():
        raise fw.HTTPException(404, "no such thing")

    @app.get("/watched/key")
    def key():
        return {}["absent"]

    @app.get("/other")
    def other():
        raise RuntimeError("nobody catches this")

    return app


def build_failing_with_catch_all(fw):
    app = build_failing(fw)

    @app.exception_handler(Exception)
    async def everything(request, exc):
        return fw.responses.PlainTextResponse(f"caught {type(exc).__name__}", status_code=500)

    return app


@pytest.mark.parametrize("builder", [build_failing, build_failing_with_catch_all])
@pytest.mark.parametrize(
    "url", ["/divide", "/adivide", "/conflict", "/missing", "/watched/key", "/other"]
)
def test_an_unhandled_exception_goes_on_out_through_the_middleware(dual, builder, url):
    """As in Starlette: an exception the app has no handler of its own for goes on out of
    ``call_next`` and through every ASGI middleware (each may catch it); the app's handler
    for ``Exception`` (or its plain 500) answers it outside them all. Those it has a handler
    for (HTTPException, a registered class) are answered inside, and the middleware sees a
    response. (Ignyx answered all of them inside, and an error-catching middleware never saw
    the exception.)"""
    response = differential(dual(builder), "GET", url)
    expected = {
        "/divide": (500, b'{"caught":"division by zero"}'),
        "/adivide": (500, b'{"caught":"division by zero"}'),
        "/conflict": (409, b'{"conflict":"taken"}'),
        "/missing": (404, b'{"detail":"no such thing"}'),
        "/watched/key": (500, b"watched"),
    }
    if url in expected:
        assert (response.status_code, response.content) == expected[url]
    elif builder is build_failing:
        assert (response.status_code, response.text) == (500, "Internal Server Error")
    else:
        assert (response.status_code, response.text) == (500, "caught RuntimeError")
    passed = url in ("/conflict", "/missing")
    assert response.headers.get("x-passed") == ("yes" if passed else None)
    assert response.headers.get("x-watched") == ("KeyError" if url == "/watched/key" else None)


@pytest.mark.parametrize("url", ["/divide", "/adivide", "/conflict", "/other"])
def test_an_unhandled_exception_under_an_asgi_server_matches_fastapi(url):
    """The app as another server's ASGI app answers the same: its own 500 comes from outside
    its middleware (the server is not handed the exception, as Starlette's would be; the app
    has logged it)."""

    async def through(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(url)

    theirs = asyncio.run(through(build_failing(framework("fastapi"))))
    ours = asyncio.run(through(build_failing(framework("ignyx"))))
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content)
    assert ours.headers.get("x-passed") == theirs.headers.get("x-passed")
