"""``FastAPI(telemetry={...})`` (FastAPI 0.165's OpenTelemetry): the same app, written once
with FastAPI's names and once with Ignyx's, each recording through its own tracer, meter and
logger providers (the OpenTelemetry SDK's in-memory exporters, passed explicitly: the global
providers can be set only once per process and are never touched here). The same requests
go to both test clients, and what the two recorded must be the same once normalised: span
names, kinds, statuses, attributes and parent-child structure (by name), the metric points
(name, unit, attributes, histogram counts and bounds, the active-requests counter back at 0)
and the log records (event name, severity, body, attributes, the span they belong to).

Normalisation drops only what cannot agree: timestamps, durations, ids (kept as "which span
is the parent", and as the remote parent's ids when a ``traceparent`` came in), the
instrumentation scope's version (FastAPI's version against Ignyx's) and an exception's stack
trace (each framework's frames; its type and message are compared). Both test clients send
``Host: testserver``, so ``server.address`` and ``server.port`` are compared as they are,
and the endpoints are defined once (`build`), so ``code.function.name`` is too.

The cases include what once differed: a 405 names the route whose path matched, a convertor
is not part of ``http.route``, a failing background task gives its log record, and a context
attached by middleware is detached in the same context (an operation span open across a
pause does not become the next one's parent). Ignyx-only: without a provider configured, telemetry stays off
(``app._telemetry is None``) and routes keep their fast plans; with it on, every answer is
byte-identical to the answer without it.
"""

import logging
import time
from types import SimpleNamespace
from typing import Any, Callable, Optional

import pytest
from conftest import framework
from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

FRAMEWORKS = ("fastapi", "ignyx")
SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"
DURATION_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
OPERATIONS = {"fastapi.dependencies", "fastapi.endpoint", "fastapi.serialization"}

# A remote parent, as a W3C ``traceparent`` header carries it.
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


# --- the app ----------------------------------------------------------------------------------


class Item(BaseModel):
    name: str
    price: float


class PublicUser(BaseModel):
    name: str


def token_dependency(token: str = "anonymous") -> str:
    return token


def note(message: str) -> None:
    """A background task."""


def failing_note() -> None:
    raise RuntimeError("background failure")


def build(fw: SimpleNamespace, telemetry: Optional[dict[str, Any]]) -> Any:
    """The app, with framework `fw`'s names (no telemetry argument when `telemetry` is None).
    The endpoints are ``build.<locals>.<name>`` in both, as ``code.function.name`` says."""
    app = fw.FastAPI() if telemetry is None else fw.FastAPI(telemetry=telemetry)
    Depends, HTTPException, Response = fw.Depends, fw.HTTPException, fw.Response

    @app.get("/sync")
    def sync_route(q: int = 0, sig: str = ""):
        return {"q": q}

    @app.get("/async")
    async def async_route(q: str, token: str = Depends(token_dependency)):
        return {"q": q, "token": token}

    @app.get("/sync-boom")
    def sync_boom():
        raise ValueError("sync boom")

    @app.get("/async-boom")
    async def async_boom():
        raise KeyError("async boom")

    @app.get("/forbidden")
    def forbidden():
        raise HTTPException(status_code=403, detail="Forbidden here")

    @app.get("/plain")
    def plain():
        return Response(content="plain text", media_type="text/plain")

    @app.get("/user", response_model=PublicUser)
    def user():
        return {"name": "ada", "password": "hidden"}

    @app.post("/items", status_code=201)
    async def create_item(item: Item):
        return {"name": item.name, "price": item.price}

    @app.get("/background")
    def background(tasks: fw.BackgroundTasks):
        tasks.add_task(note, "done")
        return {"queued": True}

    @app.get("/background-fails")
    def background_fails(tasks: fw.BackgroundTasks):
        tasks.add_task(failing_note)
        return {"queued": True}

    @app.get("/health")
    def health():
        return {"ok": True}

    router = fw.APIRouter(prefix="/api")

    @router.get("/users/{user_id}")
    def read_user(user_id: str):
        return {"user_id": user_id}

    @router.get("/items/{item_id:int}")
    def read_item(item_id: int):
        return {"item_id": item_id}

    app.include_router(router)

    @app.websocket("/ws")
    async def ws_echo(websocket: fw.WebSocket, token: str = Depends(token_dependency)):
        await websocket.accept()
        message = await websocket.receive_text()
        await websocket.send_text(f"{token}: {message}")
        await websocket.close()

    @app.websocket("/ws-boom")
    async def ws_boom(websocket: fw.WebSocket):
        await websocket.accept()
        await websocket.receive_text()
        raise RuntimeError("ws boom")

    @app.websocket("/ws-wait")
    async def ws_wait(websocket: fw.WebSocket):
        await websocket.accept()
        while True:  # until the client leaves: WebSocketDisconnect(1000), no failure
            await websocket.receive_text()

    return app


def make_framework(name: str) -> SimpleNamespace:
    fw = framework(name)
    fw.BackgroundTasks = __import__(name).BackgroundTasks
    return fw


# --- recording --------------------------------------------------------------------------------


class Recorder:
    """The three providers of one app, recording in memory."""

    def __init__(self) -> None:
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        # Delta points, merged here by (metric, attributes): each collection gives only what
        # was measured since the one before, so polling loses nothing.
        delta = AggregationTemporality.DELTA
        self.reader = InMemoryMetricReader(
            preferred_temporality={Histogram: delta, UpDownCounter: delta, Counter: delta}
        )
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.log_exporter = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self._points: dict[tuple, dict[str, Any]] = {}

    def settings(self, **extra: Any) -> dict[str, Any]:
        return {
            "tracer_provider": self.tracer_provider,
            "meter_provider": self.meter_provider,
            "logger_provider": self.logger_provider,
            **extra,
        }

    def clear(self) -> None:
        self.span_exporter.clear()
        self.log_exporter.clear()
        self._collect()
        self._points.clear()

    def _collect(self) -> None:
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        attributes = dict(sorted(point.attributes.items()))
                        key = (scope.scope.name, metric.name, tuple(attributes.items()))
                        merged = self._points.setdefault(
                            key,
                            {
                                "scope": scope.scope.name,
                                "name": metric.name,
                                "unit": metric.unit,
                                "description": metric.description,
                                "type": type(metric.data).__name__,
                                "attributes": attributes,
                            },
                        )
                        if hasattr(point, "bucket_counts"):
                            merged["count"] = merged.get("count", 0) + point.count
                            merged["bounds"] = tuple(point.explicit_bounds)
                        else:
                            merged["value"] = merged.get("value", 0) + point.value

    def _done(self) -> int:
        """How many requests or connections have finished recording."""
        spans = self.span_exporter.get_finished_spans()
        self._collect()
        return max(
            sum(span.kind == trace.SpanKind.SERVER for span in spans),
            sum(p.get("count", 0) for p in self._points.values()),
        )

    def settle(self, expected: int, timeout: float = 5.0) -> None:
        """Waits until `expected` requests are recorded (Ignyx's server finishes the span
        after the client has its answer, and runs background tasks after that), then until
        nothing more arrives for a moment."""
        deadline = time.monotonic() + timeout
        while self._done() < expected and time.monotonic() < deadline:
            time.sleep(0.005)
        last = None
        while time.monotonic() < deadline:
            now = (
                len(self.span_exporter.get_finished_spans()),
                len(self.log_exporter.get_finished_logs()),
            )
            if now == last:
                return
            last = now
            time.sleep(0.04)

    def recorded(self) -> dict[str, Any]:
        """What was recorded since `clear`, normalised."""
        self._collect()
        spans = self.span_exporter.get_finished_spans()
        by_id = {span.context.span_id: span for span in spans}
        span_rows = []
        for span in spans:
            parent = span.parent
            if parent is None:
                parent_label: Any = None
            elif parent.span_id in by_id:
                parent_label = by_id[parent.span_id].name
                assert parent.trace_id == span.context.trace_id
            else:
                parent_label = (
                    f"{parent.trace_id:032x}-{parent.span_id:016x}"
                    f" remote={parent.is_remote}"
                    f" same_trace={parent.trace_id == span.context.trace_id}"
                )
            scope = span.instrumentation_scope
            span_rows.append(
                {
                    "name": span.name,
                    "kind": span.kind.name,
                    "status": span.status.status_code.name,
                    "description": span.status.description,
                    "attributes": dict(sorted(span.attributes.items())),
                    "parent": parent_label,
                    "events": [event.name for event in span.events],
                    "scope": (scope.name, scope.schema_url),
                }
            )
        log_rows = []
        for data in self.log_exporter.get_finished_logs():
            record = data.log_record
            attributes = dict(sorted((record.attributes or {}).items()))
            assert attributes.pop("exception.stacktrace", "Traceback").startswith("Traceback")
            span = by_id.get(record.span_id) if record.span_id else None
            log_rows.append(
                {
                    "event_name": record.event_name,
                    "severity": (record.severity_number.name, record.severity_text),
                    "body": record.body,
                    "attributes": attributes,
                    # The span the record was emitted in (False: none).
                    "span": span.name if span is not None else bool(record.span_id),
                    "scope": (
                        data.instrumentation_scope.name,
                        data.instrumentation_scope.schema_url,
                    ),
                }
            )
        return {
            "spans": sorted(span_rows, key=repr),
            "metrics": sorted(self._points.values(), key=repr),
            "logs": sorted(log_rows, key=repr),
        }


class Pair:
    """The app served by FastAPI's TestClient and by Ignyx's (a real socket, the engine on
    a background thread), each with its own recorder."""

    def __init__(self, **settings: Any) -> None:
        self.recorders = {name: Recorder() for name in FRAMEWORKS}
        self.clients = {
            name: make_framework(name).TestClient(
                build(make_framework(name), self.recorders[name].settings(**settings)),
                raise_server_exceptions=False,
            )
            for name in FRAMEWORKS
        }

    def run(self, action: Callable[[Any], Any], expected: int = 1) -> dict[str, tuple]:
        """``action(client)`` against each: ``{framework: (its result, what it recorded)}``."""
        results = {}
        for name in FRAMEWORKS:
            recorder = self.recorders[name]
            recorder.clear()
            result = action(self.clients[name])
            recorder.settle(expected)
            results[name] = (result, recorder.recorded())
        return results

    def request(
        self, method: str, url: str, *, expected: int = 1, **kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Sends one request to each; asserts the same answer; returns what FastAPI and
        what Ignyx recorded."""
        results = self.run(lambda client: client.request(method, url, **kwargs), expected)
        (theirs, reference), (ours, recorded) = results["fastapi"], results["ignyx"]
        assert (ours.status_code, ours.content, ours.headers.get("content-type")) == (
            theirs.status_code,
            theirs.content,
            theirs.headers.get("content-type"),
        )
        return reference, recorded

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@pytest.fixture(scope="module")
def pair() -> Any:
    made = Pair()
    yield made
    made.close()


# --- checks of what FastAPI records (the reference), so the comparison is about something ----


def server_span(recorded: dict[str, Any]) -> dict[str, Any]:
    (span,) = [span for span in recorded["spans"] if span["kind"] == "SERVER"]
    return span


def span_named(recorded: dict[str, Any], name: str) -> dict[str, Any]:
    (span,) = [span for span in recorded["spans"] if span["name"] == name]
    return span


def names(recorded: dict[str, Any]) -> set[str]:
    return {span["name"] for span in recorded["spans"]}


def histogram(recorded: dict[str, Any]) -> dict[str, Any]:
    (point,) = [p for p in recorded["metrics"] if p["name"] == "http.server.request.duration"]
    return point


def expect_request(
    recorded: dict[str, Any],
    name: str,
    status: int,
    operations: set[str],
    error: Optional[str] = None,
) -> None:
    """One SERVER span `name` (with its operation spans as children), the duration histogram
    (once, with the span's attributes but the server's and the URL's) and the active
    requests back at 0."""
    server = server_span(recorded)
    assert server["name"] == name
    assert server["attributes"]["http.response.status_code"] == status
    assert server["attributes"]["server.address"] == "testserver"
    assert server["attributes"].get("error.type") == error
    assert server["status"] == ("ERROR" if error else "UNSET")
    assert names(recorded) == {name, *operations}
    for span in recorded["spans"]:
        if span["name"] != name:
            assert span["parent"] == name and span["kind"] == "INTERNAL"
    point = histogram(recorded)
    assert point["count"] == 1 and point["bounds"] == DURATION_BOUNDS and point["unit"] == "s"
    assert point["attributes"] == {
        k: v
        for k, v in server["attributes"].items()
        if not k.startswith(("server.", "url.")) or k == "url.scheme"
    }
    (active,) = [p for p in recorded["metrics"] if p["name"] == "http.server.active_requests"]
    assert active["value"] == 0 and active["type"] == "Sum"


def expect_log(
    recorded: dict[str, Any], event: str, severity: str, **attributes: Any
) -> dict[str, Any]:
    (log,) = recorded["logs"]
    assert log["event_name"] == event and log["severity"] == (severity, severity)
    assert attributes.items() <= log["attributes"].items()
    assert log["scope"] == ("fastapi", SCHEMA_URL)
    return log


def check_sync_query(recorded: dict[str, Any]) -> None:
    expect_request(recorded, "GET /sync", 200, OPERATIONS)
    assert server_span(recorded)["attributes"]["url.query"] == "q=3&sig=REDACTED"
    assert span_named(recorded, "fastapi.endpoint")["attributes"] == {
        "code.function.name": "test_telemetry.build.<locals>.sync_route"
    }
    assert recorded["logs"] == []


def check_async_dependency(recorded: dict[str, Any]) -> None:
    expect_request(recorded, "GET /async", 200, OPERATIONS)
    assert server_span(recorded)["attributes"]["url.query"] == "q=x&token=abc&sig=REDACTED"


def check_validation(route: str, errors: int, method: str = "GET") -> Callable:
    def check(recorded: dict[str, Any]) -> None:
        expect_request(recorded, f"{method} {route}", 422, {"fastapi.dependencies"})
        log = expect_log(
            recorded,
            "fastapi.validation.failed",
            "WARN",
            **{"fastapi.validation.error_count": errors, "http.route": route},
        )
        assert log["body"] == "Request validation failed"
        assert log["span"] == f"{method} {route}"

    return check


def check_not_found(recorded: dict[str, Any]) -> None:
    expect_request(recorded, "GET", 404, set())
    assert "http.route" not in server_span(recorded)["attributes"]
    assert recorded["logs"] == []


def check_method_not_allowed(recorded: dict[str, Any]) -> None:
    expect_request(recorded, "POST /sync", 405, set())
    assert histogram(recorded)["attributes"]["http.route"] == "/sync"


def check_exception(route: str, error: str, message: str) -> Callable:
    def check(recorded: dict[str, Any]) -> None:
        operations = {"fastapi.dependencies", "fastapi.endpoint"}
        expect_request(recorded, f"GET {route}", 500, operations, error=error)
        endpoint = span_named(recorded, "fastapi.endpoint")
        assert endpoint["status"] == "ERROR" and endpoint["attributes"]["error.type"] == error
        assert histogram(recorded)["attributes"]["error.type"] == error
        log = expect_log(
            recorded,
            "http.server.request.exception",
            "ERROR",
            **{"exception.type": error, "exception.message": message, "http.route": route},
        )
        assert log["body"] == "Unhandled exception in FastAPI request"
        assert log["span"] == f"GET {route}"

    return check


def check_http_exception(recorded: dict[str, Any]) -> None:
    expect_request(recorded, "GET /forbidden", 403, {"fastapi.dependencies", "fastapi.endpoint"})
    endpoint = span_named(recorded, "fastapi.endpoint")
    assert endpoint["status"] == "UNSET" and "error.type" not in endpoint["attributes"]
    assert recorded["logs"] == []


def check_response_object(recorded: dict[str, Any]) -> None:
    # A Response returned as it is: nothing to serialise.
    expect_request(recorded, "GET /plain", 200, {"fastapi.dependencies", "fastapi.endpoint"})


def check_response_model(recorded: dict[str, Any]) -> None:
    expect_request(recorded, "GET /user", 200, OPERATIONS)


def check_post_json(recorded: dict[str, Any]) -> None:
    expect_request(recorded, "POST /items", 201, OPERATIONS)
    assert "url.query" not in server_span(recorded)["attributes"]


def check_background(task: str, error: Optional[str]) -> Callable:
    def check(recorded: dict[str, Any]) -> None:
        route = "/background" if error is None else "/background-fails"
        expect_request(recorded, f"GET {route}", 200, {*OPERATIONS, "fastapi.background_task"})
        span = span_named(recorded, "fastapi.background_task")
        assert span["attributes"]["code.function.name"] == f"test_telemetry.{task}"
        assert span["status"] == ("ERROR" if error else "UNSET")
        assert span["attributes"].get("error.type") == error

    return check


def check_route(route: str) -> Callable:
    def check(recorded: dict[str, Any]) -> None:
        expect_request(recorded, f"GET {route}", 200, OPERATIONS)
        assert server_span(recorded)["attributes"]["http.route"] == route

    return check


def check_traceparent(recorded: dict[str, Any]) -> None:
    expect_request(recorded, "GET /sync", 200, OPERATIONS)
    assert server_span(recorded)["parent"] == f"{TRACE_ID}-{PARENT_ID} remote=True same_trace=True"


def without_logs(recorded: dict[str, Any]) -> dict[str, Any]:
    return {**recorded, "logs": None}


def only_logs(recorded: dict[str, Any]) -> dict[str, Any]:
    return recorded["logs"]


# (method, url, request options, check of FastAPI's record, part of the record compared)
HTTP_CASES = [
    pytest.param("GET", "/sync?q=3&sig=secret", {}, check_sync_query, None, id="sync-query"),
    pytest.param(
        "GET",
        "/async?q=x&token=abc&sig=secret",
        {},
        check_async_dependency,
        None,
        id="async-dependency",
    ),
    pytest.param("GET", "/sync?q=abc", {}, check_validation("/sync", 1), None, id="422-sync"),
    pytest.param(
        "POST",
        "/items",
        {"json": {"price": "free"}},
        check_validation("/items", 2, "POST"),
        None,
        id="422-json-body",
    ),
    pytest.param(
        "GET",
        "/async",
        {},
        check_validation("/async", 1),
        None,
        id="422-async-dependency",
    ),
    pytest.param("GET", "/missing", {}, check_not_found, None, id="404"),
    pytest.param(
        "POST",
        "/sync",
        {},
        check_method_not_allowed,
        None,
        id="405",
    ),
    pytest.param(
        "GET",
        "/sync-boom",
        {},
        check_exception("/sync-boom", "ValueError", "sync boom"),
        None,
        id="500-sync",
    ),
    pytest.param(
        "GET",
        "/async-boom",
        {},
        check_exception("/async-boom", "KeyError", "'async boom'"),
        None,
        id="500-async",
    ),
    pytest.param("GET", "/forbidden", {}, check_http_exception, None, id="http-exception"),
    pytest.param("GET", "/plain", {}, check_response_object, None, id="response-object"),
    pytest.param("GET", "/user", {}, check_response_model, None, id="response-model"),
    pytest.param(
        "POST", "/items", {"json": {"name": "pen", "price": 1.5}}, check_post_json, None, id="post"
    ),
    pytest.param(
        "GET", "/background", {}, check_background("note", None), None, id="background-task"
    ),
    pytest.param(
        "GET",
        "/background-fails",
        {},
        check_background("failing_note", "RuntimeError"),
        without_logs,
        id="background-task-fails",
    ),
    pytest.param(
        "GET",
        "/background-fails",
        {},
        lambda recorded: expect_log(
            recorded,
            "http.server.request.exception",
            "ERROR",
            **{"exception.type": "RuntimeError", "http.route": "/background-fails"},
        ),
        only_logs,
        id="background-task-fails-log",
    ),
    pytest.param(
        "GET", "/api/users/ada", {}, check_route("/api/users/{user_id}"), None, id="router-prefix"
    ),
    pytest.param(
        "GET",
        "/api/items/5",
        {},
        check_route("/api/items/{item_id}"),
        None,
        id="router-convertor",
    ),
    pytest.param(
        "GET",
        "/sync",
        {"headers": {"traceparent": TRACEPARENT}},
        check_traceparent,
        None,
        id="traceparent",
    ),
]


@pytest.mark.parametrize(("method", "url", "options", "check", "part"), HTTP_CASES)
def test_http(
    pair: Pair,
    method: str,
    url: str,
    options: dict[str, Any],
    check: Callable[[dict[str, Any]], Any],
    part: Optional[Callable[[dict[str, Any]], Any]],
) -> None:
    reference, recorded = pair.request(method, url, **options)
    check(reference)
    part = part or (lambda whole: whole)
    assert part(recorded) == part(reference)


def test_context_is_detached(pair: Pair) -> None:
    """OpenTelemetry's context is restored after each request: nothing logged."""
    failures: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            failures.append(record.getMessage())

    handler = Collect(logging.ERROR)
    context_logger = logging.getLogger("opentelemetry.context")
    context_logger.addHandler(handler)
    try:
        logged = {}
        for name in FRAMEWORKS:
            failures.clear()
            pair.run(lambda client: client.get("/sync"))
            logged[name] = list(failures)
    finally:
        context_logger.removeHandler(handler)
    assert logged["fastapi"] == []
    assert logged["ignyx"] == logged["fastapi"]


# --- settings -----------------------------------------------------------------------------


def test_without_operation_spans() -> None:
    pair = Pair(operation_spans=False)
    try:
        # An async route with a dependency, too: without operation spans, nothing to misparent.
        for url, status in (("/async?q=1", 200), ("/sync-boom", 500), ("/background", 200)):
            reference, recorded = pair.request("GET", url)
            assert [span["kind"] for span in reference["spans"]] == ["SERVER"]
            assert server_span(reference)["attributes"]["http.response.status_code"] == status
            assert recorded == reference
        assert len(reference["metrics"]) == 2
    finally:
        pair.close()


def test_metrics_without_tracing() -> None:
    pair = Pair(tracing=False)
    try:
        reference, recorded = pair.request("GET", "/sync?q=1")
        assert reference["spans"] == [] and reference["logs"] == []
        assert histogram(reference)["attributes"]["http.route"] == "/sync"
        assert recorded == reference
        reference, recorded = pair.request("GET", "/sync-boom")
        assert histogram(reference)["attributes"]["error.type"] == "ValueError"
        log = expect_log(reference, "http.server.request.exception", "ERROR")
        assert log["span"] is False  # no span to belong to
        assert recorded == reference
    finally:
        pair.close()


def test_excluded_requests_record_nothing() -> None:
    pair = Pair(exclude=lambda scope: scope["path"] == "/health")
    try:
        reference, recorded = pair.request("GET", "/health", expected=0)
        assert reference == {"spans": [], "metrics": [], "logs": []}
        assert recorded == reference
        reference, recorded = pair.request("GET", "/sync")
        expect_request(reference, "GET /sync", 200, OPERATIONS)
        assert recorded == reference
    finally:
        pair.close()


# --- WebSockets -------------------------------------------------------------------------------


def test_websocket_echo(pair: Pair) -> None:
    def echo(client: Any) -> Any:
        with client.websocket_connect("/ws?token=abc") as websocket:
            websocket.send_text("hi")
            return websocket.receive_text()

    results = pair.run(echo)
    (answer, reference), (ours, recorded) = results["fastapi"], results["ignyx"]
    assert answer == ours == "abc: hi"
    server = server_span(reference)
    assert server["name"] == "WS /ws" and server["status"] == "UNSET"
    assert server["attributes"] == {
        "http.route": "/ws",
        "network.protocol.name": "websocket",
        "server.address": "testserver",
        "server.port": 80,
        "url.scheme": "ws",
    }
    assert names(reference) == {"WS /ws", "fastapi.dependencies", "fastapi.endpoint"}
    assert {span["parent"] for span in reference["spans"]} == {None, "WS /ws"}
    assert reference["metrics"] == [] and reference["logs"] == []  # metrics are HTTP's
    assert recorded == reference


def test_websocket_client_leaves(pair: Pair) -> None:
    """The client closing normally (1000) ends the endpoint with WebSocketDisconnect: no
    failure anywhere."""

    def leave(client: Any) -> Any:
        # FastAPI's TestClient raises the WebSocketDisconnect the endpoint let out in the
        # test, as it does any exception of the app; Ignyx's client only sees the socket.
        try:
            with client.websocket_connect("/ws-wait"):
                pass
        except Exception as exc:
            return type(exc).__name__, getattr(exc, "code", None)

    results = pair.run(leave)
    assert results["fastapi"][0] == ("WebSocketDisconnect", 1000)
    assert results["ignyx"][0] is None
    reference, recorded = results["fastapi"][1], results["ignyx"][1]
    assert server_span(reference)["name"] == "WS /ws-wait"
    assert {span["status"] for span in reference["spans"]} == {"UNSET"}
    assert reference["logs"] == []
    assert recorded == reference


def test_websocket_exception(pair: Pair) -> None:
    def fail(client: Any) -> Any:
        # The clients differ here, not the servers: FastAPI's TestClient raises the app's
        # RuntimeError in the test when the connection ends, where Ignyx's, over a real
        # socket, sees the close the server sent (1011). Only the records are compared.
        try:
            with client.websocket_connect("/ws-boom") as websocket:
                websocket.send_text("hi")
                websocket.receive_text()
        except Exception as exc:
            return type(exc).__name__, getattr(exc, "code", None)

    results = pair.run(fail)
    assert results["fastapi"][0] == ("RuntimeError", None)
    assert results["ignyx"][0] == ("WebSocketDisconnect", 1011)
    reference, recorded = results["fastapi"][1], results["ignyx"][1]
    server = server_span(reference)
    assert server["name"] == "WS /ws-boom" and server["status"] == "ERROR"
    assert server["attributes"]["error.type"] == "RuntimeError"
    endpoint = span_named(reference, "fastapi.endpoint")
    assert endpoint["status"] == "ERROR" and endpoint["attributes"]["error.type"] == "RuntimeError"
    log = expect_log(
        reference,
        "fastapi.websocket.exception",
        "ERROR",
        **{"exception.type": "RuntimeError", "http.route": "/ws-boom"},
    )
    assert log["body"] == "Unhandled exception in FastAPI WebSocket connection"
    assert log["span"] == "WS /ws-boom"
    assert recorded == reference


# --- Ignyx only -------------------------------------------------------------------------------


def unconfigured_globals() -> bool:
    """Whether OpenTelemetry's global providers are still the placeholders it starts with."""
    return [
        type(trace.get_tracer_provider()).__name__,
        type(metrics.get_meter_provider()).__name__,
        type(_logs.get_logger_provider()).__name__,
    ] == ["ProxyTracerProvider", "_ProxyMeterProvider", "ProxyLoggerProvider"]


def users_app(fw: SimpleNamespace, **options: Any) -> Any:
    app = fw.FastAPI(**options)

    @app.get("/users/{id}")
    def get_user(id: int):
        return {"id": id}

    return app


def users_route(app: Any) -> Any:
    (route,) = [route for route in app.routes if getattr(route, "path", "") == "/users/{id}"]
    return route


@pytest.mark.parametrize("options", [{}, {"telemetry": {}}, {"telemetry": {"tracing": True}}])
def test_off_without_a_provider(options: dict[str, Any]) -> None:
    """No provider given and none configured globally: telemetry is off, at no cost: no
    middleware, and routes keep their fast plans."""
    if not unconfigured_globals():
        pytest.skip("something in this process configured OpenTelemetry's global providers")
    fw = make_framework("ignyx")
    app = users_app(fw, **options)
    with fw.TestClient(app) as client:
        assert client.get("/users/7").json() == {"id": 7}
    assert app._telemetry is None
    app._compile()
    assert app._telemetry is None
    outer, python, inner = app._middleware_layers()
    assert (outer, python, inner) == ([], [], None)
    assert users_route(app).compile(app)["fast"] is not None
    assert unconfigured_globals()


def test_traced_routes_go_through_python() -> None:
    """With a provider, the route is traced and gives up its fast plan (which would skip
    the operation spans)."""
    fw = make_framework("ignyx")
    app = users_app(fw, telemetry=Recorder().settings())
    app._compile()
    assert app._telemetry is not None
    assert users_route(app).compile(app)["fast"] is None
    assert unconfigured_globals()


def test_answers_unchanged_by_telemetry(pair: Pair) -> None:
    """Telemetry on or off, every answer is the same, byte for byte."""
    fw = make_framework("ignyx")
    with fw.TestClient(build(fw, None), raise_server_exceptions=False) as plain:
        for method, url, options, *_ in (case.values for case in HTTP_CASES):
            traced = pair.clients["ignyx"].request(method, url, **options)
            untraced = plain.request(method, url, **options)
            assert (
                traced.status_code,
                traced.headers.get("content-type"),
                traced.content,
            ) == (
                untraced.status_code,
                untraced.headers.get("content-type"),
                untraced.content,
            ), f"{method} {url}"


# --- automatic export (auto_configure) ---------------------------------------------------------

AUTO_APP = """
import os
import sys

{imports}

app = FastAPI(telemetry={telemetry})


@app.get("/users/{{user_id}}")
def user(user_id: int):
    return {{"id": user_id}}


with TestClient(app) as client:
    assert client.get("/users/7").status_code == 200
print("served")
"""


class _Collector:
    """An OTLP/HTTP receiver on 127.0.0.1: what was posted, by path."""

    def __init__(self) -> None:
        import http.server
        import threading

        received: dict[str, bytes] = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length", 0))
                received[self.path] = received.get(self.path, b"") + self.rfile.read(length)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("how", ["setting", "environment"])
def test_auto_configure_exports_by_otlp_as_the_environment_says(tmp_path, framework, how):
    """With ``auto_configure`` (or ``FASTAPI_OTEL_AUTO_CONFIGURE=true``) and
    ``OTEL_EXPORTER_OTLP_ENDPOINT``, the app's spans, metrics and logs go by OTLP/HTTP to that
    collector, flushed when the app shuts down, as FastAPI's do (a process of its own: it sets
    the global providers)."""
    import subprocess
    import sys

    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    collector = _Collector()
    try:
        imports = (
            "from fastapi import FastAPI\nfrom fastapi.testclient import TestClient"
            if framework == "fastapi"
            else "from ignyx import FastAPI\nfrom ignyx.testclient import TestClient"
        )
        telemetry = '{"auto_configure": True}' if how == "setting" else "None"
        (tmp_path / "auto.py").write_text(AUTO_APP.format(imports=imports, telemetry=telemetry))
        env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("OTEL_")}
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.url
        if how == "environment":
            env["FASTAPI_OTEL_AUTO_CONFIGURE"] = "true"
        result = subprocess.run(
            [sys.executable, "auto.py"], cwd=tmp_path, env=env, capture_output=True, timeout=60
        )
        assert result.returncode == 0, result.stderr.decode()
        assert b"served" in result.stdout
    finally:
        collector.close()
    assert set(collector.received) >= {"/v1/traces", "/v1/metrics"}, collector.received.keys()
    assert b"GET /users/{user_id}" in collector.received["/v1/traces"]
    assert b"http.server.request.duration" in collector.received["/v1/metrics"]


def test_auto_configure_without_an_endpoint_leaves_telemetry_off():
    """Asked to configure itself with nowhere to export to, telemetry stays off (no
    provider), and routes keep their fast plans."""
    import os

    if any(k.startswith("OTEL_EXPORTER_OTLP") for k in os.environ):
        pytest.skip("the environment names an OTLP endpoint")
    from ignyx import FastAPI
    from ignyx.testclient import TestClient

    app = FastAPI(telemetry={"auto_configure": True})

    @app.get("/users/{user_id}")
    def user(user_id: int) -> dict:
        return {"id": user_id}

    with TestClient(app) as client:
        assert client.get("/users/7").json() == {"id": 7}
    assert app._telemetry is None
