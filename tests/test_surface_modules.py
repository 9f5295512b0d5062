"""The FastAPI/Starlette-shaped surface modules, checked side by side with Starlette and FastAPI.

Each differential test builds the same thing with both libraries and compares what a user (or
the Rust engine) can see: for responses ``status_code``, ``body`` and ``raw_headers``.
These tests import only the surface modules, so they run before the extension is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import enum
import functools
import ipaddress
import os
import re
import sys
import threading
from collections import OrderedDict, deque
from decimal import Decimal
from pathlib import Path, PurePosixPath
from tempfile import SpooledTemporaryFile
from typing import Any, Optional
from uuid import UUID

import fastapi.datastructures as fastapi_datastructures
import fastapi.encoders
import fastapi.exceptions
import pydantic
import pytest
import starlette.datastructures
import starlette.exceptions
import starlette.responses
import starlette.status
from ignyx import background, concurrency, datastructures, encoders, exceptions, responses, status
from pydantic_core import PydanticUndefined

# --- helpers -------------------------------------------------------------------------------


def assert_same_response(ours: Any, theirs: Any) -> None:
    assert ours.status_code == theirs.status_code
    assert isinstance(ours.body, bytes)
    assert ours.body == bytes(theirs.body)
    assert ours.raw_headers == theirs.raw_headers
    assert all(isinstance(n, bytes) and isinstance(v, bytes) for n, v in ours.raw_headers)
    assert ours.media_type == theirs.media_type


def pair(name: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The same response class built with Ignyx and with Starlette."""
    return (
        getattr(responses, name)(*args, **kwargs),
        getattr(starlette.responses, name)(*args, **kwargs),
    )


async def run_starlette_response(response: Any, method: str = "GET") -> tuple[int, list, bytes]:
    """What Starlette actually puts on the wire for ``response``: status, headers, body."""
    scope = {"type": "http", "method": method, "headers": [], "asgi": {"spec_version": "2.4"}}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await response(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], list(start["headers"]), body


# --- status --------------------------------------------------------------------------------


def test_status_has_every_starlette_constant_with_the_same_value():
    names = list(starlette.status.__all__) + list(starlette.status.__deprecated__)
    for name in names:
        assert getattr(status, name) == starlette.status.__dict__.get(
            name, starlette.status.__deprecated__.get(name)
        ), name
    assert sorted(status.__all__) == sorted(starlette.status.__all__)


# --- exceptions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [(404,), (404, "Item not found"), (418,), (599,), (400, {"field": ["bad"]}), (401, None)],
)
def test_http_exception_matches_starlette(args):
    ours = exceptions.HTTPException(*args, headers={"WWW-Authenticate": "Bearer"})
    theirs = starlette.exceptions.HTTPException(*args, headers={"WWW-Authenticate": "Bearer"})
    assert (ours.status_code, ours.detail, ours.headers) == (
        theirs.status_code,
        theirs.detail,
        theirs.headers,
    )
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)


def test_http_exception_detail_defaults_to_reason_phrase():
    assert exceptions.HTTPException(404).detail == "Not Found"
    assert exceptions.HTTPException(status.HTTP_418_IM_A_TEAPOT).detail == "I'm a Teapot"
    assert exceptions.HTTPException(599).detail == ""


@pytest.mark.parametrize("args", [(1008,), (1008, "policy"), (1000, None)])
def test_websocket_exception_matches_starlette(args):
    ours = exceptions.WebSocketException(*args)
    theirs = starlette.exceptions.WebSocketException(*args)
    assert (ours.code, ours.reason, str(ours), repr(ours)) == (
        theirs.code,
        theirs.reason,
        str(theirs),
        repr(theirs),
    )


def test_validation_errors_keep_errors_and_body_like_fastapi():
    errors = [{"type": "missing", "loc": ("query", "q"), "msg": "Field required", "input": None}]
    ours = exceptions.RequestValidationError(errors, body={"a": 1})
    theirs = fastapi.exceptions.RequestValidationError(errors, body={"a": 1})
    assert ours.errors() == theirs.errors() == errors
    assert ours.body == theirs.body == {"a": 1}
    assert str(ours) == str(theirs)
    assert isinstance(ours, exceptions.ValidationException)

    response_error = exceptions.ResponseValidationError(errors * 2, body="x")
    assert str(response_error) == str(fastapi.exceptions.ResponseValidationError(errors * 2))
    assert response_error.body == "x"
    ws_error = exceptions.WebSocketRequestValidationError([])
    assert ws_error.errors() == [] and str(ws_error) == "0 validation errors:"
    assert issubclass(exceptions.IgnyxError, RuntimeError)


# --- background ----------------------------------------------------------------------------


def test_background_tasks_run_in_order_sync_and_async():
    calls: list[tuple[str, Any]] = []
    threads: list[str] = []

    def sync_task(value: int, *, tag: str) -> None:
        threads.append(threading.current_thread().name)
        calls.append(("sync", (value, tag)))

    async def async_task(value: int) -> None:
        calls.append(("async", value))

    tasks = background.BackgroundTasks()
    tasks.add_task(sync_task, 1, tag="a")
    tasks.add(async_task, 2)
    tasks.add_task(sync_task, 3, tag="c")
    asyncio.run(tasks())

    assert calls == [("sync", (1, "a")), ("async", 2), ("sync", (3, "c"))]
    assert threading.main_thread().name not in threads


def test_background_task_awaits_async_callables_and_partials():
    seen: list[str] = []

    class Notifier:
        async def __call__(self, who: str) -> None:
            seen.append(who)

    async def greet(who: str) -> None:
        seen.append(f"hi {who}")

    task = background.BackgroundTask(Notifier(), "obj")
    assert task.is_async
    asyncio.run(task())
    asyncio.run(background.BackgroundTask(functools.partial(greet, "p"))())
    asyncio.run(background.BackgroundTasks([background.BackgroundTask(greet, "x")])())
    assert seen == ["obj", "hi p", "hi x"]


# --- concurrency ---------------------------------------------------------------------------


def test_run_in_threadpool_runs_off_the_loop_thread():
    def work(a: int, b: int = 0) -> tuple[int, int]:
        return a + b, threading.get_ident()

    async def main() -> tuple[int, int]:
        return await concurrency.run_in_threadpool(work, 1, b=2)

    total, ident = asyncio.run(main())
    assert total == 3 and ident != threading.get_ident()


def test_iterate_in_threadpool_yields_every_item():
    async def main() -> list[int]:
        return [item async for item in concurrency.iterate_in_threadpool(iter(range(5)))]

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]


def test_contextmanager_in_threadpool_enters_and_exits():
    events: list[str] = []

    @contextlib.contextmanager
    def resource():
        events.append("enter")
        try:
            yield "r"
        finally:
            events.append("exit")

    async def main() -> None:
        async with concurrency.contextmanager_in_threadpool(resource()) as value:
            events.append(value)
        with pytest.raises(KeyError):
            async with concurrency.contextmanager_in_threadpool(resource()):
                raise KeyError("boom")

    asyncio.run(main())
    assert events == ["enter", "r", "exit", "enter", "exit"]


# --- datastructures: headers ---------------------------------------------------------------

RAW_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"x-multi", b"1"),
    (b"set-cookie", b"a=1"),
    (b"x-multi", b"2"),
    (b"set-cookie", b"b=2"),
]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"raw": RAW_HEADERS},
        {"headers": {"Content-Type": "application/json", "X-Token": "abc"}},
        {},
    ],
)
def test_headers_read_like_starlette(kwargs):
    ours = datastructures.Headers(**kwargs)
    theirs = starlette.datastructures.Headers(**kwargs)
    for key in ["content-type", "Content-Type", "X-MULTI", "set-cookie", "x-token", "missing"]:
        assert ours.get(key) == theirs.get(key)
        assert ours.getlist(key) == theirs.getlist(key)
        assert (key in ours) == (key in theirs)
    assert ours.keys() == theirs.keys()
    assert ours.values() == theirs.values()
    assert ours.items() == theirs.items()
    assert ours.raw == theirs.raw
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)
    assert dict(ours) == dict(theirs)
    assert repr(ours) == repr(theirs)
    assert ours == datastructures.Headers(raw=list(reversed(ours.raw)))
    with pytest.raises(KeyError):
        ours["missing"]
    copy = ours.mutablecopy()
    assert isinstance(copy, datastructures.MutableHeaders)
    copy["x-new"] = "1"
    assert "x-new" not in ours


def test_mutable_headers_edits_like_starlette():
    def edits(headers: Any) -> Any:
        headers["X-Multi"] = "replaced"
        headers.append("Set-Cookie", "c=3")
        assert headers.setdefault("content-type", "ignored") == "text/plain"
        assert headers.setdefault("X-Default", "d") == "d"
        del headers["set-cookie"]
        headers.update({"X-Update": "u", "Content-Type": "text/html"})
        headers.add_vary_header("Accept-Encoding")
        headers.add_vary_header("Origin")
        headers |= {"x-or": "1"}
        merged = headers | {"x-only-in-copy": "1"}
        assert "x-only-in-copy" not in headers
        return headers.raw, merged.raw

    ours = datastructures.MutableHeaders(raw=list(RAW_HEADERS))
    theirs = starlette.datastructures.MutableHeaders(raw=list(RAW_HEADERS))
    assert edits(ours) == edits(theirs)
    assert ours.getlist("vary") == ["Accept-Encoding, Origin"]


def test_mutable_headers_write_through_to_the_list_they_wrap():
    raw: list[tuple[bytes, bytes]] = [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]
    headers = datastructures.MutableHeaders(raw=raw)
    del headers["a"]
    headers["c"] = "4"
    assert headers.raw is raw
    assert raw == [(b"b", b"2"), (b"c", b"4")]


# --- datastructures: query params, multidicts ----------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "a=1&b=2&a=3",
        "q=hello+world&empty=&flag",
        "name=%E2%9C%93&x=%26%3D",
        "",
        b"a=1&a=2",
        [("a", "1"), ("b", 2), ("a", "3")],
        {"a": "1", "b": "2"},
    ],
)
def test_query_params_read_like_starlette(value):
    ours = datastructures.QueryParams(value)
    theirs = starlette.datastructures.QueryParams(value)
    for key in ["a", "b", "q", "empty", "flag", "name", "x", "missing"]:
        assert ours.get(key) == theirs.get(key)
        assert ours.getlist(key) == theirs.getlist(key)
        assert (key in ours) == (key in theirs)
    assert ours.multi_items() == theirs.multi_items()
    assert list(ours.items()) == list(theirs.items())
    assert list(ours.keys()) == list(theirs.keys())
    assert list(ours.values()) == list(theirs.values())
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)
    assert len(ours) == len(theirs)
    reordered = sorted(ours.multi_items(), key=lambda item: item[0], reverse=True)
    assert (ours == datastructures.QueryParams(reordered)) == (
        theirs == starlette.datastructures.QueryParams(reordered)
    )


def test_query_params_get_gives_the_last_value():
    params = datastructures.QueryParams("tag=a&tag=b", page="2")
    assert params["tag"] == params.get("tag") == "b"
    assert params.getlist("tag") == ["a", "b"]
    assert str(params) == str(starlette.datastructures.QueryParams("tag=a&tag=b", page="2"))


def test_multidict_edits_like_starlette():
    def edits(md: Any) -> Any:
        md["a"] = "x"
        md.append("b", "y")
        md.append("b", "z")
        assert md.setdefault("c", "d") == "d"
        assert md.setdefault("a", "ignored") == "x"
        assert md.poplist("missing") == []
        md.setlist("e", ["1", "2"])
        md.setlist("c", [])
        md.update([("b", "w"), ("f", "g")], h="i")
        popped = md.pop("h")
        del md["f"]
        return md.multi_items(), dict(md), popped, md.getlist("b"), repr(md)

    items = [("a", "1"), ("b", "2"), ("a", "3")]
    assert edits(datastructures.MultiDict(items)) == edits(
        starlette.datastructures.MultiDict(items)
    )


def test_immutable_multidict_reads_like_starlette():
    items = [("a", 1), ("b", 2), ("a", 3)]
    ours = datastructures.ImmutableMultiDict(items, c=4)
    theirs = starlette.datastructures.ImmutableMultiDict(items, c=4)
    assert ours.multi_items() == theirs.multi_items()
    assert dict(ours) == dict(theirs)
    assert ours.getlist("a") == [1, 3]
    assert repr(ours) == repr(theirs)
    assert ours == datastructures.ImmutableMultiDict(ours)
    assert ours != theirs


# --- datastructures: URL -------------------------------------------------------------------

URLS = [
    "https://example.com/path/to?q=1&q=2#frag",
    "http://user:secret@example.com:8080/a%20b/?x=%2F",
    "https://[::1]:8443/ipv6",
    "ws://localhost/socket",
    "/relative/path?only=query",
    "",
]


@pytest.mark.parametrize("url", URLS)
def test_url_reads_like_starlette(url):
    ours = datastructures.URL(url)
    theirs = starlette.datastructures.URL(url)
    for attr in [
        "scheme",
        "netloc",
        "path",
        "query",
        "fragment",
        "username",
        "password",
        "hostname",
        "port",
        "is_secure",
    ]:
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)
    assert ours == url and ours == theirs


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize(
    "change",
    [
        {"path": "/other"},
        {"scheme": "wss"},
        {"query": "a=b"},
        {"fragment": ""},
        {"hostname": "example.org"},
        {"hostname": "::1"},
        {"port": 9000},
        {"port": None},
        {"username": "bob"},
        {"username": "bob", "password": "pw"},
        {"netloc": "other:1"},
    ],
)
def test_url_replace_like_starlette(url, change):
    ours = datastructures.URL(url).replace(**change)
    theirs = starlette.datastructures.URL(url).replace(**change)
    assert isinstance(ours, datastructures.URL)
    assert str(ours) == str(theirs)


@pytest.mark.parametrize("url", URLS)
def test_url_query_param_helpers_like_starlette(url):
    ours = datastructures.URL(url)
    theirs = starlette.datastructures.URL(url)
    assert str(ours.include_query_params(q=3, page="a b")) == str(
        theirs.include_query_params(q=3, page="a b")
    )
    assert str(ours.replace_query_params(z=1)) == str(theirs.replace_query_params(z=1))
    assert str(ours.remove_query_params("q")) == str(theirs.remove_query_params("q"))
    assert str(ours.remove_query_params(["q", "x"])) == str(theirs.remove_query_params(["q", "x"]))


def test_url_from_components_like_starlette():
    parts = {"scheme": "https", "netloc": "example.com", "path": "/a", "query": "b=1"}
    assert str(datastructures.URL(**parts)) == str(starlette.datastructures.URL(**parts))


# --- datastructures: the small ones --------------------------------------------------------


def test_address_state_and_default_placeholder():
    address = datastructures.Address("127.0.0.1", 8000)
    assert address.host == "127.0.0.1" and address.port == 8000
    assert address == starlette.datastructures.Address("127.0.0.1", 8000)

    state = datastructures.State({"a": 1})
    state.db = "pool"
    state["b"] = 2
    assert (state.a, state.db, state["b"], sorted(state), len(state)) == (
        1,
        "pool",
        2,
        ["a", "b", "db"],
        3,
    )
    del state.a
    with pytest.raises(AttributeError, match="'State' object has no attribute 'a'"):
        _ = state.a

    ours = datastructures.Default(0)
    theirs = fastapi_datastructures.Default(0)
    assert isinstance(ours, datastructures.DefaultPlaceholder)
    assert bool(ours) is bool(theirs) is False
    assert ours == datastructures.DefaultPlaceholder(0)
    assert ours != 0 and ours != datastructures.Default(1)


def test_upload_file_reads_writes_and_reports_metadata():
    async def main() -> None:
        spooled = SpooledTemporaryFile(max_size=8)
        upload = datastructures.UploadFile(
            spooled,
            size=0,
            filename="data.bin",
            headers=datastructures.Headers({"Content-Type": "application/octet-stream"}),
        )
        assert upload.content_type == "application/octet-stream"
        await upload.write(b"abc")
        assert upload._in_memory
        await upload.write(b"\x00" * 20)
        assert not upload._in_memory
        assert upload.size == 23
        await upload.seek(0)
        assert await upload.read(3) == b"abc"
        assert await upload.read() == b"\x00" * 20
        await upload.close()
        assert spooled.closed

        form = datastructures.FormData(
            [("name", "x"), ("file", datastructures.UploadFile(SpooledTemporaryFile()))]
        )
        assert form["name"] == "x"
        await form.close()
        assert form["file"].file.closed

    asyncio.run(main())
    assert datastructures.UploadFile(SpooledTemporaryFile()).content_type is None
    assert repr(datastructures.UploadFile(SpooledTemporaryFile(), filename="a")) == (
        "UploadFile(filename='a', size=None, headers=Headers({}))"
    )


def test_upload_file_validates_as_a_pydantic_field():
    adapter = pydantic.TypeAdapter(datastructures.UploadFile)
    upload = datastructures.UploadFile(SpooledTemporaryFile())
    assert adapter.validate_python(upload) is upload
    with pytest.raises(pydantic.ValidationError):
        adapter.validate_python("not a file")
    assert adapter.json_schema() == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
    }


# --- responses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"content": "hello"},
        {"content": "héllo ✓"},
        {"content": b"\x00\xffbinary"},
        {"content": memoryview(b"view")},
        {"content": "x", "media_type": "text/plain"},
        {"content": "x", "media_type": "text/csv; charset=latin-1"},
        {"content": "x", "media_type": "application/xml"},
        {"content": "x", "status_code": 201},
        {"content": "", "status_code": 204},
        {"content": "", "status_code": 304},
        {"content": "", "status_code": 101},
        {"content": "x", "headers": {"X-Custom": "1", "Content-Length": "99"}},
        {"content": "x", "headers": {"Content-Type": "text/weird"}, "media_type": "text/plain"},
        {"content": None, "status_code": 404, "headers": {}},
    ],
)
def test_response_matches_starlette(kwargs):
    assert_same_response(*pair("Response", **kwargs))


@pytest.mark.parametrize("name", ["HTMLResponse", "PlainTextResponse"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"content": "<h1>hi ✓</h1>"},
        {"content": b"raw"},
        {"content": "x", "status_code": 500, "headers": {"x-a": "b"}},
        {"content": "x", "media_type": "text/markdown"},
    ],
)
def test_text_responses_match_starlette(name, kwargs):
    assert_same_response(*pair(name, **kwargs))


@pytest.mark.parametrize(
    "content",
    [
        {"hello": "world"},
        {"unicode": "é ✓ 漢字", "nested": {"list": [1, 2.5, None, True, False]}},
        [1, "two", 3.0],
        "just a string",
        0,
        -1.5e300,
        None,
        [],
        {},
        {"quote": 'he said "hi"\n\t\\'},
    ],
)
def test_json_response_matches_starlette(content):
    assert_same_response(*pair("JSONResponse", content))
    assert_same_response(
        *pair(
            "JSONResponse",
            content,
            status_code=201,
            headers={"x-id": "7"},
            media_type="application/vnd.api+json",
        )
    )


@pytest.mark.parametrize("content", [{"a": [1, 2.5, None, "é ✓"]}, "s", [], None, {"q": '"\\'}])
def test_json_fallback_without_the_extension_matches_starlette(content):
    starlette_body = starlette.responses.JSONResponse(content).body
    assert responses._python_json_dumps(content) == starlette_body


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {"x": float("-inf")}])
def test_json_response_refuses_nan_and_infinity(bad):
    with pytest.raises(ValueError):
        starlette.responses.JSONResponse(bad)
    with pytest.raises(ValueError):
        responses.JSONResponse(bad)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        (("/new",), {}),
        (("https://example.com/a b?q=ü&x=1#frag",), {"status_code": 301}),
        (("/path with spaces/%20already",), {"status_code": 308, "headers": {"x-a": "1"}}),
        ((starlette.datastructures.URL("http://e.com/?a=[1]"),), {"status_code": 302}),
    ],
)
def test_redirect_response_matches_starlette(args, kwargs):
    assert_same_response(*pair("RedirectResponse", *args, **kwargs))


def test_redirect_response_accepts_ignyx_url():
    ours = responses.RedirectResponse(datastructures.URL("/to?x=1"))
    assert ours.headers["location"] == "/to?x=1"
    assert ours.status_code == 307


COOKIE_CASES = [
    {"key": "session", "value": "abc"},
    {"key": "session", "value": 'a b;c,"d"\\é'},
    {"key": "k", "max_age": 3600},
    {"key": "k", "expires": 10},
    {"key": "k", "expires": "Wed, 21 Oct 2015 07:28:00 GMT"},
    {"key": "k", "expires": dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)},
    {"key": "k", "path": None},
    {"key": "k", "path": "/api", "domain": "example.com"},
    {"key": "k", "secure": True, "httponly": True},
    {"key": "k", "samesite": "strict"},
    {"key": "k", "samesite": "none", "secure": True},
    {"key": "k", "samesite": "Lax"},
    {"key": "k", "samesite": None},
]


@pytest.mark.parametrize("cookie", COOKIE_CASES)
def test_set_cookie_matches_starlette(cookie):
    ours, theirs = pair("Response", "body")
    ours.set_cookie(**cookie)
    theirs.set_cookie(**cookie)
    assert_same_response(ours, theirs)


@pytest.mark.parametrize(
    "cookie",
    [
        {"key": "k"},
        {"key": "k", "path": "/api", "domain": "example.com"},
        {"key": "k", "secure": True, "httponly": True, "samesite": "strict"},
        {"key": "k", "samesite": None},
    ],
)
def test_delete_cookie_matches_starlette(cookie):
    ours, theirs = pair("JSONResponse", {"ok": True})
    ours.delete_cookie(**cookie)
    theirs.delete_cookie(**cookie)
    assert_same_response(ours, theirs)


def test_several_set_cookie_calls_give_several_headers():
    ours, theirs = pair("PlainTextResponse", "ok")
    for response in (ours, theirs):
        response.set_cookie("a", "1")
        response.set_cookie("b", "2", httponly=True)
        response.delete_cookie("c")
    assert_same_response(ours, theirs)
    assert len(ours.headers.getlist("set-cookie")) == 3


def test_set_cookie_rejects_unknown_samesite():
    with pytest.raises(AssertionError):
        responses.Response().set_cookie("k", samesite="sometimes")


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="Partitioned cookies work on 3.14")
def test_partitioned_cookie_needs_python_3_14_like_starlette():
    with pytest.raises(ValueError):
        responses.Response().set_cookie("k", partitioned=True)


def test_response_headers_write_through_to_raw_headers():
    ours, theirs = pair("Response", "x", media_type="text/plain")
    for response in (ours, theirs):
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.append("Vary", "Origin")
        response.headers["content-type"] = "text/html"
        del response.headers["content-length"]
    assert_same_response(ours, theirs)


def test_placeholder_response_with_no_status_gets_no_content_length():
    response = responses.Response(content=None, status_code=None)  # type: ignore[arg-type]
    assert response.raw_headers == []
    response.set_cookie("a", "1")
    assert response.headers.getlist("set-cookie") == ["a=1; Path=/; SameSite=lax"]


def test_background_attribute_is_kept():
    tasks = background.BackgroundTasks()
    for response in (
        responses.Response("x", background=tasks),
        responses.JSONResponse({}, background=tasks),
        responses.RedirectResponse("/", background=tasks),
        responses.StreamingResponse(iter([b"x"]), background=tasks),
    ):
        assert response.background is tasks
    assert responses.Response().background is None


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"media_type": "text/event-stream"},
        {"media_type": "application/x-ndjson", "status_code": 206, "headers": {"x-a": "1"}},
        {"headers": {"Content-Length": "3"}},
    ],
)
def test_streaming_response_matches_starlette(asynchronous, kwargs):
    chunks = [b"a", "é", b"c"]

    async def agen():
        for chunk in chunks:
            yield chunk

    content = agen() if asynchronous else iter(chunks)
    ours = responses.StreamingResponse(content, **kwargs)
    theirs = starlette.responses.StreamingResponse(iter(chunks), **kwargs)
    assert ours.body_iterator is content
    assert ours.body == b""
    assert ours.status_code == theirs.status_code
    assert ours.raw_headers == theirs.raw_headers
    assert ours.media_type == theirs.media_type


# --- responses: files ----------------------------------------------------------------------


@pytest.fixture
def binary_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 300 + b"\r\n\x00tail")
    return path


def file_response_pair(path: Path, **kwargs: Any) -> tuple[Any, tuple[int, list, bytes]]:
    method = kwargs.pop("method", "GET")
    ours = responses.FileResponse(path, method=method, **kwargs)
    theirs = starlette.responses.FileResponse(path, **kwargs)
    return ours, asyncio.run(run_starlette_response(theirs, method=method))


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"filename": "report.pdf"},
        {"filename": "résumé ✓.txt"},
        {"filename": "photo.png", "content_disposition_type": "inline"},
        {"media_type": "application/x-custom"},
        {"status_code": 202, "headers": {"X-A": "1", "ETag": '"mine"'}},
        {"method": "HEAD"},
    ],
)
def test_file_response_sends_what_starlette_sends(binary_file, kwargs):
    ours, (status_code, raw_headers, body) = file_response_pair(binary_file, **kwargs)
    assert ours.status_code == status_code
    assert ours.raw_headers == raw_headers
    # The file is streamed as the response is sent, not read into `body` beforehand.
    assert ours.body == b""
    method = kwargs.get("method", "GET")
    sent = asyncio.run(run_starlette_response(ours, method=method))
    assert sent == (status_code, raw_headers, body)
    if method != "HEAD":
        assert body == binary_file.read_bytes()


def test_file_response_guesses_type_from_path(tmp_path: Path):
    for name, expected in [
        ("a.html", "text/html; charset=utf-8"),
        ("a.json", "application/json"),
        ("a", "application/octet-stream"),
    ]:
        path = tmp_path / name
        path.write_text("{}")
        ours, (_, raw_headers, _) = file_response_pair(path)
        assert ours.headers["content-type"] == expected
        assert ours.raw_headers == raw_headers


def test_file_response_uses_a_given_stat_result(binary_file):
    stat_result = os.stat(binary_file)
    ours = responses.FileResponse(binary_file, stat_result=stat_result)
    theirs = starlette.responses.FileResponse(binary_file, stat_result=stat_result)
    assert ours.raw_headers == theirs.raw_headers
    assert ours.stat_result is stat_result


def test_file_response_for_missing_file_or_directory_raises(tmp_path: Path):
    with pytest.raises(RuntimeError, match="does not exist"):
        responses.FileResponse(tmp_path / "missing.txt")
    with pytest.raises(RuntimeError, match="is not a file"):
        responses.FileResponse(tmp_path)


# --- encoders ------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    ONE = 1


class Item(pydantic.BaseModel):
    name: str
    price: Decimal = Decimal("1.50")
    tags: set[str] = set()
    created: dt.datetime = dt.datetime(2024, 1, 2, 3, 4, 5)
    secret: pydantic.SecretStr = pydantic.SecretStr("hidden")
    owner: Optional[str] = None
    alias_field: int = pydantic.Field(0, alias="aliasField")


class Order(pydantic.BaseModel):
    id: UUID
    items: list[Item]
    note: Optional[str] = None


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: Optional[str] = None
    when: dt.date = dt.date(2020, 2, 29)


class Plain:
    def __init__(self) -> None:
        self.a = 1
        self.b = [dt.time(12, 30)]
        self._sa_instance_state = "internal"


class Pairs:
    def __iter__(self):
        return iter([("k", "v"), ("n", 1)])


def gen():
    yield from (1, "a", None)


ENCODER_VALUES = [
    None,
    True,
    0,
    -7,
    3.25,
    "text",
    "é ✓",
    b"bytes",
    [1, [2, [3]]],
    (1, 2),
    {3, 1, 2},
    frozenset({"x"}),
    deque([1, 2]),
    {"a": 1, "none": None, "_sa_x": 1, 2: "int key", "nested": {"b": [dt.date(2000, 1, 1)]}},
    OrderedDict([("z", 1), ("a", 2)]),
    dt.datetime(2024, 5, 6, 7, 8, 9, 123456),
    dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    dt.date(2024, 5, 6),
    dt.time(7, 8, 9),
    dt.timedelta(days=1, seconds=2, microseconds=3),
    UUID("12345678-1234-5678-1234-567812345678"),
    Decimal("10"),
    Decimal("10.5"),
    Decimal("1E+2"),
    Color.RED,
    Color.ONE,
    Path("/tmp/x"),
    PurePosixPath("a/b"),
    ipaddress.ip_address("10.0.0.1"),
    ipaddress.ip_address("::1"),
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_interface("10.0.0.1/24"),
    re.compile(r"^a+$"),
    pydantic.SecretStr("s"),
    pydantic.SecretBytes(b"s"),
    pydantic.NameEmail("Bob", "bob@example.com"),
    pydantic.AnyUrl("https://example.com/a?b=1"),
    pydantic.HttpUrl("https://example.com"),
    PydanticUndefined,
    Item(name="widget", tags={"a"}, aliasField=5),
    Order(id=UUID(int=1), items=[Item(name="a"), Item(name="b", owner="me")]),
    Point(1, 2.5),
    [Point(3, 4.0, "p")],
    Plain(),
    Pairs(),
    {"models": [Item(name="x")], "points": (Point(0, 0.0),)},
]


@pytest.mark.parametrize("value", ENCODER_VALUES, ids=lambda v: type(v).__name__)
def test_jsonable_encoder_matches_fastapi(value):
    assert encoders.jsonable_encoder(value) == fastapi.encoders.jsonable_encoder(value)


def test_jsonable_encoder_encodes_generators_like_fastapi():
    assert encoders.jsonable_encoder(gen()) == fastapi.encoders.jsonable_encoder(gen())


@pytest.mark.parametrize(
    "options",
    [
        {"include": {"name", "price"}},
        {"include": ["name"]},
        {"exclude": {"secret", "created"}},
        {"by_alias": False},
        {"exclude_unset": True},
        {"exclude_defaults": True},
        {"exclude_none": True},
        {"custom_encoder": {Decimal: str}},
        {"custom_encoder": {dt.datetime: lambda d: d.year}},
    ],
)
def test_jsonable_encoder_options_match_fastapi(options):
    values = [
        Item(name="w", owner=None, aliasField=3),
        {"name": "n", "price": Decimal("2.5"), "owner": None, "_sa_state": 1},
        [Point(1, 1.0)],
        dt.datetime(2020, 1, 1),
    ]
    for value in values:
        assert encoders.jsonable_encoder(value, **options) == fastapi.encoders.jsonable_encoder(
            value, **options
        )


def test_jsonable_encoder_keeps_sqlalchemy_keys_when_asked():
    value = {"_sa_instance_state": 1, "a": 2}
    assert encoders.jsonable_encoder(value, sqlalchemy_safe=False) == value
    assert encoders.jsonable_encoder(Plain()) == fastapi.encoders.jsonable_encoder(Plain())


def test_jsonable_encoder_raises_value_error_for_opaque_objects():
    with pytest.raises(ValueError):
        fastapi.encoders.jsonable_encoder(object())
    with pytest.raises(ValueError):
        encoders.jsonable_encoder(object())
