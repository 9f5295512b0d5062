"""Starlette's building blocks, the way add-ons use them: ``route.matches(scope)``,
``add_route`` with a plain endpoint, custom ``APIRoute`` classes through
``get_route_handler`` (FastAPI's "custom Request and APIRoute class" recipe), requests
built from plain scopes, and responses as ASGI apps, checked against FastAPI."""

import asyncio
import gzip
import json

import pytest
from conftest import differential, framework
from starlette.routing import Match as StarletteMatch


def _routing(fw):
    if fw.name == "fastapi":
        import fastapi.routing as routing
    else:
        import ignyx.routing as routing
    return routing


def build(fw):
    routing = _routing(fw)

    class TimedRoute(routing.APIRoute):
        def get_route_handler(self):
            original = super().get_route_handler()

            async def timed(request):
                response = await original(request)
                response.headers["x-response-time"] = "fixed"
                return response

            return timed

    class BodyInErrors(routing.APIRoute):
        def get_route_handler(self):
            original = super().get_route_handler()

            async def logged(request):
                try:
                    return await original(request)
                except fw.HTTPException:
                    raise
                except Exception as exc:
                    body = await request.body()
                    raise fw.HTTPException(
                        status_code=422,
                        detail={"errors": str(type(exc).__name__), "body": body.decode()},
                    ) from None

            return logged

    class GzipRequest(fw.Request):
        async def body(self) -> bytes:
            if not hasattr(self, "_unzipped"):
                body = await super().body()
                if "gzip" in self.headers.getlist("content-encoding"):
                    body = gzip.decompress(body)
                self._unzipped = body
            return self._unzipped

    class GzipRoute(routing.APIRoute):
        def get_route_handler(self):
            original = super().get_route_handler()

            async def unzipping(request):
                return await original(GzipRequest(request.scope, request.receive))

            return unzipping

    app = fw.FastAPI()
    timed = fw.APIRouter(route_class=TimedRoute)

    @timed.get("/timed/{item_id}")
    def timed_item(item_id: int):
        return {"item_id": item_id}

    @timed.get("/timed-text", response_class=fw.responses.PlainTextResponse)
    def timed_text():
        return "words"

    logged = fw.APIRouter(route_class=BodyInErrors)

    @logged.post("/sum")
    def add(numbers: list[int] = fw.Body()):
        return {"sum": sum(numbers)}

    zipped = fw.APIRouter(route_class=GzipRoute)

    @zipped.post("/gzipped-sum")
    def gzipped_sum(numbers: list[int] = fw.Body()):
        return {"sum": sum(numbers)}

    app.include_router(timed)
    app.include_router(logged)
    app.include_router(zipped)

    async def health(request):
        return fw.responses.JSONResponse({"status": "ok", "path": request.url.path})

    app.add_route("/health", health, methods=["GET"])

    @app.get("/items/{item_id}")
    def item(item_id: int):
        return {"item_id": item_id}

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", "/timed/3", {}),
        ("GET", "/timed/x", {}),
        ("GET", "/timed-text", {}),
        ("POST", "/sum", {"json": [1, 2, 3]}),
        ("POST", "/sum", {"json": ["a"]}),
        ("GET", "/health", {}),
        ("POST", "/health", {}),
        (
            "POST",
            "/gzipped-sum",
            {
                "content": gzip.compress(b"[1, 2, 3]"),
                "headers": {"content-encoding": "gzip", "content-type": "application/json"},
            },
        ),
        ("POST", "/gzipped-sum", {"json": [4, 5]}),
    ],
)
def test_custom_routes_answer_as_in_fastapi(clients, method, url, kwargs):
    differential(clients, method, url, **kwargs)
    theirs, ours = clients.request(method, url, **kwargs)
    assert ours.headers.get("x-response-time") == theirs.headers.get("x-response-time")


def test_a_custom_route_class_wraps_every_response(clients):
    assert differential(clients, "GET", "/timed/3").headers["x-response-time"] == "fixed"


def _scope(path, method="GET", kind="http"):
    return {"type": kind, "path": path, "method": method, "root_path": "", "headers": []}


@pytest.mark.parametrize(
    ("path", "method"),
    [("/items/3", "GET"), ("/items/3", "POST"), ("/items/x", "GET"), ("/health", "GET")],
)
def test_routes_match_scopes_as_fastapis_do(path, method):
    def outcomes(fw):
        app = build(fw)
        out = []
        for route in app.routes:
            if not hasattr(route, "matches"):
                continue
            match, child = route.matches(_scope(path, method))
            out.append((getattr(route, "path", None), match.name, child.get("path_params")))
        return [o for o in out if o[1] != "NONE"]

    assert outcomes(framework("ignyx")) == outcomes(framework("fastapi"))


def test_our_match_compares_equal_to_starlettes():
    from ignyx.routing import Match

    assert Match.FULL == StarletteMatch.FULL
    assert Match.NONE == StarletteMatch.NONE
    assert Match.FULL != StarletteMatch.PARTIAL


def test_requests_from_plain_scopes_and_responses_as_asgi_apps():
    from ignyx.requests import HTTPConnection, Request
    from ignyx.responses import JSONResponse

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/p",
        "query_string": b"a=1&a=2",
        "headers": [(b"content-type", b"application/json"), (b"x-thing", b"yes")],
        "app": None,
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b'{"k": 1}', "more_body": False}

    async def send(message):
        sent.append(message)

    async def scenario():
        request = Request(scope, receive)
        assert request["path"] == "/p" and request.method == "POST"
        assert request.query_params.getlist("a") == ["1", "2"]
        assert request.headers["x-thing"] == "yes"
        assert await request.json() == {"k": 1}
        request.state.user = "ada"
        assert scope["state"] == {"user": "ada"}
        assert HTTPConnection(scope).url.path == "/p"
        await JSONResponse({"ok": True}, status_code=201)(scope, receive, send)

    asyncio.run(scenario())
    assert sent[0]["status"] == 201
    assert (b"content-type", b"application/json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == {"ok": True}


@pytest.mark.parametrize("module", ["starlette.datastructures", "ignyx.datastructures"])
def test_mutable_headers_of_a_scope_change_the_scopes_headers(module):
    import importlib

    MutableHeaders = importlib.import_module(module).MutableHeaders
    scope = {"type": "http", "headers": [(b"host", b"example.com"), (b"x-id", b"1")]}
    headers = MutableHeaders(scope=scope)
    assert headers["x-id"] == "1"
    headers["X-Request-ID"] = "abc"
    headers.append("vary", "origin")
    del headers["x-id"]
    assert scope["headers"] == [
        (b"host", b"example.com"),
        (b"x-request-id", b"abc"),
        (b"vary", b"origin"),
    ]
    message = {"type": "http.response.start", "status": 200, "headers": []}
    MutableHeaders(scope=message).append("x-out", "yes")
    assert message["headers"] == [(b"x-out", b"yes")]


def build_starlette_responses(fw):
    # Starlette's own response classes, as add-ons and older apps return them.
    from starlette.background import BackgroundTask
    from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse

    app = fw.FastAPI()
    done: list[str] = []

    class Refused(Exception):
        pass

    @app.exception_handler(Refused)
    async def refused(request, exc):
        return JSONResponse({"error": "refused"}, status_code=429, headers={"retry-after": "7"})

    @app.get("/json")
    def json_response():
        return JSONResponse({"from": "starlette"}, headers={"x-extra": "1"})

    @app.get("/text")
    async def text():
        return PlainTextResponse("plain", status_code=201)

    @app.get("/stream")
    def stream():
        return StreamingResponse(iter([b"a", b"b"]), media_type="text/plain")

    @app.get("/later")
    def later():
        return JSONResponse({"later": True}, background=BackgroundTask(done.append, "ran"))

    @app.get("/done")
    def ran():
        return {"done": done}

    @app.get("/refuse")
    def refuse():
        raise Refused()

    return app


@pytest.mark.parametrize("url", ["/json", "/text", "/stream", "/refuse"])
def test_starlettes_responses_returned_by_handlers_are_sent_as_fastapi_sends_them(dual, url):
    differential(dual(build_starlette_responses), "GET", url)


def test_a_starlette_responses_background_task_runs(dual):
    pair = dual(build_starlette_responses)
    differential(pair, "GET", "/later")
    assert differential(pair, "GET", "/done").json() == {"done": ["ran"]}


@pytest.mark.parametrize("name", ["fastapi", "ignyx"])
def test_plain_routes_and_websocket_routes_also_come_with_included_routers(name):
    fw = framework(name)
    if name == "fastapi":
        from fastapi.routing import APIRouter
        from starlette.routing import Route, WebSocketRoute
    else:
        from ignyx.routing import APIRouter, Route, WebSocketRoute

    async def health(request):
        return fw.responses.PlainTextResponse(f"ok {request.url.path}")

    async def echo(websocket):
        await websocket.accept()
        await websocket.send_text("echo " + await websocket.receive_text())
        await websocket.close()

    router = APIRouter()
    router.routes.append(Route("/health", health, methods=["GET"]))
    router.routes.append(WebSocketRoute("/ws", echo))
    app = fw.FastAPI()
    app.include_router(router, prefix="/v1")
    app.router.add_websocket_route("/direct", echo)
    with fw.TestClient(app) as client:
        assert client.get("/v1/health").text == "ok /v1/health"
        for path in ("/v1/ws", "/direct"):
            with client.websocket_connect(path) as ws:
                ws.send_text("hi")
                assert ws.receive_text() == "echo hi"
