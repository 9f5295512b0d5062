"""The engine's fast plan for a route's one JSON body (`src/http/extract.rs`), and the
model it returns serialised without `model_dump`'s Python frame (`src/json.rs`).

Every case is answered by Ignyx's engine and by FastAPI (Starlette's TestClient), and the
two answers must be the same: the fast plan may only take the requests whose answer it
gives exactly as the general path does, and leave the rest to it.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import fastapi
import ignyx
import pytest
from fastapi.testclient import TestClient as FastAPIClient
from ignyx.testclient import TestClient
from pydantic import BaseModel, Field, RootModel, field_validator


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float
    tags: list[str] = []


class Shouting(BaseModel):
    """A model whose own `model_dump` FastAPI calls: the engine must call it too."""

    word: str

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        dumped = super().model_dump(**kwargs)
        return {key: value.upper() for key, value in dumped.items()}


class Aliased(BaseModel):
    full_name: str = Field(alias="fullName")
    ratio: float = 0.5


class Checked(BaseModel):
    n: int

    @field_validator("n")
    @classmethod
    def not_thirteen(cls, n: int) -> int:
        if n == 13:
            raise LookupError("unlucky")  # not a ValueError: no 422, the app's 500
        return n


Tags = RootModel[list[str]]


def make_app(fw: Any) -> Any:
    app = fw.FastAPI()

    @app.post("/items")
    def create(item: Item):
        return item

    @app.put("/items/{item_id}")
    async def replace(item_id: int, item: Item, q: Optional[str] = None):
        return {"id": item_id, "q": q, "item": item}

    @app.post("/shout")
    def shout(body: Shouting):
        return body

    @app.post("/aliased")
    def aliased(body: Aliased):
        return body

    @app.post("/checked")
    def checked(body: Checked):
        return body

    @app.post("/optional")
    def optional(item: Optional[Item] = None):
        return {"item": item}

    @app.post("/tags")
    def tags(body: Tags):
        return body

    @app.post("/union")
    def union(body: Union[Item, list[int]]):
        return body

    # Up to 8 parameters are passed by vectorcall, more in a tuple: both sides of that line.
    @app.get("/eight/{a}")
    def eight(
        a: int,
        b: int = 0,
        c: int = 0,
        d: str = "d",
        e: float = 0.5,
        f: bool = False,
        g: int = 7,
        h: str = "h",
    ):
        return [a, b, c, d, e, f, g, h]

    @app.get("/nine/{a}")
    def nine(
        a: int,
        b: int = 0,
        c: int = 0,
        d: str = "d",
        e: float = 0.5,
        f: bool = False,
        g: int = 7,
        h: str = "h",
        i: int = 9,
    ):
        return [a, b, c, d, e, f, g, h, i]

    @app.post("/plain")
    def plain(body: dict[str, int]):
        return body

    return app


@pytest.fixture(scope="module")
def clients():
    with TestClient(make_app(ignyx), raise_server_exceptions=False) as ours:
        theirs = FastAPIClient(make_app(fastapi), raise_server_exceptions=False)
        yield ours, theirs


JSON = {"content-type": "application/json"}
HUGE = "9" * 309

CASES = [
    ("POST", "/items", JSON, b'{"name":"a","price":1}'),
    ("POST", "/items", JSON, b'{"name":"a","price":1.5e300,"tags":["x","\\u00e9"]}'),
    ("POST", "/items", JSON, '{"name":"é ✓","price":0.1}'.encode()),
    ("POST", "/items", JSON, b'{"name":"","price":1}'),  # 422 from the general path
    ("POST", "/items", JSON, b'{"name":"a"}'),
    ("POST", "/items", JSON, b'{"name":"a","price":1,}'),  # invalid JSON: FastAPI's 422
    ("POST", "/items", JSON, b'{"name":"a","price":NaN}'),
    ("POST", "/items", JSON, b""),  # empty: missing body
    ("POST", "/items", {}, b'{"name":"a","price":1}'),  # no content type: not JSON
    ("POST", "/items", {"content-type": "text/plain"}, b'{"name":"a","price":1}'),
    (
        "POST",
        "/items",
        {"content-type": "Application/JSON; charset=utf-8"},
        b'{"name":"a","price":2}',
    ),
    ("POST", "/items", {"content-type": "application/vnd.api+json"}, b'{"name":"a","price":3}'),
    ("POST", "/items", {"content-type": "application/json-patch"}, b'{"name":"a","price":3}'),
    ("POST", "/items", JSON, ('{"name":"a","price":' + HUGE + "}").encode()),  # past floats
    ("POST", "/items", JSON, ('{"name":"' + HUGE + '","price":1}').encode()),
    ("PUT", "/items/7", JSON, b'{"name":"a","price":1}'),
    ("PUT", "/items/7?q=x", JSON, b'{"name":"a","price":1}'),
    ("PUT", "/items/x", JSON, b'{"name":"a","price":1}'),  # the path's 422
    ("PUT", "/items/x", JSON, b'{"name":""}'),  # both errors at once
    ("POST", "/shout", JSON, b'{"word":"hi"}'),
    ("POST", "/aliased", JSON, b'{"fullName":"Ada"}'),
    ("POST", "/aliased", JSON, b'{"full_name":"Ada"}'),
    ("POST", "/checked", JSON, b'{"n":1}'),
    ("POST", "/checked", JSON, b'{"n":13}'),
    ("POST", "/optional", JSON, b"null"),
    ("POST", "/optional", JSON, b""),
    ("POST", "/optional", JSON, b'{"name":"a","price":1}'),
    ("POST", "/tags", JSON, b'["a","b"]'),
    ("POST", "/tags", JSON, b'["a",1]'),
    ("POST", "/union", JSON, b"[1,2]"),
    ("POST", "/union", JSON, b'{"name":"a","price":1}'),
    ("POST", "/plain", JSON, b'{"a":1,"b":"2"}'),
    ("POST", "/plain", JSON, b'{"a":1,"a":2}'),
    ("GET", "/eight/1", {}, b""),
    ("GET", "/eight/1?h=z&f=true&b=2", {}, b""),
    ("GET", "/eight/x", {}, b""),
    ("GET", "/nine/1?i=3&b=2", {}, b""),
    ("GET", "/nine/1?i=x", {}, b""),
]


@pytest.mark.parametrize(("method", "url", "headers", "body"), CASES)
def test_answers_agree_with_fastapi(clients, method, url, headers, body):
    ours, theirs = clients
    got = ours.request(method, url, headers=headers, content=body)
    want = theirs.request(method, url, headers=headers, content=body)
    assert (got.status_code, got.content) == (want.status_code, want.content)
    assert got.headers.get("content-type") == want.headers.get("content-type")


def _plan_sources(app: Any, path: str) -> Optional[list[Any]]:
    route = next(r for r in app.routes if getattr(r, "path", None) == path)
    plan = route.fast_plan()
    return None if plan is None else [param.source for param in plan]


def test_a_json_body_route_has_a_fast_plan():
    app = make_app(ignyx)
    body, path, query = ignyx._core.ParamSource.BODY, ignyx._core.ParamSource.PATH, None
    assert _plan_sources(app, "/items") == [body]
    sources = _plan_sources(app, "/items/{item_id}")
    query = ignyx._core.ParamSource.QUERY
    assert sources == [path, body, query]
    assert _plan_sources(app, "/eight/{a}") == [path] + [query] * 7
    assert _plan_sources(app, "/nine/{a}") == [path] + [query] * 8


def test_routes_the_fast_plan_cannot_answer_keep_the_general_path():
    app = ignyx.FastAPI()

    @app.post("/embedded")
    def embedded(item: Item = ignyx.Body(embed=True)):
        return item

    @app.post("/two")
    def two(item: Item, other: Item):
        return item

    @app.post("/form")
    def form(name: str = ignyx.Form()):
        return name

    @app.post("/with-request")
    def with_request(item: Item, request: ignyx.Request):
        return item

    @app.post("/answered", response_model=Item)
    def answered(item: Item):
        return item

    for path in ["/embedded", "/two", "/form", "/with-request", "/answered"]:
        assert _plan_sources(app, path) is None, path
