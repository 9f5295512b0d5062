"""Path operations that ``yield``: JSON Lines by default, Server-Sent Events with
``EventSourceResponse``, raw chunks with any other response class. Each app is built with
FastAPI's imports and with Ignyx's, and both must send the same bytes."""

import asyncio
import contextvars
import dataclasses
import datetime as dt
import importlib
import json
import logging
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Generator,
    Iterable,
    Iterator,
)
from types import SimpleNamespace
from typing import Any, Optional, Union

import httpx
import ignyx
import ignyx.responses
import pytest
from conftest import compared_headers, eventually, http_client, live_server
from ignyx.sse import KEEPALIVE_COMMENT, EventSourceResponse, ServerSentEvent, format_sse_event
from pydantic import BaseModel, Field, ValidationError


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []
    note: Optional[str] = None


class Stamped(BaseModel):
    at: dt.datetime
    day: dt.date
    took: dt.timedelta
    ref: uuid.UUID


class Person(BaseModel):
    full_name: str = Field(alias="fullName")
    age: int = 0


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: Optional[str] = None


ITEMS = [Item(name="Plumbus", price=3.5, tags=["home"]), Item(name="Portal gün", price=999.99)]
STAMP = Stamped(
    at=dt.datetime(2024, 2, 29, 12, 30, 5, 123000, tzinfo=dt.timezone.utc),
    day=dt.date(2024, 3, 1),
    took=dt.timedelta(minutes=1, seconds=30),
    ref=uuid.UUID("12345678-1234-5678-1234-567812345678"),
)
# Everything `jsonable_encoder` knows, and floats JSON has no word for.
UNTYPED = [
    {"name": "é ✓ 漢字", "n": 1, "nested": {"list": [1.5, None, True]}},
    {"nan": math.nan, "inf": math.inf, "list": [-math.inf, 2.0]},
    Item(name="model", price=math.inf),
    Point(1, 2.5),
    STAMP,
    dt.datetime(2024, 1, 2, 3, 4, 5),
    uuid.UUID(int=7),
    [1, "two", None],
    "plain string",
    42,
    None,
]

# Set by a dependency, read by the generators of /ctx/*.
SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="nothing")

# What the dependencies of /jsonl/deps saw, per framework.
LOG: dict[str, list[str]] = {"fastapi": [], "ignyx": []}


def _names(fw: SimpleNamespace) -> SimpleNamespace:
    """What the apps below take from the framework beyond conftest's names."""
    package = importlib.import_module(fw.name)
    return SimpleNamespace(
        sse=importlib.import_module(f"{fw.name}.sse"),
        BackgroundTasks=package.BackgroundTasks,
        StreamingResponse=fw.responses.StreamingResponse,
    )


def build(fw: SimpleNamespace) -> Any:
    app = fw.FastAPI()
    kit = _names(fw)
    sse = kit.sse
    log = LOG[fw.name]

    # -- JSON Lines, typed ---------------------------------------------------------------

    @app.get("/jsonl/iterator")
    def iterator() -> Iterator[Item]:
        yield ITEMS[0]
        yield {"name": "from a dict", "price": "2"}  # validated: the price becomes 2.0
        yield ITEMS[1]

    @app.get("/jsonl/async-iterator")
    async def async_iterator() -> AsyncIterator[Item]:
        for item in ITEMS:
            await asyncio.sleep(0)
            yield item

    @app.get("/jsonl/iterable")
    def iterable() -> Iterable[Item]:
        yield from ITEMS

    @app.get("/jsonl/async-iterable")
    async def async_iterable() -> AsyncIterable[Item]:
        for item in ITEMS:
            yield item

    @app.get("/jsonl/generator")
    def generator() -> Generator[Item, None, None]:
        yield from ITEMS

    @app.get("/jsonl/async-generator")
    async def async_generator() -> AsyncGenerator[Item, None]:
        for item in ITEMS:
            yield item

    @app.get("/jsonl/dataclass")
    def dataclasses_() -> Iterator[Point]:
        yield Point(1, 2.0, "a")
        yield {"x": "3", "y": 4}

    @app.get("/jsonl/datetimes")
    def datetimes() -> Iterator[Stamped]:
        yield STAMP
        yield {
            "at": "2024-05-06T07:08:09",
            "day": "2024-05-06",
            "took": 90,
            "ref": str(uuid.UUID(int=1)),
        }

    @app.get("/jsonl/scalars")
    def scalars() -> Iterator[int]:
        yield 1
        yield "2"
        yield 3.0

    @app.get("/jsonl/union")
    def union() -> Iterator[Union[Item, Point]]:
        yield ITEMS[0]
        yield Point(5, 6.5)

    @app.get("/jsonl/any")
    def any_items() -> Iterator[Any]:
        yield {"a": 1, "b": [1, 2]}
        yield Item(name="x", price=1)

    @app.get("/jsonl/exclude-none", response_model_exclude_none=True)
    def exclude_none() -> Iterator[Item]:
        yield Item(name="no note", price=1)
        yield Item(name="a note", price=2, note="n")

    @app.get("/jsonl/exclude-unset", response_model_exclude_unset=True)
    def exclude_unset() -> Iterator[Item]:
        yield Item(name="only", price=1)

    @app.get("/jsonl/include", response_model_include={"name"})
    async def include() -> AsyncIterator[Item]:
        for item in ITEMS:
            yield item

    @app.get("/jsonl/alias")
    def alias() -> Iterator[Person]:
        yield Person(fullName="Ada Lovelace", age=36)
        yield {"fullName": "Alan Turing"}

    @app.get("/jsonl/no-alias", response_model_by_alias=False)
    def no_alias() -> Iterator[Person]:
        yield Person(fullName="Ada Lovelace", age=36)

    @app.get("/jsonl/status", status_code=201)
    def created() -> Iterator[Item]:
        yield ITEMS[0]

    @app.post("/jsonl/echo")
    async def echo(items: list[Item], times: int = 1) -> AsyncIterator[Item]:
        for _ in range(times):
            for item in items:
                yield item

    @app.get("/jsonl/empty")
    def empty() -> Iterator[Item]:
        yield from ()

    @app.get("/jsonl/invalid")
    def invalid() -> Iterator[Item]:
        yield ITEMS[0]
        yield {"name": "second"}  # no price
        yield ITEMS[1]

    @app.get("/jsonl/async-invalid")
    async def async_invalid() -> AsyncIterator[Item]:
        yield ITEMS[0]
        yield ITEMS[1]
        yield Point(1, 2)

    # -- JSON Lines, untyped -------------------------------------------------------------

    @app.get("/jsonl/untyped")
    def untyped():
        yield from UNTYPED

    @app.get("/jsonl/async-untyped")
    async def async_untyped():
        for value in UNTYPED:
            yield value

    @app.get("/jsonl/response-model", response_model=Item)
    def response_model():
        # A response_model does not type a stream's items: they go out untyped.
        yield {"name": "kept as it is", "price": 1, "extra": True}

    # -- dependencies --------------------------------------------------------------------

    def resource():
        log.append("open")
        try:
            yield "db"
        finally:
            log.append("close")

    def stamp(response: fw.Response):
        response.headers["x-stamp"] = "from a dependency"
        response.status_code = 202

    @app.get("/jsonl/deps", dependencies=[fw.Depends(stamp)])
    def deps(n: int, tasks: kit.BackgroundTasks, db: str = fw.Depends(resource)) -> Iterator[dict]:
        tasks.add_task(log.append, "task")
        for i in range(n):
            log.append(f"item {i} from {db}")
            yield {"i": i, "db": db}

    @app.get("/jsonl/async-deps", dependencies=[fw.Depends(stamp)])
    async def async_deps(
        n: int, tasks: kit.BackgroundTasks, db: str = fw.Depends(resource)
    ) -> AsyncIterator[dict]:
        tasks.add_task(log.append, "task")
        for i in range(n):
            log.append(f"item {i} from {db}")
            yield {"i": i, "db": db}

    @app.get("/jsonl/late-header")
    def late_header(response: fw.Response):
        # The generator runs after the headers were sent: this changes nothing.
        response.headers["x-late"] = "1"
        response.status_code = 203
        yield {"ok": True}

    async def remember():
        SEEN.set("what a dependency set")

    @app.get("/ctx/async", dependencies=[fw.Depends(remember)])
    async def ctx_async():
        yield {"seen": SEEN.get()}

    @app.get("/ctx/sync", dependencies=[fw.Depends(remember)])
    def ctx_sync():
        yield {"seen": SEEN.get()}

    @app.get(
        "/ctx/sse", dependencies=[fw.Depends(remember)], response_class=sse.EventSourceResponse
    )
    async def ctx_sse():
        yield {"seen": SEEN.get()}

    # -- raw chunks ----------------------------------------------------------------------

    @app.get("/raw/sync", response_class=kit.StreamingResponse)
    def raw_sync():
        yield "text, "
        yield b"bytes, "
        yield "ünïcode"

    @app.get("/raw/async", response_class=kit.StreamingResponse)
    async def raw_async() -> AsyncIterator[str]:
        for part in ("a", "b", "c"):
            yield part

    class CSVResponse(kit.StreamingResponse):
        media_type = "text/csv"

    @app.get("/raw/csv", response_class=CSVResponse)
    def raw_csv() -> Iterator[str]:
        yield "name,price\n"
        for item in ITEMS:
            yield f"{item.name},{item.price}\n"

    # -- Server-Sent Events --------------------------------------------------------------

    @app.get("/sse/typed", response_class=sse.EventSourceResponse)
    async def sse_typed() -> AsyncIterable[Item]:
        yield ITEMS[0]
        yield {"name": "from a dict", "price": 7}
        yield sse.ServerSentEvent(
            data={"x": [1, 2], "nan": math.nan},
            event="update",
            id="41",
            retry=2500,
            comment="first line\nsecond line",
        )
        yield sse.ServerSentEvent(raw_data="raw line 1\nraw line 2\r\nraw line 3\rend")
        yield sse.ServerSentEvent(data=Item(name="ünïcode", price=1))
        yield sse.ServerSentEvent(data="a string is JSON too")
        yield sse.ServerSentEvent(data="multi\nline")
        yield sse.ServerSentEvent(comment="just a comment")
        yield sse.ServerSentEvent(raw_data="", event="", id="")
        yield sse.ServerSentEvent()
        yield ITEMS[1]

    @app.get("/sse/untyped", response_class=sse.EventSourceResponse)
    def sse_untyped():
        yield "hello"
        yield {"n": math.nan, "text": "é"}
        yield [1, 2]
        yield Point(1, 2.0)
        yield STAMP
        yield None

    @app.get("/sse/events", response_class=sse.EventSourceResponse)
    def sse_events() -> Iterator[sse.ServerSentEvent]:
        for i, item in enumerate(ITEMS):
            yield sse.ServerSentEvent(data=item, id=str(i), event="item")

    @app.post("/sse/prompt", response_class=sse.EventSourceResponse, status_code=201)
    async def sse_prompt(item: Item) -> AsyncIterator[Item]:
        for word in item.name.split():
            yield Item(name=word, price=item.price)

    @app.get(
        "/sse/stamped", response_class=sse.EventSourceResponse, dependencies=[fw.Depends(stamp)]
    )
    def sse_stamped() -> Iterator[int]:
        yield 1

    @app.get("/sse/invalid", response_class=sse.EventSourceResponse)
    async def sse_invalid() -> AsyncIterator[Item]:
        yield ITEMS[0]
        yield sse.ServerSentEvent(comment="not validated")
        yield {"name": "no price"}
        yield ITEMS[1]

    @app.get("/sse/slow", response_class=sse.EventSourceResponse)
    async def sse_slow():
        yield {"n": 1}
        try:
            await asyncio.sleep(0.4)
        except asyncio.CancelledError:  # what the keep-alive timer must never cause
            yield {"cancelled": True}
            raise
        yield {"n": 2}

    @app.get("/sse/slow-sync", response_class=sse.EventSourceResponse)
    def sse_slow_sync() -> Iterator[int]:
        yield 1
        time.sleep(0.4)
        yield 2

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


def both(clients, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, httpx.Response]:
    """One request to each framework; asserts what `conftest.differential` does, and the
    headers SSE adds. Returns ``(ignyx's response, FastAPI's)``."""
    theirs, ours = clients.request(method, url, **kwargs)
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content), url
    assert compared_headers(ours) == compared_headers(theirs), url
    for name in ("cache-control", "x-accel-buffering", "content-length"):
        assert ours.headers.get_list(name) == theirs.headers.get_list(name), name
    return ours, theirs


def streamed(clients, method: str, url: str, **kwargs: Any) -> httpx.Response:
    return both(clients, method, url, **kwargs)[0]


def lines(response: httpx.Response) -> list[Any]:
    return [json.loads(line) for line in response.text.splitlines()]


# -- JSON Lines -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/jsonl/iterator",
        "/jsonl/async-iterator",
        "/jsonl/iterable",
        "/jsonl/async-iterable",
        "/jsonl/generator",
        "/jsonl/async-generator",
    ],
)
def test_typed_items_stream_as_json_lines(clients, url):
    response = streamed(clients, "GET", url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jsonl"
    assert response.content.endswith(b"}\n")
    assert lines(response)[-1] == {"name": "Portal gün", "price": 999.99, "tags": [], "note": None}


def test_items_are_validated_and_serialised_by_pydantic(clients):
    response = streamed(clients, "GET", "/jsonl/iterator")
    assert response.content.splitlines()[1] == (
        b'{"name":"from a dict","price":2.0,"tags":[],"note":null}'
    )


@pytest.mark.parametrize(
    "url",
    [
        "/jsonl/dataclass",
        "/jsonl/datetimes",
        "/jsonl/scalars",
        "/jsonl/union",
        "/jsonl/any",
        "/jsonl/exclude-none",
        "/jsonl/exclude-unset",
        "/jsonl/include",
        "/jsonl/alias",
        "/jsonl/no-alias",
        "/jsonl/empty",
    ],
)
def test_item_types_and_response_model_options(clients, url):
    streamed(clients, "GET", url)


def test_dataclass_and_datetime_items(clients):
    assert streamed(clients, "GET", "/jsonl/dataclass").text == (
        '{"x":1,"y":2.0,"label":"a"}\n{"x":3,"y":4.0,"label":null}\n'
    )
    assert lines(streamed(clients, "GET", "/jsonl/datetimes"))[0] == {
        "at": "2024-02-29T12:30:05.123000Z",
        "day": "2024-03-01",
        "took": "PT1M30S",
        "ref": "12345678-1234-5678-1234-567812345678",
    }


def test_status_code_and_body_parameters(clients):
    assert streamed(clients, "GET", "/jsonl/status").status_code == 201
    body = [item.model_dump() for item in ITEMS]
    response = streamed(clients, "POST", "/jsonl/echo?times=2", json=body)
    assert lines(response) == body * 2
    assert streamed(clients, "POST", "/jsonl/echo", json=[{"name": 1}]).status_code == 422


@pytest.mark.parametrize("url", ["/jsonl/untyped", "/jsonl/async-untyped"])
def test_untyped_items_go_through_jsonable_encoder_and_json_dumps(clients, url):
    response = streamed(clients, "GET", url)
    first, second = response.content.splitlines()[:2]
    # json.dumps's defaults: spaced separators, non-ASCII escaped, NaN and infinities null.
    assert first == (
        b'{"name": "\\u00e9 \\u2713 \\u6f22\\u5b57", "n": 1, "nested": {"list": [1.5, null, true]}}'
    )
    assert second == b'{"nan": null, "inf": null, "list": [null, 2.0]}'
    assert len(lines(response)) == len(UNTYPED)


def test_response_model_does_not_type_stream_items(clients):
    assert streamed(clients, "GET", "/jsonl/response-model").text == (
        '{"name": "kept as it is", "price": 1, "extra": true}\n'
    )


def _read_until_cut(client: Any, url: str) -> tuple[int, bytes]:
    got = b""
    with client.stream("GET", url) as response:
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                got += chunk
    return response.status_code, got


@pytest.mark.parametrize("url", ["/jsonl/invalid", "/jsonl/async-invalid"])
def test_an_invalid_item_cuts_the_stream_after_the_items_before_it(clients, url, caplog):
    theirs = clients.fastapi.get(url)  # Starlette's TestClient hides the cut; a socket sees it
    with caplog.at_level(logging.ERROR):
        status, body = _read_until_cut(clients.ignyx, url)
        eventually(lambda: "ResponseValidationError" in caplog.text)
    assert (status, body) == (theirs.status_code, theirs.content)
    assert body.count(b"\n") == (1 if url == "/jsonl/invalid" else 2)
    assert "ResponseValidationError" in caplog.text
    assert "('response', 'price')" in caplog.text


@pytest.mark.parametrize("url", ["/jsonl/deps?n=2", "/jsonl/async-deps?n=2"])
def test_dependencies_background_tasks_and_response_parameter(clients, url):
    for name in LOG:
        LOG[name].clear()
    response, theirs = both(clients, "GET", url)
    assert response.status_code == 202
    assert response.text == '{"i":0,"db":"db"}\n{"i":1,"db":"db"}\n'
    assert response.headers["x-stamp"] == theirs.headers["x-stamp"] == "from a dependency"
    for name, events in LOG.items():
        assert eventually(lambda events=events: len(events) == 5), name
        # The resource stays open while the items are made and closes after the last;
        # the background task runs after the body too.
        assert events[:3] == ["open", "item 0 from db", "item 1 from db"], name
        assert sorted(events[3:]) == ["close", "task"], name


def test_response_parameter_changed_inside_the_generator_is_too_late(clients):
    response = streamed(clients, "GET", "/jsonl/late-header")
    assert response.status_code == 200
    assert "x-late" not in response.headers


@pytest.mark.parametrize("url", ["/ctx/async", "/ctx/sync", "/ctx/sse"])
def test_generators_see_what_dependencies_set_in_context_variables(clients, url):
    assert "what a dependency set" in streamed(clients, "GET", url).text


def test_route_attributes_match_fastapi(clients):
    def described(app: Any) -> dict[str, Any]:
        return {
            route.path: (
                route.is_json_stream,
                route.is_sse_stream,
                route.stream_item_type,
                route.response_model,
            )
            for route in app.routes
            if hasattr(route, "is_json_stream")
        }

    ours = described(clients.ignyx_app)
    assert ours == described(clients.fastapi_app)
    assert ours["/jsonl/iterator"] == (True, False, Item, None)
    assert ours["/sse/events"] == (False, True, None, None)
    assert ours["/raw/async"] == (False, False, None, None)


# -- raw chunks -------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/raw/sync", "/raw/async", "/raw/csv"])
def test_other_response_classes_get_the_chunks_as_they_are(clients, url):
    response = streamed(clients, "GET", url)
    assert response.status_code == 200
    if url == "/raw/sync":
        assert response.text == "text, bytes, ünïcode"
        assert "content-type" not in response.headers
    if url == "/raw/csv":
        assert response.headers["content-type"] == "text/csv; charset=utf-8"


# -- Server-Sent Events -----------------------------------------------------------------


def test_sse_items_and_every_event_field(clients):
    response = streamed(clients, "GET", "/sse/typed")
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.text == (
        'data: {"name":"Plumbus","price":3.5,"tags":["home"],"note":null}\n\n'
        'data: {"name":"from a dict","price":7.0,"tags":[],"note":null}\n\n'
        ": first line\n: second line\nevent: update\n"
        'data: {"x": [1, 2], "nan": null}\nid: 41\nretry: 2500\n\n'
        "data: raw line 1\ndata: raw line 2\ndata: raw line 3\ndata: end\n\n"
        'data: {"name":"ünïcode","price":1.0,"tags":[],"note":null}\n\n'
        'data: "a string is JSON too"\n\n'
        'data: "multi\\nline"\n\n'
        ": just a comment\n\n"
        "event: \ndata: \nid: \n\n"
        "\n"
        'data: {"name":"Portal gün","price":999.99,"tags":[],"note":null}\n\n'
    )


@pytest.mark.parametrize(
    "method, url, kwargs",
    [
        ("GET", "/sse/untyped", {}),
        ("GET", "/sse/events", {}),
        ("POST", "/sse/prompt", {"json": {"name": "two words", "price": 1}}),
        ("POST", "/sse/prompt", {"json": {"name": "no price"}}),
        ("GET", "/sse/stamped", {}),
    ],
)
def test_sse_untyped_events_and_parameters(clients, method, url, kwargs):
    response = streamed(clients, method, url, **kwargs)
    if url == "/sse/untyped":
        assert response.text.startswith('data: "hello"\n\ndata: {"n": null, "text": "\\u00e9"}\n\n')
        assert response.text.endswith("data: null\n\n")
    if url == "/sse/stamped":
        assert response.status_code == 202
        assert response.headers["x-stamp"] == "from a dependency"


def test_sse_invalid_item_cuts_the_stream_after_the_events_before_it(clients, caplog):
    # FastAPI's producer task may have made (and then drop) an event or two ahead of the
    # failure; every event before the invalid item reaches the client here.
    with caplog.at_level(logging.ERROR):
        status, body = _read_until_cut(clients.ignyx, "/sse/invalid")
        assert eventually(lambda: "ResponseValidationError" in caplog.text)
    assert status == 200
    assert body == (
        b'data: {"name":"Plumbus","price":3.5,"tags":["home"],"note":null}\n\n: not validated\n\n'
    )


def _without_pings(body: bytes) -> bytes:
    return body.replace(KEEPALIVE_COMMENT, b"")


@pytest.mark.parametrize("url", ["/sse/slow", "/sse/slow-sync"])
def test_sse_keep_alive_comments_while_the_generator_is_silent(clients, url, monkeypatch):
    import fastapi.routing

    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.05)
    monkeypatch.setattr(ignyx.sse, "_PING_INTERVAL", 0.05)
    theirs = clients.fastapi.get(url)
    ours = clients.ignyx.get(url)
    # The pings sit between the two events; the timer never interrupted the generator.
    pattern = rb"data: [^\n]+\n\n(: ping\n\n)+data: [^\n]+\n\n"
    assert re.fullmatch(pattern, theirs.content)
    assert re.fullmatch(pattern, ours.content)
    assert _without_pings(ours.content) == _without_pings(theirs.content)
    assert b"cancelled" not in ours.content


def test_no_keep_alive_comment_before_the_interval(clients):
    assert b"ping" not in clients.ignyx.get("/sse/slow").content


def test_server_sent_event_validation_matches_fastapi():
    import fastapi.sse

    cases = [
        {"event": "two\nlines"},
        {"event": "carriage\rreturn"},
        {"id": "two\nlines"},
        {"id": "nul\0char"},
        {"retry": -1},
        {"data": 1, "raw_data": "x"},
        {"retry": "soon"},
    ]
    for fields in cases:
        with pytest.raises(ValidationError):
            fastapi.sse.ServerSentEvent(**fields)
        with pytest.raises(ValidationError):
            ServerSentEvent(**fields)
    fine = {"data": {"a": 1}, "event": "e", "id": "7", "retry": 0, "comment": "c\nd"}
    assert ServerSentEvent(**fine).model_dump() == fastapi.sse.ServerSentEvent(**fine).model_dump()


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"data_str": '{"a": 1}'},
        {"data_str": "one\r\ntwo\rthree\nfour\n"},
        {"comment": "c"},
        {"comment": "", "event": "e", "data_str": "", "id": "", "retry": 0},
        {"comment": "a\nb", "event": "e", "data_str": "d", "id": "i", "retry": 10},
    ],
)
def test_format_sse_event_matches_fastapi(fields):
    import fastapi.sse

    assert format_sse_event(**fields) == fastapi.sse.format_sse_event(**fields)


def test_sse_module_surface_matches_fastapi():
    import fastapi.sse

    assert KEEPALIVE_COMMENT == fastapi.sse.KEEPALIVE_COMMENT
    assert ignyx.sse._PING_INTERVAL == fastapi.sse._PING_INTERVAL == 15.0
    assert EventSourceResponse.media_type == fastapi.sse.EventSourceResponse.media_type
    assert ignyx.responses.EventSourceResponse is EventSourceResponse
    assert set(ServerSentEvent.model_fields) == set(fastapi.sse.ServerSentEvent.model_fields)


def _with_middleware(fw: SimpleNamespace) -> Any:
    app = fw.FastAPI()
    sse = _names(fw).sse

    @app.middleware("http")
    async def tag(request, call_next):
        response = await call_next(request)
        response.headers["x-tag"] = "seen by the middleware"
        return response

    @app.get("/items")
    def items() -> Iterator[Item]:
        yield from ITEMS

    @app.get("/untyped")
    async def untyped():
        for value in UNTYPED:
            yield value

    @app.get("/events", response_class=sse.EventSourceResponse)
    async def events() -> AsyncIterator[Item]:
        for item in ITEMS:
            yield item

    return app


@pytest.fixture(scope="module")
def behind_middleware(dual):
    return dual(_with_middleware)


@pytest.mark.parametrize("url", ["/items", "/untyped", "/events"])
def test_streams_pass_through_http_middleware(behind_middleware, url):
    response, theirs = both(behind_middleware, "GET", url)
    assert response.headers["x-tag"] == theirs.headers["x-tag"] == "seen by the middleware"
    assert response.content.count(b"\n") >= 2


# -- OpenAPI ----------------------------------------------------------------------------


def test_openapi_documents_are_equal(clients):
    theirs = json.dumps(clients.fastapi_app.openapi(), indent=1)
    ours = json.dumps(clients.ignyx_app.openapi(), indent=1)
    assert ours == theirs
    paths = clients.ignyx_app.openapi()["paths"]
    assert paths["/jsonl/scalars"]["get"]["responses"]["200"]["content"] == {
        "application/jsonl": {
            "itemSchema": {"type": "integer", "title": "Streamitem Scalars Jsonl Scalars Get"}
        }
    }
    assert paths["/jsonl/untyped"]["get"]["responses"]["200"]["content"] == {
        "application/jsonl": {"itemSchema": {}}
    }
    sse_item = paths["/sse/typed"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    assert sse_item["itemSchema"]["required"] == ["data"]
    assert sse_item["itemSchema"]["properties"]["data"]["contentSchema"] == {
        "$ref": "#/components/schemas/Item"
    }


def _with_a_router(fw: SimpleNamespace) -> Any:
    kit = _names(fw)
    router = fw.APIRouter(prefix="/r")

    @router.get("/items")
    async def items() -> AsyncIterator[Item]:
        yield ITEMS[0]

    @router.get("/events", response_class=kit.sse.EventSourceResponse)
    def events() -> Iterator[Point]:
        yield Point(1, 2)

    app = fw.FastAPI()
    app.include_router(router, prefix="/v1")
    return app


def test_included_routes_keep_their_item_type(dual):
    clients = dual(_with_a_router)
    ours = clients.ignyx_app.openapi()
    assert json.dumps(ours) == json.dumps(clients.fastapi_app.openapi())
    assert ours["paths"]["/v1/r/items"]["get"]["responses"]["200"]["content"] == {
        "application/jsonl": {"itemSchema": {"$ref": "#/components/schemas/Item"}}
    }
    assert streamed(clients, "GET", "/v1/r/events").text == (
        'data: {"x":1,"y":2.0,"label":null}\n\n'
    )


# -- a real socket ----------------------------------------------------------------------


def _socket_app(gate: threading.Event, closed: threading.Event) -> Any:
    app = ignyx.Ignyx()

    @app.get("/sync")
    def sync_items() -> Iterator[Item]:
        try:
            yield ITEMS[0]
            gate.wait(10)  # the client reads the first line before this one is made
            yield ITEMS[1]
        finally:
            closed.set()

    @app.get("/async")
    async def async_items() -> AsyncIterator[Item]:
        try:
            yield ITEMS[0]
            while not gate.is_set():
                await asyncio.sleep(0.01)
            yield ITEMS[1]
        finally:
            closed.set()

    @app.get("/sse", response_class=EventSourceResponse)
    async def events() -> AsyncIterator[Item]:
        try:
            yield ITEMS[0]
            while not gate.is_set():
                await asyncio.sleep(0.01)
            yield ITEMS[1]
        finally:
            closed.set()

    @app.get("/forever")
    async def forever():
        try:
            n = 0
            while True:
                yield {"n": n}
                n += 1
                await asyncio.sleep(0.02)
        finally:
            closed.set()

    @app.get("/forever-sync")
    def forever_sync():
        try:
            n = 0
            while True:
                yield {"n": n}
                n += 1
                time.sleep(0.02)
        finally:
            closed.set()

    @app.get("/silent", response_class=EventSourceResponse)
    async def silent():
        try:
            yield {"hello": 1}
            await asyncio.Event().wait()  # never yields again
        finally:
            closed.set()

    @app.get("/many")
    def many() -> Iterator[Point]:
        for i in range(MANY):
            yield Point(i, 0.5, "a label long enough to make a few megabytes")

    @app.get("/many-async")
    async def many_async() -> AsyncIterator[Point]:
        for i in range(MANY):
            yield Point(i, 0.5, "a label long enough to make a few megabytes")

    @app.get("/many-raw", response_class=ignyx.responses.StreamingResponse)
    def many_raw() -> Iterator[str]:
        for i in range(MANY):
            yield f'{{"x":{i},"label":"raw chunks, one by one"}}\n'

    return app


MANY = 60_000


@pytest.mark.parametrize("url", ["/many", "/many-async", "/many-raw"])
def test_a_client_that_pauses_gets_every_item_in_order(url):
    with live_server(_socket_app(threading.Event(), threading.Event())) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            received = [sock.recv(65536)]
            time.sleep(0.3)  # the server's buffers fill up; the generator must wait
            while chunk := sock.recv(1 << 20):
                received.append(chunk)
    head, _, body = b"".join(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"transfer-encoding: chunked" in head
    rows = _dechunked(body).splitlines()
    assert [json.loads(row)["x"] for row in rows] == list(range(MANY))


def _dechunked(body: bytes) -> bytes:
    """A chunked body's content; asserts that it ends as a complete one does."""
    out, at = bytearray(), 0
    while True:
        end = body.index(b"\r\n", at)
        size = int(body[at:end], 16)
        if size == 0:
            assert body[end:] == b"\r\n\r\n"
            return bytes(out)
        out += body[end + 2 : end + 2 + size]
        at = end + 2 + size + 2


@pytest.mark.parametrize("url", ["/sync", "/async", "/sse"])
def test_items_reach_the_client_as_they_are_made(url):
    gate, closed = threading.Event(), threading.Event()
    with live_server(_socket_app(gate, closed)) as server, http_client(server.port) as client:
        with client.stream("GET", url) as response:
            received = response.iter_lines()
            first = next(received)
            assert not gate.is_set()  # the generator is still waiting for it
            assert "Plumbus" in first
            gate.set()
            rest = [line for line in received if line]
        assert "Portal gün" in rest[-1]
        assert eventually(closed.is_set)


@pytest.mark.parametrize("url", ["/forever", "/forever-sync", "/silent"])
def test_disconnecting_closes_the_generator(url, monkeypatch):
    monkeypatch.setattr(ignyx.sse, "_PING_INTERVAL", 0.05)
    gate, closed = threading.Event(), threading.Event()
    with live_server(_socket_app(gate, closed)) as server:
        with http_client(server.port) as client, client.stream("GET", url) as response:
            assert next(response.iter_lines())
        # The client has gone; the generator's `finally` runs.
        assert eventually(closed.is_set)
