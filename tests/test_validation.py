"""Validation errors: FastAPI's 422 body byte for byte, and never a 500 for bad input."""

from typing import Annotated, Optional

import pytest
from conftest import differential
from pydantic import BaseModel, Field


class User(BaseModel):
    name: str
    age: int = Field(gt=0)


class Address(BaseModel):
    city: str
    zip: Annotated[str, Field(pattern=r"^\d{5}$")]


class Customer(BaseModel):
    name: str
    addresses: list[Address]
    nickname: Optional[str] = None


def build(fw):
    app = fw.FastAPI()

    @app.post("/users")
    def create_user(user: User):
        return user

    @app.post("/customers")
    async def create_customer(customer: Customer):
        return customer

    @app.get("/q/{item_id}")
    def combined(item_id: int, n: int = fw.Query(), x_token: str = fw.Header()):
        return {"item_id": item_id, "n": n, "x_token": x_token}

    @app.post("/everything/{item_id}")
    def everything(
        item_id: int,
        user: User,
        limit: Annotated[int, fw.Query(le=10)] = 5,
        x_count: Annotated[int, fw.Header()] = 0,
        session: Annotated[Optional[str], fw.Cookie(min_length=3)] = None,
    ):
        return {"ok": True}

    @app.get("/numbers")
    def numbers(i: int = 0, f: float = 0.0):
        return {"i": i, "f": f}

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


# The bodies FastAPI 0.165 writes (ANCHORS.md §5.2), byte for byte.
MISSING = (
    b'{"detail":[{"type":"missing","loc":["body","age"],"msg":"Field required",'
    b'"input":{"name":"a"}}]}'
)
INT_PARSING = (
    b'{"detail":[{"type":"int_parsing","loc":["body","age"],"msg":"Input should be a valid '
    b'integer, unable to parse string as an integer","input":"x"}]}'
)
GREATER_THAN = (
    b'{"detail":[{"type":"greater_than","loc":["body","age"],"msg":"Input should be greater '
    b'than 0","input":-1,"ctx":{"gt":0}}]}'
)
JSON_INVALID = (
    b'{"detail":[{"type":"json_invalid","loc":["body",8],"msg":"JSON decode error",'
    b'"input":{},"ctx":{"error":"Expecting value"}}]}'
)
COMBINED = (
    b'{"detail":[{"type":"int_parsing","loc":["path","item_id"],"msg":"Input should be a '
    b'valid integer, unable to parse string as an integer","input":"abc"},'
    b'{"type":"int_parsing","loc":["query","n"],"msg":"Input should be a valid integer, '
    b'unable to parse string as an integer","input":"z"},'
    b'{"type":"missing","loc":["header","x-token"],"msg":"Field required","input":null}]}'
)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'{"name":"a"}', MISSING),
        (b'{"name":"a","age":"x"}', INT_PARSING),
        (b'{"name":"a","age":-1}', GREATER_THAN),
        (b'{"name":', JSON_INVALID),
    ],
    ids=["missing", "int_parsing", "greater_than", "json_invalid"],
)
def test_body_validation_error_is_fastapis_byte_for_byte(clients, content, expected):
    # Ignyx 3.1 answered these with a JSON string holding JSON, with stringified tuples
    # as `loc`, with an extra "error" key, or (malformed JSON) with a 500.
    response = differential(
        clients, "POST", "/users", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.content == expected


def test_path_query_and_header_errors_are_reported_together(clients):
    response = differential(clients, "GET", "/q/abc?n=z")
    assert response.status_code == 422
    assert response.content == COMBINED


def test_missing_header_is_reported_with_its_hyphenated_name(clients):
    response = differential(clients, "GET", "/q/1?n=2")
    assert response.status_code == 422
    assert response.content == (
        b'{"detail":[{"type":"missing","loc":["header","x-token"],"msg":"Field required",'
        b'"input":null}]}'
    )


def test_valid_request_passes_validation(clients):
    response = differential(clients, "GET", "/q/1?n=2", headers={"x-token": "t"})
    assert response.status_code == 200
    assert response.content == b'{"item_id":1,"n":2,"x_token":"t"}'


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "c", "addresses": [{"city": "x", "zip": "12345"}]},
        {"name": "c", "addresses": [{"city": "x", "zip": "1234"}]},
        {"name": "c", "addresses": [{"zip": "12345"}, {"city": 5, "zip": "abcde"}]},
        {},
    ],
)
def test_nested_body_errors_have_the_full_location(clients, payload):
    differential(clients, "POST", "/customers", json=payload)


@pytest.mark.parametrize(
    "url, kwargs",
    [
        ("/everything/x?limit=11", {"json": {"name": "", "age": 0}}),
        (
            "/everything/x?limit=11",
            {"json": {"age": "old"}, "headers": {"x-count": "n", "cookie": "session=ab"}},
        ),
        ("/everything/1", {"content": b"{", "headers": {"content-type": "application/json"}}),
        ("/everything/1?limit=a", {}),
        ("/everything/1", {"json": {"name": "ok", "age": 1}}),
    ],
)
def test_errors_from_every_source_come_in_fastapis_order(clients, url, kwargs):
    differential(clients, "POST", url, **kwargs)


# --- never a 500 ------------------------------------------------------------------------

JSON = {"content-type": "application/json"}

GARBAGE = [
    ("GET", "/q/%FF%FE?n=%C3%28", {"headers": {"x-token": "t"}}),
    ("GET", "/q/1?n=%FF", {"headers": {"x-token": "t"}}),
    ("GET", "/q/1?n=%", {"headers": {"x-token": "t"}}),
    ("GET", "/q/1?n=%zz&%%=1&=&&", {"headers": {"x-token": "t"}}),
    ("GET", "/q/" + "9" * 400 + "?n=1", {"headers": {"x-token": "t"}}),
    ("GET", "/q/1?n=" + "9" * 5000, {"headers": {"x-token": "t"}}),
    ("GET", "/numbers?i=1e400&f=1e400", {}),
    ("GET", "/numbers?i=-0&f=-0", {}),
    ("GET", "/numbers?i=%00&f=%00", {}),
    ("GET", "/numbers?i=0x10&f=1_000", {}),
    ("GET", "/q/1?n=1", {"headers": {"x-token": ""}}),
    ("POST", "/users", {"content": b"", "headers": JSON}),
    ("POST", "/users", {"content": b"   ", "headers": JSON}),
    ("POST", "/users", {"content": b"nul", "headers": JSON}),
    ("POST", "/users", {"content": b"{}}", "headers": JSON}),
    ("POST", "/users", {"content": b"[]", "headers": JSON}),
    ("POST", "/users", {"content": b"null", "headers": JSON}),
    ("POST", "/users", {"content": b'"text"', "headers": JSON}),
    ("POST", "/users", {"content": b'{"name":"a","age":1,"name":"b"}', "headers": JSON}),
    ("POST", "/users", {"content": b'{"name":"a","age":1.0}', "headers": JSON}),
    ("POST", "/users", {"content": b'{"name":"a","age":1.5}', "headers": JSON}),
    ("POST", "/users", {"content": b'{"name":"a","age":true}', "headers": JSON}),
    ("POST", "/users", {"content": b"\x00\xff\xfe", "headers": JSON}),
    ("POST", "/users", {"content": b'{"name":"\xff","age":1}', "headers": JSON}),
    ("POST", "/users", {"content": b'{"name":"a","age":' + b"9" * 5000 + b"}", "headers": JSON}),
    ("POST", "/users", {"content": b"[" * 100_000 + b"]" * 100_000, "headers": JSON}),
    ("POST", "/users", {"content": b'{"name":"a","age":1}'}),
    (
        "POST",
        "/users",
        {"content": b'{"name":"a","age":1}', "headers": {"content-type": "text/plain"}},
    ),
    (
        "POST",
        "/users",
        {
            "content": b"name=a&age=1",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
    ),
    ("POST", "/users", {"content": b"<user/>", "headers": {"content-type": "application/xml"}}),
    (
        "POST",
        "/users",
        {
            "content": b'{"name":"a","age":1}',
            "headers": {"content-type": "application/vnd.api+json"},
        },
    ),
    (
        "POST",
        "/users",
        {
            "content": b'{"name":"a","age":1}',
            "headers": {"content-type": "application/json; charset=utf-8"},
        },
    ),
    ("POST", "/customers", {"json": {"name": "c", "addresses": [[1]]}}),
    ("POST", "/customers", {"json": {"name": "c", "addresses": [None, 1, "x"]}}),
    ("POST", "/customers", {"json": {"name": 1, "addresses": "none", "nickname": []}}),
]


@pytest.mark.parametrize("method, url, kwargs", GARBAGE, ids=[repr(g)[:60] for g in GARBAGE])
def test_bad_input_gives_the_same_4xx_as_fastapi(clients, method, url, kwargs):
    response = differential(clients, method, url, **kwargs)
    assert 400 <= response.status_code < 500 or response.status_code == 200


def test_json_body_without_content_type_is_not_parsed(clients):
    # FastAPI's strict_content_type (on by default) guards against CSRF: a body without
    # a Content-Type is not read as JSON.
    response = differential(clients, "POST", "/users", content=b'{"name":"a","age":1}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "model_attributes_type"


def test_undecodable_json_body_gives_fastapis_400(clients):
    response = differential(clients, "POST", "/users", content=b"\x00\xff\xfe", headers=JSON)
    assert response.status_code == 400
    assert response.content == b'{"detail":"There was an error parsing the body"}'


def test_server_keeps_serving_after_garbage(clients):
    clients.ignyx.post("/users", content=b"[" * 100_000, headers=JSON)
    assert clients.ignyx.get("/numbers").json() == {"i": 0, "f": 0.0}


def test_lone_surrogate_in_json_is_written_back_escaped(clients):
    # json.loads accepts "\\ud800"; FastAPI then fails to encode the response and answers
    # 500. Ignyx writes the lone surrogate back as the same escape.
    content = b'{"name":"\\ud800","age":1}'
    theirs, ours = clients.request("POST", "/users", content=content, headers=JSON)
    assert theirs.status_code == 500
    assert (ours.status_code, ours.content) == (200, content)


def test_json_number_out_of_float_range_gives_422(clients):
    # FastAPI answers 500: its 422 would hold `inf`, which JSON cannot carry.
    content = b'{"name":"a","age":1e400}'
    theirs, ours = clients.request("POST", "/users", content=content, headers=JSON)
    assert theirs.status_code == 500
    assert ours.status_code == 422
    [error] = ours.json()["detail"]
    assert (error["type"], error["loc"]) == ("finite_number", ["body", "age"])


def test_latin1_header_bytes_are_decoded_as_latin1(clients):
    # Starlette decodes header values as latin-1 (its TestClient mangles them first, so
    # this is checked on Ignyx alone).
    response = clients.ignyx.get("/q/1?n=1", headers={"x-token": b"caf\xe9"})
    assert response.json() == {"item_id": 1, "n": 1, "x_token": "caf\u00e9"}
