"""Return values and response classes: what a handler returns becomes the bytes FastAPI
would send."""

import dataclasses
import datetime as dt
import enum
import re
import uuid
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Optional

import pytest
from conftest import differential
from pydantic import BaseModel, Field


class Color(enum.Enum):
    red = "red"
    one = 1


class Owner(BaseModel):
    name: str
    since: dt.date


class Pet(BaseModel):
    id: uuid.UUID
    name: str
    owner: Owner
    weight: Decimal
    color: Color
    nick: Optional[str] = Field(None, alias="nickName")


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: Optional[str] = None


class UserIn(BaseModel):
    name: str
    email: str
    password: str
    note: Optional[str] = None


class UserOut(BaseModel):
    name: str
    email: str
    note: Optional[str] = None


PET = Pet(
    id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    name="Rex",
    owner=Owner(name="Ada", since=dt.date(2020, 2, 29)),
    weight=Decimal("12.50"),
    color=Color.red,
    nickName="rexy",
)

BINARY = bytes(range(256))

VALUES = {
    "dict": {"message": "hello", "n": 1},
    "list": [1, "two", 3.5, None, True, False],
    "str": "just a string",
    "unicode": "é ✓ 漢字 \U0001f600",
    "escapes": 'quote " backslash \\ newline \n tab \t nul \x00 bell \x07',
    "int": 42,
    "negative": -7,
    "float": 3.25,
    "float-small": 1e-7,
    "float-big": 1.5e300,
    "float-neg-zero": -0.0,
    "float-whole": 2.0,
    "true": True,
    "false": False,
    "none": None,
    "nested": {"a": [{"b": {"c": [1, [2, [3, {"d": None}]]]}}], "e": {}},
    "bigint": {"n": 2**70},
    "bignegint": {"n": -(2**100)},
    "order": {"zebra": 1, "apple": 2, "mango": {"z": 1, "a": 2}},
    "int-keys": {1: "one", 2: "two"},
    "tuple-in-dict": {"t": (1, 2)},
    "set": {"s": {3}},
    "empty-list": [],
    "empty-dict": {},
    "model": PET,
    "models": [PET, PET],
    "dataclass": Point(1, 2.5),
    "dataclass-list": {"points": [Point(0, 0.0, "o")]},
    "datetime": {"at": dt.datetime(2024, 1, 2, 3, 4, 5)},
    "datetime-micro": {"at": dt.datetime(2024, 1, 2, 3, 4, 5, 678901)},
    "datetime-aware": {"at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)},
    "datetime-offset": {
        "at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    },
    "date": {"on": dt.date(2024, 1, 2)},
    "time": {"t": dt.time(13, 14, 15)},
    "timedelta": {"d": dt.timedelta(days=1, seconds=5)},
    "uuid": {"id": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    "decimal": {"price": Decimal("10.50")},
    "decimal-int": {"n": Decimal("10")},
    "enum": {"color": Color.red, "one": Color.one},
    "bytes": {"raw": b"abc"},
}


def build(fw):
    app = fw.FastAPI()
    responses = fw.responses

    def add_value_route(name, value):
        @app.get(f"/value/{name}")
        def value_route():
            return value

    for name, value in VALUES.items():
        add_value_route(name, value)

    @app.get("/async-value")
    async def async_value():
        return {"async": True, "order": [3, 2, 1]}

    @app.post("/created", status_code=201)
    def created():
        return {"created": True}

    @app.get("/accepted", status_code=fw.status.HTTP_202_ACCEPTED)
    async def accepted():
        return "queued"

    @app.delete("/nothing", status_code=204)
    def nothing():
        return None

    @app.get("/response/plain")
    def plain():
        return responses.Response(
            "pong", media_type="text/plain", status_code=203, headers={"X-Served-By": "me"}
        )

    @app.get("/response/json")
    def json_response():
        return responses.JSONResponse(
            {"b": 1, "a": [1, 2]}, status_code=418, headers={"x-teapot": "yes"}
        )

    @app.get("/response/text")
    def text():
        return responses.PlainTextResponse("héllo", status_code=500)

    @app.get("/response/html")
    def html():
        return responses.HTMLResponse("<h1>hi ✓</h1>", headers={"cache-control": "no-store"})

    @app.get("/response/html-class", response_class=responses.HTMLResponse)
    def html_class():
        return "<p>from response_class</p>"

    @app.get("/response/text-class", response_class=responses.PlainTextResponse)
    def text_class():
        return "plain text"

    @app.get("/response/redirect")
    def redirect():
        return responses.RedirectResponse("/value/dict")

    @app.get("/response/redirect-permanent")
    def redirect_permanent():
        return responses.RedirectResponse("https://example.com/a b?q=ü", status_code=301)

    @app.get("/response/cookies")
    def cookies():
        response = responses.JSONResponse({"cookies": 2})
        response.set_cookie("session", "abc", httponly=True, max_age=3600)
        response.set_cookie("theme", "dark", path="/app", samesite="strict", secure=True)
        # A fixed date: an expiry computed from the clock may differ by a second between
        # the two frameworks' answers (delete_cookie has its own test below).
        response.set_cookie("old", "", expires=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
        return response

    @app.get("/response/delete-cookie")
    def delete_cookie():
        response = responses.JSONResponse({"deleted": True})
        response.delete_cookie("old")
        return response

    @app.get("/response/binary")
    def binary():
        return responses.Response(BINARY, media_type="application/octet-stream")

    @app.get("/response/empty")
    def empty():
        return responses.Response(status_code=204)

    @app.get("/response/no-media-type")
    def no_media_type():
        return responses.Response(b"raw bytes")

    @app.get("/response/header-param")
    def header_param(response: fw.Response):
        response.headers["X-Extra"] = "1"
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        response.status_code = 202
        return {"with": "parameter"}

    @app.get("/model/filtered", response_model=UserOut)
    def filtered():
        return UserIn(name="a", email="a@x.io", password="secret")

    @app.get("/model/filtered-dict", response_model=UserOut)
    def filtered_dict():
        return {"name": "a", "email": "a@x.io", "password": "secret", "extra": 1}

    @app.get("/model/annotation")
    def annotation() -> UserOut:
        return UserIn(name="b", email="b@x.io", password="secret", note="n")

    @app.get("/model/list", response_model=list[UserOut])
    def model_list():
        return [UserIn(name=str(i), email="e", password="p") for i in range(3)]

    @app.get("/model/exclude-none", response_model=UserOut, response_model_exclude_none=True)
    def exclude_none():
        return {"name": "a", "email": "e", "password": "p", "note": None}

    @app.get("/model/by-alias", response_model=Pet)
    def by_alias():
        return PET

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


@pytest.mark.parametrize("name", list(VALUES))
def test_return_value_is_written_as_fastapi_writes_it(clients, name):
    response = differential(clients, "GET", f"/value/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))


def test_plain_values_are_written_without_json_dumps(clients, monkeypatch):
    import json

    def refuse(*args, **kwargs):
        raise AssertionError("json.dumps called")

    monkeypatch.setattr(json, "dumps", refuse)
    monkeypatch.setattr(json.JSONEncoder, "encode", refuse)
    for name in ("dict", "nested", "bigint", "order", "list", "str", "float-small"):
        response = clients.ignyx.get(f"/value/{name}")
        assert response.status_code == 200, name


def test_big_ints_are_written_whole(clients):
    # Ignyx 3.1 answered {"n": 2**70} with a 500 (OverflowError).
    response = differential(clients, "GET", "/value/bigint")
    assert response.content == b'{"n":1180591620717411303424}'


def test_dict_keys_keep_insertion_order(clients):
    # Ignyx 3.1 sorted keys alphabetically.
    response = differential(clients, "GET", "/value/order")
    assert response.content == b'{"zebra":1,"apple":2,"mango":{"z":1,"a":2}}'


def test_datetime_and_uuid_are_iso_strings(clients):
    # Ignyx 3.1 wrote str(datetime): "2024-01-02 03:04:05".
    assert differential(clients, "GET", "/value/datetime").content == (
        b'{"at":"2024-01-02T03:04:05"}'
    )
    assert differential(clients, "GET", "/value/uuid").content == (
        b'{"id":"12345678-1234-5678-1234-567812345678"}'
    )


def test_a_str_is_a_json_string(clients):
    response = differential(clients, "GET", "/value/str")
    assert response.content == b'"just a string"'


def test_pydantic_model_is_written_by_alias(clients):
    response = differential(clients, "GET", "/value/model")
    assert response.json() == {
        "id": "12345678-1234-5678-1234-567812345678",
        "name": "Rex",
        "owner": {"name": "Ada", "since": "2020-02-29"},
        "weight": "12.50",
        "color": "red",
        "nickName": "rexy",
    }


def test_async_handler_return_value(clients):
    response = differential(clients, "GET", "/async-value")
    assert response.content == b'{"async":true,"order":[3,2,1]}'


def test_status_code_on_the_decorator(clients):
    response = differential(clients, "POST", "/created")
    assert response.status_code == 201
    assert response.content == b'{"created":true}'
    response = differential(clients, "GET", "/accepted")
    assert response.status_code == 202
    assert response.content == b'"queued"'


def test_204_status_code_sends_no_body(clients):
    theirs, ours = clients.request("DELETE", "/nothing")
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content) == (204, b"")
    assert "content-length" not in ours.headers
    # FastAPI keeps JSONResponse's `content-type: application/json` on the empty 204;
    # Ignyx sends no content-type for no content.
    assert theirs.headers["content-type"] == "application/json"
    assert "content-type" not in ours.headers


def test_tuple_sets_status_as_in_the_ignyx_readme(dual):
    # The original Ignyx README returns `(body, status)` and `(body, status, headers)`.
    # FastAPI has no such form: it writes the tuple as a JSON array with status 200, so
    # this is Ignyx's own behaviour and is checked on Ignyx alone.
    def build_tuples(fw):
        app = fw.FastAPI()

        @app.post("/pair")
        def pair():
            return {"id": 1}, 201

        @app.get("/triple")
        def triple():
            return {"error": "gone"}, 410, {"X-Reason": "deleted"}

        @app.get("/text-pair")
        async def text_pair():
            return "accepted", 202

        return app

    clients = dual(build_tuples)
    theirs, ours = clients.request("POST", "/pair")
    assert (theirs.status_code, theirs.content) == (200, b'[{"id":1},201]')
    assert ours.status_code == 201
    assert ours.content == b'{"id":1}'
    assert ours.headers["content-type"] == "application/json"

    ours = clients.ignyx.get("/triple")
    assert ours.status_code == 410
    assert ours.content == b'{"error":"gone"}'
    assert ours.headers["x-reason"] == "deleted"

    ours = clients.ignyx.get("/text-pair")
    assert (ours.status_code, ours.content) == (202, b'"accepted"')


@pytest.mark.parametrize(
    "url",
    [
        "/response/plain",
        "/response/json",
        "/response/text",
        "/response/html",
        "/response/html-class",
        "/response/text-class",
        "/response/redirect",
        "/response/redirect-permanent",
        "/response/cookies",
        "/response/binary",
        "/response/empty",
        "/response/no-media-type",
        "/response/header-param",
    ],
)
def test_response_classes_are_sent_as_starlette_sends_them(clients, url):
    response = differential(clients, "GET", url)
    assert response.headers.get("content-length", "0") == str(len(response.content))


def test_response_with_status_headers_and_media_type(clients):
    response = differential(clients, "GET", "/response/plain")
    assert response.status_code == 203
    assert response.content == b"pong"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-served-by"] == "me"


def test_json_response_keeps_status_and_headers(clients):
    response = differential(clients, "GET", "/response/json")
    assert response.status_code == 418
    assert response.content == b'{"b":1,"a":[1,2]}'
    assert response.headers["x-teapot"] == "yes"


def test_html_response(clients):
    response = differential(clients, "GET", "/response/html")
    assert response.content == "<h1>hi ✓</h1>".encode()
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"


def test_redirect_response(clients):
    response = differential(clients, "GET", "/response/redirect")
    assert response.status_code == 307
    assert response.headers["location"] == "/value/dict"
    assert response.content == b""
    followed = clients.ignyx.get("/response/redirect", follow_redirects=True)
    assert followed.json() == {"message": "hello", "n": 1}


def test_redirect_response_quotes_the_location(clients):
    response = differential(clients, "GET", "/response/redirect-permanent")
    assert response.status_code == 301
    assert response.headers["location"] == "https://example.com/a%20b?q=%C3%BC"


def test_two_set_cookie_calls_give_two_set_cookie_headers(clients):
    # Ignyx 3.1 kept only the last Set-Cookie.
    response = differential(clients, "GET", "/response/cookies")
    assert response.headers.get_list("set-cookie") == [
        "session=abc; HttpOnly; Max-Age=3600; Path=/; SameSite=lax",
        "theme=dark; Path=/app; SameSite=strict; Secure",
        'old=""; expires=Tue, 01 Jan 2030 00:00:00 GMT; Path=/; SameSite=lax',
    ]
    assert response.cookies["session"] == "abc"


def test_delete_cookie_expires_it_now(clients):
    theirs, ours = clients.request("GET", "/response/delete-cookie")

    # The expiry is "now", so the two answers may be a second apart: compare without it.
    def masked(response):
        return [
            re.sub(r"expires=[^;]+", "expires=<now>", c)
            for c in response.headers.get_list("set-cookie")
        ]

    assert (
        masked(ours) == masked(theirs) == ['old=""; expires=<now>; Max-Age=0; Path=/; SameSite=lax']
    )
    expires = ours.headers["set-cookie"].split("expires=")[1].split(";")[0]
    sent = parsedate_to_datetime(expires)
    assert abs((sent - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 5


def test_response_parameter_sets_status_headers_and_cookies(clients):
    response = differential(clients, "GET", "/response/header-param")
    assert response.status_code == 202
    assert response.headers["x-extra"] == "1"
    assert response.headers.get_list("set-cookie") == [
        "a=1; Path=/; SameSite=lax",
        "b=2; Path=/; SameSite=lax",
    ]
    assert response.content == b'{"with":"parameter"}'


def test_binary_body_is_byte_exact(clients):
    response = differential(clients, "GET", "/response/binary")
    assert response.content == BINARY
    assert response.headers["content-length"] == "256"
    assert response.headers["content-type"] == "application/octet-stream"


def test_file_response_of_binary_bytes_is_byte_exact(tmp_path, fw):
    # Ignyx 3.1 sent a 256-byte file as 512 bytes of UTF-8 replacement characters.
    path = tmp_path / "data.bin"
    path.write_bytes(BINARY)
    app = fw.FastAPI()

    @app.get("/file")
    def file():
        return fw.responses.FileResponse(path)

    with fw.TestClient(app) as client:
        response = client.get("/file")
    assert response.status_code == 200
    assert response.content == BINARY
    assert response.headers["content-length"] == "256"
    assert response.headers["content-type"] == "application/octet-stream"


@pytest.mark.parametrize(
    "url",
    [
        "/model/filtered",
        "/model/filtered-dict",
        "/model/annotation",
        "/model/list",
        "/model/exclude-none",
        "/model/by-alias",
    ],
)
def test_response_model_filters_the_output(clients, url):
    response = differential(clients, "GET", url)
    assert response.status_code == 200
    assert b"password" not in response.content
    assert b"secret" not in response.content


def test_response_model_drops_the_password(clients):
    response = differential(clients, "GET", "/model/filtered")
    assert response.content == b'{"name":"a","email":"a@x.io","note":null}'
