"""The streaming examples (``examples/streaming/``), run on Ignyx as written and on FastAPI
with their ``from ignyx`` imports made ``from fastapi``: every request gets the same bytes
from both, and the OpenAPI documents are equal."""

import json
import warnings
from typing import Any

import pytest
from conftest import compared_headers, load_example

warnings.filterwarnings("ignore", message=".*httpx2.*")


def same(pair: Any, method: str, url: str, **kwargs: Any) -> Any:
    theirs, ours = pair.request(method, url, **kwargs)
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content), url
    assert compared_headers(ours) == compared_headers(theirs), url
    for name in ("cache-control", "x-accel-buffering"):
        assert ours.headers.get(name) == theirs.headers.get(name), name
    return ours


@pytest.fixture(scope="module")
def json_lines(dual: Any) -> Any:
    return dual(lambda fw: load_example("streaming/json_lines.py", fw.name).app)


@pytest.fixture(scope="module")
def events(dual: Any) -> Any:
    return dual(lambda fw: load_example("streaming/server_sent_events.py", fw.name).app)


@pytest.mark.parametrize("url", ["/books/stream", "/books/stream-sync"])
def test_json_lines_stream_one_book_per_line(json_lines: Any, url: str) -> None:
    response = same(json_lines, "GET", url)
    assert response.headers["content-type"] == "application/jsonl"
    assert [json.loads(line) for line in response.text.splitlines()] == [
        {"title": "Dune", "author": "Frank Herbert", "pages": 412},
        {"title": "Solaris", "author": "Stanisław Lem", "pages": 204},
        {"title": "The Dispossessed", "author": "Ursula K. Le Guin", "pages": None},
    ]


def test_json_lines_without_an_item_type(json_lines: Any) -> None:
    response = same(json_lines, "GET", "/books/stream-untyped")
    assert response.text.splitlines()[0] == '{"title": "Dune", "pages": 412}'


def test_json_lines_document(json_lines: Any) -> None:
    ours = json_lines.ignyx_app.openapi()
    assert json.dumps(ours) == json.dumps(json_lines.fastapi_app.openapi())
    content = ours["paths"]["/books/stream"]["get"]["responses"]["200"]["content"]
    assert content == {"application/jsonl": {"itemSchema": {"$ref": "#/components/schemas/Book"}}}


@pytest.mark.parametrize("url", ["/books/events", "/books/events-sync"])
def test_events_one_book_each(events: Any, url: str) -> None:
    response = same(events, "GET", url)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.text.startswith(
        'data: {"title":"Dune","author":"Frank Herbert","pages":412}\n\n'
    )
    assert response.text.count("\n\n") == 3


def test_events_without_an_item_type(events: Any) -> None:
    response = same(events, "GET", "/books/events-untyped")
    assert response.text == (
        'data: {"title": "Dune"}\n\ndata: {"title": "Solaris"}\n\n'
        'data: {"title": "The Dispossessed"}\n\n'
    )


def test_named_events_with_ids_and_a_comment(events: Any) -> None:
    response = same(events, "GET", "/books/named-events")
    assert response.text.startswith(
        ": the shelf, one book per event\n\n"
        'event: book\ndata: {"title":"Dune","author":"Frank Herbert","pages":412}\n'
        "id: 1\nretry: 5000\n\n"
    )


def test_raw_data_is_sent_as_it_is(events: Any) -> None:
    response = same(events, "GET", "/log")
    assert response.text == (
        "data: [library] starting\n\ndata: [library] loaded 3 books\n\ndata: [library] done\n\n"
    )


@pytest.mark.parametrize("last", [None, "0", "1", "2", "not a number"])
def test_a_stream_resumes_after_the_last_event_id(events: Any, last: Any) -> None:
    headers = {"Last-Event-ID": last} if last is not None else {}
    response = same(events, "GET", "/books/resumable", headers=headers)
    if last == "1":
        assert response.text == (
            'data: {"title":"The Dispossessed","author":"Ursula K. Le Guin","pages":null}\n'
            "id: 2\n\n"
        )
    if last == "not a number":
        assert response.status_code == 422


def test_events_over_post(events: Any) -> None:
    response = same(events, "POST", "/chat", json={"text": "which book?"})
    assert response.text == (
        'event: token\ndata: "You"\n\nevent: token\ndata: "asked:"\n\n'
        'event: token\ndata: "which"\n\nevent: token\ndata: "book?"\n\n'
        "event: end\ndata: [DONE]\n\n"
    )
    assert same(events, "POST", "/chat", json={}).status_code == 422


def test_events_document(events: Any) -> None:
    assert json.dumps(events.ignyx_app.openapi()) == json.dumps(events.fastapi_app.openapi())
