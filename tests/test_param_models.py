"""Parameter models: a Pydantic model as ``Query()``, ``Header()``, ``Cookie()`` or ``Form()``
(FastAPI's "Query/Header/Cookie/Form Parameter Models"), and unions of models in forms.

Each app is built with FastAPI's imports and with Ignyx's; the same requests must get the
same status, body and headers, and the OpenAPI documents must be equal.
"""

from types import SimpleNamespace
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from conftest import differential
from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class FilterParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(100, gt=0, le=100)
    offset: int = Field(0, ge=0)
    order_by: Literal["created_at", "updated_at"] = "created_at"
    tags: list[str] = []


class LooseFilter(BaseModel):
    q: Optional[str] = None
    page: int = 1


class CommonHeaders(BaseModel):
    host: str
    save_data: bool
    if_modified_since: Optional[str] = None
    x_tag: list[str] = []


class StrictHeaders(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x_token: str


class ChoiceHeaders(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    api_key: str = Field(validation_alias=AliasChoices("x_key", "x-api-key"))
    trace_id: Optional[str] = Field(None, alias="x-trace")


class Cookies(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str
    tracker: Optional[str] = None


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"]
    tricks: list[str] = []


class Address(BaseModel):
    city: str


class Signup(BaseModel):
    name: str
    nicknames: list[str] = []
    address: Optional[Address] = None


def build(fw: SimpleNamespace) -> Any:
    form = _form(fw)
    app = fw.FastAPI(title="Parameter models")

    @app.get("/items")
    def items(filters: Annotated[FilterParams, fw.Query()]):
        return filters

    @app.get("/search")
    def search(filters: Annotated[Optional[LooseFilter], fw.Query()] = None, x: int = 0):
        return {"filters": filters, "x": x}

    @app.get("/headers")
    def headers(h: Annotated[CommonHeaders, fw.Header()]):
        return h

    @app.get("/strict-headers")
    def strict_headers(h: Annotated[StrictHeaders, fw.Header()]):
        return h

    @app.get("/raw-headers")
    def raw_headers(h: Annotated[StrictHeaders, fw.Header(convert_underscores=False)]):
        return h

    @app.get("/choice-headers")
    def choice_headers(h: Annotated[ChoiceHeaders, fw.Header()]):
        return h

    @app.get("/cookies")
    def cookies(c: Annotated[Cookies, fw.Cookie()]):
        return c

    def paging(p: Annotated[LooseFilter, fw.Query()]):
        return p

    @app.get("/dependency")
    def dependency(p: Annotated[LooseFilter, fw.Depends(paging)]):
        return p

    @app.post("/pets")
    def pets(pet: Annotated[Union[Cat, Dog], form(discriminator="kind")]):
        return pet

    @app.post("/animals")
    def animals(pet: Annotated[Union[Cat, Dog], form()]):
        return pet

    @app.post("/maybe-animal")
    def maybe_animal(pet: Annotated[Optional[Union[Cat, Dog]], form()] = None):
        return {"pet": pet}

    @app.post("/signup")
    def signup(data: Annotated[Signup, form()]):
        return data

    @app.post("/maybe-signup")
    def maybe_signup(data: Annotated[Optional[Signup], form()] = None):
        return {"data": data}

    @app.post("/signup-and-note")
    def signup_and_note(
        data: Annotated[Signup, form()],
        note: Annotated[str, form()] = "",
        pet: Annotated[Optional[Cat], form()] = None,
    ):
        return {"data": data, "note": note, "pet": pet}

    @app.post("/json-pets")
    def json_pets(pet: Annotated[Union[Cat, Dog], fw.Body(discriminator="kind")]):
        return pet

    return app


def _form(fw: SimpleNamespace) -> Any:
    if fw.name == "fastapi":
        from fastapi import Form
    else:
        from ignyx import Form
    return Form


@pytest.fixture(scope="module")
def clients(dual: Any) -> Any:
    return dual(build)


@pytest.mark.parametrize(
    "url",
    [
        "/items",
        "/items?limit=5&offset=2&tags=a&tags=b",
        "/items?limit=0&tool=plumbus",
        "/items?order_by=name&limit=x",
        "/items?tags=a&limit=5&limit=7",
        "/search",
        "/search?x=3",
        "/search?q=shoes",
        "/search?page=two",
        "/dependency?q=a&page=2&extra=1",
    ],
)
def test_query_model_answers_as_fastapi(clients: Any, url: str) -> None:
    differential(clients, "GET", url)


def test_query_model_forbids_extra_parameters(clients: Any) -> None:
    response = differential(clients, "GET", "/items?limit=5&tool=plumbus")
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "type": "extra_forbidden",
            "loc": ["query", "tool"],
            "msg": "Extra inputs are not permitted",
            "input": "plumbus",
        }
    ]


@pytest.mark.parametrize(
    "url, headers",
    [
        ("/headers", {"save-data": "true", "x-tag": "1", "if-modified-since": "today"}),
        ("/headers", {"save-data": "no"}),
        ("/headers", {}),
        ("/headers", {"save_data": "true"}),
        ("/strict-headers", {"x-token": "t"}),
        ("/strict-headers", {"x_token": "t"}),
        ("/raw-headers", {"x_token": "t"}),
        ("/raw-headers", {"x-token": "t"}),
        ("/choice-headers", {"x-api-key": "k", "x-trace": "abc"}),
        ("/choice-headers", {"x_key": "k"}),
        ("/choice-headers", {}),
    ],
)
def test_header_model_answers_as_fastapi(clients: Any, url: str, headers: dict[str, str]) -> None:
    differential(clients, "GET", url, headers=headers)


def test_header_model_reads_hyphenated_names_and_names_them_in_errors(clients: Any) -> None:
    ok = differential(clients, "GET", "/headers", headers={"save-data": "1", "x-tag": "a"})
    assert ok.json() == {
        "host": "testserver",
        "save_data": True,
        "if_modified_since": None,
        "x_tag": ["a"],
    }
    missing = differential(clients, "GET", "/headers")
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["header", "save-data"]


@pytest.mark.parametrize(
    "cookie",
    ["session_id=1", "session_id=1; tracker=t", "session_id=1; other=2", "tracker=t", ""],
)
def test_cookie_model_answers_as_fastapi(clients: Any, cookie: str) -> None:
    headers = {"cookie": cookie} if cookie else {}
    differential(clients, "GET", "/cookies", headers=headers)


@pytest.mark.parametrize(
    "url, data",
    [
        ("/pets", {"kind": "cat", "lives": "3"}),
        ("/pets", {"kind": "dog", "tricks": ["sit", "roll"]}),
        ("/pets", {"kind": "dog", "tricks": "sit"}),
        ("/pets", {"kind": "cow"}),
        ("/pets", {}),
        ("/animals", {"kind": "dog", "tricks": ["sit"]}),
        ("/animals", {"kind": "cat", "lives": "many"}),
        ("/animals", {"kind": "x"}),
        ("/maybe-animal", {}),
        ("/maybe-animal", {"kind": "cat"}),
        ("/maybe-animal", {"lives": "2"}),
        ("/signup", {"name": "ada", "nicknames": ["a", "b"]}),
        ("/signup", {"name": "ada", "address": "Paris"}),
        ("/signup", {"nicknames": "a"}),
        ("/maybe-signup", {}),
        ("/maybe-signup", {"name": "ada"}),
        ("/maybe-signup", {"nicknames": "x"}),
        ("/signup-and-note", {"name": "ada", "note": "hi"}),
        ("/signup-and-note", {"name": "ada", "kind": "cat", "lives": "3"}),
        ("/signup-and-note", {"note": "hi"}),
    ],
)
def test_form_models_and_unions_answer_as_fastapi(
    clients: Any, url: str, data: dict[str, Any]
) -> None:
    differential(clients, "POST", url, data=data)


def test_discriminated_form_union_picks_the_tagged_model(clients: Any) -> None:
    response = differential(clients, "POST", "/pets", data={"kind": "dog", "tricks": ["sit"]})
    assert response.json() == {"kind": "dog", "tricks": ["sit"]}
    wrong = differential(clients, "POST", "/pets", data={"kind": "cow"})
    assert wrong.json()["detail"][0]["type"] == "union_tag_invalid"


@pytest.mark.parametrize("body", [{"kind": "cat"}, {"kind": "cow"}, {}, [1]])
def test_body_discriminator_is_applied(clients: Any, body: Any) -> None:
    differential(clients, "POST", "/json-pets", json=body)


def test_openapi_document_equals_fastapis(clients: Any) -> None:
    ours = clients.ignyx_app.openapi()
    theirs = clients.fastapi_app.openapi()
    assert ours == theirs
    # An optional form model: its fields, or none of them.
    body = ours["components"]["schemas"]["Body_maybe_signup_maybe_signup_post"]
    assert body["allOf"][0]["anyOf"][0] == {
        "not": {
            "anyOf": [
                {"required": ["address"]},
                {"required": ["name"]},
                {"required": ["nicknames"]},
            ]
        }
    }
    parameters = ours["paths"]["/headers"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == [
        "host",
        "save-data",
        "if-modified-since",
        "x-tag",
    ]
    choices = ours["paths"]["/choice-headers"]["get"]["parameters"]
    assert [p["name"] for p in choices] == ["x_key", "x-trace"]
