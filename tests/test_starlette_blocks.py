"""Starlette's building blocks, the way add-ons use them: ``route.matches(scope)``,
``add_route`` with a plain endpoint, custom ``APIRoute`` classes through
``get_route_handler`` (FastAPI's "custom Request and APIRoute class" recipe), requests
built from plain scopes, and responses as ASGI apps, checked against FastAPI."""

import asyncio
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

    app.include_router(timed)
    app.include_router(logged)

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
