"""Parameters: query, path, header, cookie and body values, the Request object, and the
Query/Path/Header/Cookie/Body markers in their plain and Annotated forms."""

from typing import Annotated, Optional

import pytest
from conftest import differential
from pydantic import BaseModel, Field


class User(BaseModel):
    name: str
    age: int


class Item(BaseModel):
    title: str
    price: float = Field(gt=0)
    tags: list[str] = []


def build(fw):
    app = fw.FastAPI()
    Query, Path, Header, Cookie, Body = fw.Query, fw.Path, fw.Header, fw.Cookie, fw.Body

    # --- query: the plain forms Rust converts alone, and the same through Python ---------

    @app.get("/query/plain")
    def query_plain(n: int, x: float = 1.5, name: str = "anon", flag: bool = False):
        return {"n": n, "x": x, "name": name, "flag": flag}

    @app.get("/query/with-request")
    def query_with_request(
        request: fw.Request, n: int, x: float = 1.5, name: str = "anon", flag: bool = False
    ):
        return {"n": n, "x": x, "name": name, "flag": flag}

    @app.get("/query/optional")
    def query_optional(q: Optional[str] = None, limit: Optional[int] = None):
        return {"q": q, "limit": limit}

    @app.get("/query/list")
    def query_list(n: Annotated[list[int], Query(default_factory=list)], q: list[str] = Query([])):
        return {"q": q, "n": n}

    @app.get("/query/required-list")
    def query_required_list(q: list[str] = Query()):
        return {"q": q}

    @app.get("/query/bool")
    def query_bool(flag: bool):
        return {"flag": flag}

    @app.get("/query/bool-marker")
    def query_bool_marker(flag: Annotated[bool, Query()]):
        return {"flag": flag}

    # --- markers -----------------------------------------------------------------------

    @app.get("/markers/query")
    def markers_query(
        limit: int = Query(10, ge=1, le=100),
        offset: Annotated[int, Query(gt=-1, lt=1000)] = 0,
        code: str = Query("aaa", min_length=3, max_length=5, pattern="^[a-z]+$"),
        item_query: Annotated[Optional[str], Query(alias="item-query")] = None,
    ):
        return {"limit": limit, "offset": offset, "code": code, "item_query": item_query}

    @app.get("/markers/path/{item_id}/{size}")
    def markers_path(
        size: Annotated[float, Path(ge=0.5, lt=10)],
        item_id: int = Path(gt=0, le=1000),
    ):
        return {"item_id": item_id, "size": size}

    @app.get("/markers/path-str/{code}")
    def markers_path_str(code: Annotated[str, Path(min_length=2, max_length=4)]):
        return {"code": code}

    @app.get("/markers/header")
    def markers_header(
        x_tag: Annotated[list[str], Header(default_factory=list)],
        user_agent: str = Header(),
        x_token: Annotated[str, Header()] = "none",
        x_count: Annotated[int, Header(ge=0)] = 0,
        raw_name: str = Header("unset", alias="X-Raw-Name"),
    ):
        return {
            "user_agent": user_agent,
            "x_token": x_token,
            "x_count": x_count,
            "x_tag": x_tag,
            "raw_name": raw_name,
        }

    @app.get("/markers/header-underscores")
    def markers_header_underscores(
        x_token: Annotated[str, Header(convert_underscores=False)],
    ):
        return {"x_token": x_token}

    @app.get("/markers/cookie")
    def markers_cookie(
        session: str = Cookie(),
        theme: Annotated[Optional[str], Cookie()] = None,
        visits: Annotated[int, Cookie(ge=0)] = 0,
        tracking: str = Cookie("none", alias="tracking-id"),
    ):
        return {"session": session, "theme": theme, "visits": visits, "tracking": tracking}

    # --- bodies ------------------------------------------------------------------------

    @app.post("/body/body")
    def create_user_body(body: User):
        return {"name": body.name, "age": body.age}

    @app.post("/body/user")
    def create_user_named_user(user: User):
        return {"name": user.name, "age": user.age}

    @app.post("/body/async-user")
    async def create_user(user: User):
        return {"name": user.name, "age": user.age}

    @app.post("/body/annotated")
    def create_annotated(payload: Annotated[User, Body()]):
        return payload

    @app.post("/body/embed")
    def create_embedded(item: Item = Body(embed=True)):
        return {"item": item}

    @app.post("/body/embed-annotated")
    def create_embedded_annotated(user: Annotated[User, Body(embed=True)]):
        return {"user": user}

    @app.post("/body/several")
    def create_several(item: Item, user: User, importance: int = Body(gt=0)):
        return {"item": item, "user": user, "importance": importance}

    @app.post("/body/alias")
    def create_alias(value: Annotated[int, Body(alias="the-value", embed=True)]):
        return {"value": value}

    @app.post("/body/scalar")
    def create_scalar(value: Annotated[int, Body()]):
        return {"value": value}

    @app.post("/body/list")
    def create_list(items: list[Item]):
        return {"count": len(items), "titles": [i.title for i in items]}

    @app.post("/body/dict")
    def create_dict(data: dict[str, int]):
        return {"keys": list(data), "total": sum(data.values())}

    @app.put("/body/mixed/{item_id}")
    def update_mixed(item_id: int, item: Item, q: Optional[str] = None):
        return {"item_id": item_id, "item": item, "q": q}

    # --- the Request object ------------------------------------------------------------

    @app.api_route("/request/{item_id}/{rest:path}", methods=["GET", "POST"])
    async def inspect_request(request: fw.Request):
        body = await request.body()
        return {
            "method": request.method,
            "url": str(request.url),
            "path": request.url.path,
            "query_string": request.url.query,
            "path_params": request.path_params,
            "query_params": dict(request.query_params),
            "query_tags": request.query_params.getlist("tag"),
            "x_tag": request.headers.get("X-TAG"),
            "x_tags": request.headers.getlist("x-Tag"),
            "has_x_tag": "X-Tag" in request.headers,
            "missing_header": request.headers.get("x-missing", "default"),
            "content_type": request.headers.get("content-type"),
            "cookies": request.cookies,
            "body": body.decode("latin-1"),
            "json": await request.json() if body.startswith(b"{") else None,
        }

    @app.get("/request-client")
    def request_client(request: fw.Request):
        client = request.client
        return {"host": client.host, "port": client.port, "tuple": list(client)}

    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


# --- query parameters -------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/query/plain", "/query/with-request"])
@pytest.mark.parametrize(
    "query, expected",
    [
        ("n=1", {"n": 1, "x": 1.5, "name": "anon", "flag": False}),
        ("n=-3&x=2&name=bob&flag=true", {"n": -3, "x": 2.0, "name": "bob", "flag": True}),
        ("n=1&x=1e3", {"n": 1, "x": 1000.0, "name": "anon", "flag": False}),
        ("n=1&name=hello%20world", {"n": 1, "x": 1.5, "name": "hello world", "flag": False}),
        ("n=1&name=hello+world", {"n": 1, "x": 1.5, "name": "hello world", "flag": False}),
        ("n=1&name=a%2Bb%26c%3Dd", {"n": 1, "x": 1.5, "name": "a+b&c=d", "flag": False}),
        ("n=1&name=caf%C3%A9", {"n": 1, "x": 1.5, "name": "café", "flag": False}),
        ("n=1&name=", {"n": 1, "x": 1.5, "name": "", "flag": False}),
        ("n=1&n=2", {"n": 2, "x": 1.5, "name": "anon", "flag": False}),
        ("n=1&unknown=5", {"n": 1, "x": 1.5, "name": "anon", "flag": False}),
        ("n=123456789012345678901234567890", None),
    ],
)
def test_typed_query_parameters(clients, route, query, expected):
    response = differential(clients, "GET", f"{route}?{query}")
    assert response.status_code == 200
    if expected is not None:
        assert response.json() == expected


@pytest.mark.parametrize("route", ["/query/plain", "/query/with-request"])
@pytest.mark.parametrize(
    "query",
    ["", "n=abc", "n=1.5", "n=", "n=1&x=nope", "n=1&flag=maybe", "x=2&flag=2", "n=%FF"],
)
def test_bad_query_parameters_give_fastapis_422(clients, route, query):
    response = differential(clients, "GET", f"{route}?{query}")
    assert response.status_code == 422


def test_query_string_is_percent_decoded(clients):
    # Ignyx 3.1 passed "hello%20world" through undecoded.
    response = clients.ignyx.get("/query/plain?n=1&name=hello%20world")
    assert response.json()["name"] == "hello world"


def test_int_query_parameter_that_is_not_an_int_gives_422(clients):
    # Ignyx 3.1 passed the string "abc" on to the handler.
    response = differential(clients, "GET", "/query/plain?n=abc")
    assert response.status_code == 422
    assert response.content == (
        b'{"detail":[{"type":"int_parsing","loc":["query","n"],'
        b'"msg":"Input should be a valid integer, unable to parse string as an integer",'
        b'"input":"abc"}]}'
    )


def test_missing_required_query_parameter_gives_422(clients):
    # Ignyx 3.1 answered a missing required query parameter with a 500.
    response = differential(clients, "GET", "/query/plain")
    assert response.status_code == 422
    assert response.content == (
        b'{"detail":[{"type":"missing","loc":["query","n"],"msg":"Field required","input":null}]}'
    )


@pytest.mark.parametrize("route", ["/query/bool", "/query/bool-marker"])
@pytest.mark.parametrize(
    "value, expected",
    [
        ("true", True),
        ("false", False),
        ("True", True),
        ("FALSE", False),
        ("1", True),
        ("0", False),
        ("yes", True),
        ("no", False),
        ("on", True),
        ("off", False),
        ("t", True),
        ("f", False),
        ("y", True),
        ("n", False),
    ],
)
def test_bool_query_parameter_accepts_fastapis_spellings(clients, route, value, expected):
    # Ignyx 3.1 gave True for ?flag=false (it called bool("false")).
    response = differential(clients, "GET", f"{route}?flag={value}")
    assert response.json() == {"flag": expected}


@pytest.mark.parametrize("route", ["/query/bool", "/query/bool-marker"])
@pytest.mark.parametrize("value", ["maybe", "2", "", "truee", "%FF"])
def test_bool_query_parameter_refuses_other_values(clients, route, value):
    response = differential(clients, "GET", f"{route}?flag={value}")
    assert response.status_code == 422


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", {"q": None, "limit": None}),
        ("q=x", {"q": "x", "limit": None}),
        ("limit=5", {"q": None, "limit": 5}),
        ("q=&limit=0", {"q": "", "limit": 0}),
    ],
)
def test_optional_query_parameters_default_to_none(clients, query, expected):
    assert differential(clients, "GET", f"/query/optional?{query}").json() == expected


def test_optional_int_query_parameter_is_still_validated(clients):
    response = differential(clients, "GET", "/query/optional?limit=many")
    assert response.status_code == 422


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", {"q": [], "n": []}),
        ("q=a", {"q": ["a"], "n": []}),
        ("q=a&q=b&q=a", {"q": ["a", "b", "a"], "n": []}),
        ("q=a+b&q=c%20d&n=1&n=2", {"q": ["a b", "c d"], "n": [1, 2]}),
        ("n=3&q=z&n=4", {"q": ["z"], "n": [3, 4]}),
    ],
)
def test_list_query_parameter_collects_repeated_keys(clients, query, expected):
    # Ignyx 3.1 kept only the last value.
    assert differential(clients, "GET", f"/query/list?{query}").json() == expected


@pytest.mark.parametrize("query", ["n=1&n=x", "n=x&n=y"])
def test_list_query_parameter_validates_each_item(clients, query):
    response = differential(clients, "GET", f"/query/list?{query}")
    assert response.status_code == 422


@pytest.mark.parametrize("query", ["", "q=one"])
def test_required_list_query_parameter(clients, query):
    differential(clients, "GET", f"/query/required-list?{query}")


# --- markers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        "limit=1&offset=0&code=abc",
        "limit=100&offset=999&code=abcde",
        "limit=0",
        "limit=101",
        "offset=-1",
        "offset=1000",
        "code=ab",
        "code=abcdef",
        "code=ABC",
        "item-query=hi",
        "item_query=ignored",
        "limit=0&offset=-5&code=x",
    ],
)
def test_query_marker_constraints_and_alias(clients, query):
    differential(clients, "GET", f"/markers/query?{query}")


def test_query_marker_greater_than_error_has_ctx(clients):
    response = differential(clients, "GET", "/markers/query?offset=-1")
    assert response.content == (
        b'{"detail":[{"type":"greater_than","loc":["query","offset"],'
        b'"msg":"Input should be greater than -1","input":"-1","ctx":{"gt":-1}}]}'
    )


@pytest.mark.parametrize(
    "url",
    [
        "/markers/path/1/0.5",
        "/markers/path/1000/9.99",
        "/markers/path/0/1",
        "/markers/path/1001/1",
        "/markers/path/5/10",
        "/markers/path/5/0.4",
        "/markers/path/x/y",
        "/markers/path-str/ab",
        "/markers/path-str/a",
        "/markers/path-str/abcde",
    ],
)
def test_path_marker_constraints(clients, url):
    differential(clients, "GET", url)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Token": "secret"},
        {"x-token": "secret", "X-Count": "3"},
        {"x-count": "-1"},
        {"x-count": "lots"},
        {"X-Raw-Name": "raw"},
        {"raw_name": "ignored"},
        [("x-tag", "a"), ("X-Tag", "b"), ("x-tag", "c")],
    ],
)
def test_header_markers(clients, headers):
    response = differential(clients, "GET", "/markers/header", headers=headers)
    if response.status_code == 200:
        assert response.json()["user_agent"] == "testclient"


def test_header_marker_reads_a_multi_value_header_as_a_list(clients):
    response = differential(
        clients, "GET", "/markers/header", headers=[("x-tag", "a"), ("x-tag", "b")]
    )
    assert response.json()["x_tag"] == ["a", "b"]


def test_header_marker_without_underscore_conversion(clients):
    response = differential(clients, "GET", "/markers/header-underscores", headers={"x_token": "v"})
    assert response.json() == {"x_token": "v"}
    response = differential(clients, "GET", "/markers/header-underscores", headers={"x-token": "v"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "x_token"]


@pytest.mark.parametrize(
    "cookie",
    [
        None,
        "session=abc",
        "session=abc; theme=dark; visits=4",
        "session=abc; visits=-1",
        "session=abc; visits=x",
        "session=abc; tracking-id=t1",
        'session="quoted value"; theme=a%20b',
        "theme=dark",
    ],
)
def test_cookie_markers(clients, cookie):
    headers = {"cookie": cookie} if cookie is not None else {}
    differential(clients, "GET", "/markers/cookie", headers=headers)


def test_missing_cookie_gives_422(clients):
    response = differential(clients, "GET", "/markers/cookie")
    assert response.content == (
        b'{"detail":[{"type":"missing","loc":["cookie","session"],'
        b'"msg":"Field required","input":null}]}'
    )


# --- bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/body/body", "/body/user", "/body/async-user", "/body/annotated"])
def test_pydantic_parameter_of_any_name_is_the_json_body(clients, url):
    # Ignyx 3.1 only read a body into a parameter literally named `body`: the README's
    # `async def create_user(user: User)` gave a 500.
    response = differential(clients, "POST", url, json={"name": "Ada", "age": 36})
    assert response.status_code == 200
    assert response.json() == {"name": "Ada", "age": 36}


@pytest.mark.parametrize("url", ["/body/body", "/body/user", "/body/async-user", "/body/annotated"])
@pytest.mark.parametrize(
    "content",
    [b'{"name":"a"}', b'{"name":"a","age":"x"}', b'{"name":', b"", b"{}"],
)
def test_pydantic_body_errors_are_fastapis(clients, url, content):
    response = differential(
        clients, "POST", url, content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize("content", [b"[]", b"null", b"[1, 2]", b'"text"'])
def test_non_object_json_body_for_a_model_gives_fastapis_422(clients, content):
    response = differential(
        clients,
        "POST",
        "/body/user",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert response.json()["detail"][0]["type"] == "model_attributes_type"


def test_non_list_json_body_for_a_list_parameter_gives_fastapis_422(clients):
    response = differential(clients, "POST", "/body/list", json={"title": "a"})
    assert response.json()["detail"][0]["msg"] == "Input should be a valid list"


@pytest.mark.parametrize(
    "url, payload",
    [
        ("/body/embed", {"item": {"title": "t", "price": 1.5}}),
        ("/body/embed", {"title": "t", "price": 1.5}),
        ("/body/embed", {"item": {"title": "t", "price": 0}}),
        ("/body/embed-annotated", {"user": {"name": "a", "age": 1}}),
        ("/body/embed-annotated", {"name": "a", "age": 1}),
        ("/body/alias", {"the-value": 3}),
        ("/body/alias", {"value": 3}),
        ("/body/scalar", 7),
        ("/body/scalar", "7"),
        ("/body/scalar", "seven"),
        (
            "/body/several",
            {
                "item": {"title": "t", "price": 2, "tags": ["x"]},
                "user": {"name": "u", "age": 2},
                "importance": 5,
            },
        ),
        ("/body/several", {"item": {"title": "t", "price": 2}, "user": {"name": "u"}}),
        ("/body/several", {"item": {"price": -1}, "user": {}, "importance": 0}),
        ("/body/several", {"title": "t", "price": 2}),
        ("/body/list", [{"title": "a", "price": 1}, {"title": "b", "price": 2}]),
        ("/body/list", [{"title": "a", "price": 1}, {"price": -2}]),
        ("/body/dict", {"b": 2, "a": 1}),
        ("/body/dict", {"a": "x"}),
    ],
)
def test_body_markers_embed_and_several_body_params(clients, url, payload):
    differential(clients, "POST", url, json=payload)


def test_several_body_params_are_embedded_by_name(clients):
    response = differential(
        clients,
        "POST",
        "/body/several",
        json={
            "item": {"title": "t", "price": 2, "tags": ["x"]},
            "user": {"name": "u", "age": 2},
            "importance": 5,
        },
    )
    assert response.json() == {
        "item": {"title": "t", "price": 2.0, "tags": ["x"]},
        "user": {"name": "u", "age": 2},
        "importance": 5,
    }


@pytest.mark.parametrize(
    "url, kwargs",
    [
        ("/body/mixed/3?q=z", {"json": {"title": "t", "price": 9.5}}),
        ("/body/mixed/3", {"json": {"title": "t", "price": 9.5}}),
        ("/body/mixed/x", {"json": {"title": "t"}}),
        ("/body/mixed/3", {}),
    ],
)
def test_path_query_and_body_together(clients, url, kwargs):
    differential(clients, "PUT", url, **kwargs)


# --- the Request object -----------------------------------------------------------------


def test_request_object_api(clients):
    response = differential(
        clients,
        "POST",
        "/request/7/a/b?tag=x&tag=y&q=hello%20world",
        headers=[("X-Tag", "one"), ("x-tag", "two"), ("cookie", "session=s1; theme=dark")],
        json={"k": [1, 2]},
    )
    assert response.json() == {
        "method": "POST",
        "url": "http://testserver/request/7/a/b?tag=x&tag=y&q=hello%20world",
        "path": "/request/7/a/b",
        "query_string": "tag=x&tag=y&q=hello%20world",
        "path_params": {"item_id": "7", "rest": "a/b"},
        "query_params": {"tag": "y", "q": "hello world"},
        "query_tags": ["x", "y"],
        "x_tag": "one",
        "x_tags": ["one", "two"],
        "has_x_tag": True,
        "missing_header": "default",
        "content_type": "application/json",
        "cookies": {"session": "s1", "theme": "dark"},
        "body": '{"k":[1,2]}',
        "json": {"k": [1, 2]},
    }


def test_request_body_is_byte_exact(clients):
    payload = bytes(range(256))
    response = differential(
        clients,
        "POST",
        "/request/1/x",
        content=payload,
        headers={"content-type": "application/octet-stream"},
    )
    assert response.json()["body"] == payload.decode("latin-1")


def test_request_without_body(clients):
    response = differential(clients, "GET", "/request/1/x")
    assert response.json()["body"] == ""
    assert response.json()["json"] is None


def test_request_path_params_are_percent_decoded(clients):
    for response in clients.request("GET", "/request/%37/a%2Fb/c%20d"):
        assert response.json()["path_params"] == {"item_id": "7", "rest": "a/b/c d"}


def test_request_url_path_is_decoded_like_starlette(clients):
    response = differential(clients, "GET", "/request/7/b%20c?q=a%20b")
    assert response.json()["path"] == "/request/7/b c"


def test_request_client_is_the_test_clients(clients):
    # Both TestClients name their client ("testclient", 50000), as Starlette's does.
    response = differential(clients, "GET", "/request-client")
    assert response.json() == {"host": "testclient", "port": 50000, "tuple": ["testclient", 50000]}


# --- dependencies -----------------------------------------------------------------------


def build_dependencies(fw):
    app = fw.FastAPI()
    events = []

    async def async_user(token: str = "anon"):
        return {"user": token}

    def session():
        events.append("open")
        yield "session"
        events.append("close")

    @app.get("/deps/async")
    def read_async(user: dict = fw.Depends(async_user)):
        return user

    @app.get("/deps/yield")
    def read_yield(db: Annotated[str, fw.Depends(session)]):
        events.append("handler")
        return {"db": db}

    @app.get("/deps/events")
    def read_events():
        return list(events)

    return app


@pytest.fixture(scope="module")
def dependency_clients(dual):
    return dual(build_dependencies)


def test_async_dependency_is_awaited(dependency_clients):
    # Ignyx 3.1 handed the handler the coroutine object itself.
    response = differential(dependency_clients, "GET", "/deps/async?token=t1")
    assert response.json() == {"user": "t1"}


def test_yield_dependency_cleans_up_after_the_handler(dependency_clients):
    # Ignyx 3.1 ran the cleanup before the handler.
    assert differential(dependency_clients, "GET", "/deps/yield").json() == {"db": "session"}
    response = differential(dependency_clients, "GET", "/deps/events")
    assert response.json() == ["open", "handler", "close"]


def test_annotated_constraints_beside_the_marker_are_validated():
    from typing import Annotated

    import ignyx
    from ignyx.testclient import TestClient
    from pydantic import StringConstraints

    app = ignyx.Ignyx()

    @app.get("/short")
    def short(
        code: Annotated[str, StringConstraints(max_length=3), ignyx.Query()],
        v: Annotated[int, ignyx.Query(validation_alias="vq")] = 0,
    ):
        return {"code": code, "v": v}

    with TestClient(app) as client:
        assert client.get("/short?code=abc&vq=2").json() == {"code": "abc", "v": 2}
        response = client.get("/short?code=abcd")
        assert response.status_code == 422
        assert response.json()["detail"][0]["type"] == "string_too_long"
