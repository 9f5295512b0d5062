"""Routing: decorators, typed path parameters, 404, 405 + Allow, HEAD, trailing slashes."""

import enum
import uuid

import pytest
from conftest import differential


class Color(str, enum.Enum):
    red = "red"
    green = "green"


class Level(enum.IntEnum):
    low = 1
    high = 2


def build(fw):
    app = fw.FastAPI()

    @app.get("/verbs")
    def get_verb():
        return {"method": "GET"}

    @app.post("/verbs")
    def post_verb():
        return {"method": "POST"}

    @app.put("/verbs")
    def put_verb():
        return {"method": "PUT"}

    @app.patch("/verbs")
    def patch_verb():
        return {"method": "PATCH"}

    @app.delete("/verbs")
    def delete_verb():
        return {"method": "DELETE"}

    @app.options("/verbs")
    def options_verb():
        return {"method": "OPTIONS"}

    @app.head("/verbs")
    def head_verb(response: fw.Response):
        response.headers["x-head"] = "explicit"

    @app.api_route("/multi", methods=["GET", "POST", "PUT"])
    def multi(request: fw.Request):
        return {"method": request.method}

    @app.get("/only-get")
    def only_get():
        return {"ok": True}

    @app.get("/typed/int/{v}")
    def typed_int(v: int):
        return {"v": v}

    @app.get("/typed/float/{v}")
    def typed_float(v: float):
        return {"v": v}

    @app.get("/typed/str/{v}")
    def typed_str(v: str):
        return {"v": v}

    @app.get("/typed/bool/{v}")
    def typed_bool(v: bool):
        return {"v": v}

    @app.get("/typed/uuid/{v}")
    def typed_uuid(v: uuid.UUID):
        return {"v": v, "type": type(v).__name__}

    @app.get("/typed/color/{v}")
    def typed_color(v: Color):
        return {"v": v, "is_member": isinstance(v, Color)}

    @app.get("/typed/level/{v}")
    def typed_level(v: Level):
        return {"v": v, "name": v.name}

    @app.get("/files/{file_path:path}")
    def read_file(file_path: str):
        return {"file_path": file_path}

    @app.get("/users/me")
    def read_me():
        return {"user": "me"}

    @app.get("/users/{user_id}")
    def read_user(user_id: int):
        return {"user_id": user_id}

    @app.get("/two/{a}/and/{b}")
    def two(a: int, b: str):
        return {"a": a, "b": b}

    @app.get("/with-slash/")
    def with_slash():
        return {"slash": True}

    @app.get("/without-slash")
    def without_slash():
        return {"slash": False}

    router = fw.APIRouter(prefix="/api")

    @router.get("/ping")
    def ping():
        return {"pong": True}

    app.include_router(router)
    return app


@pytest.fixture(scope="module")
def clients(dual):
    return dual(build)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_each_method_decorator_routes_its_method(clients, method):
    response = differential(clients, method, "/verbs")
    assert response.status_code == 200
    assert response.json() == {"method": method}
    assert response.headers["content-type"] == "application/json"


def test_head_decorator_runs_the_head_handler(clients):
    response = differential(clients, "HEAD", "/verbs")
    assert response.status_code == 200
    assert response.headers["x-head"] == "explicit"
    assert response.content == b""


@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_api_route_serves_each_listed_method(clients, method):
    response = differential(clients, method, "/multi")
    assert response.json() == {"method": method}


def test_api_route_refuses_unlisted_methods_with_405(clients):
    response = differential(clients, "DELETE", "/multi")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == "GET, POST, PUT, HEAD"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("/typed/int/42", {"v": 42}),
        ("/typed/int/-7", {"v": -7}),
        ("/typed/int/99999999999999999999999", {"v": 99999999999999999999999}),
        ("/typed/float/2.5", {"v": 2.5}),
        ("/typed/float/3", {"v": 3.0}),
        ("/typed/str/hello", {"v": "hello"}),
        ("/typed/str/hello%20world", {"v": "hello world"}),
        ("/typed/str/caf%C3%A9", {"v": "café"}),
        ("/typed/bool/true", {"v": True}),
        ("/typed/bool/False", {"v": False}),
        ("/typed/bool/1", {"v": True}),
        ("/typed/bool/0", {"v": False}),
        ("/typed/bool/yes", {"v": True}),
        ("/typed/bool/off", {"v": False}),
        (
            "/typed/uuid/12345678-1234-5678-1234-567812345678",
            {"v": "12345678-1234-5678-1234-567812345678", "type": "UUID"},
        ),
        ("/typed/color/red", {"v": "red", "is_member": True}),
        ("/typed/level/2", {"v": 2, "name": "high"}),
        ("/two/5/and/x", {"a": 5, "b": "x"}),
    ],
)
def test_path_parameter_is_converted_by_its_annotation(clients, url, expected):
    response = differential(clients, "GET", url)
    assert response.status_code == 200
    assert response.json() == expected


@pytest.mark.parametrize(
    "url",
    [
        "/typed/int/abc",
        "/typed/int/4.5",
        "/typed/float/x",
        "/typed/bool/maybe",
        "/typed/uuid/not-a-uuid",
        "/typed/color/blue",
        "/typed/level/3",
        "/two/x/and/y",
    ],
)
def test_bad_path_parameter_gives_fastapis_422(clients, url):
    response = differential(clients, "GET", url)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "path"


def test_int_path_parameter_that_is_not_an_int_gives_422_not_500(clients):
    # Ignyx 3.1 answered GET /items/abc with a 500.
    response = clients.ignyx.get("/users/abc")
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "int_parsing",
                "loc": ["path", "user_id"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "abc",
            }
        ]
    }


@pytest.mark.parametrize(
    "url, expected",
    [
        ("/files/a.txt", "a.txt"),
        ("/files/dir/sub/a.txt", "dir/sub/a.txt"),
        ("/files/dir/", "dir/"),
        ("/files/with%20space/x", "with space/x"),
    ],
)
def test_path_converter_takes_the_rest_of_the_path(clients, url, expected):
    response = differential(clients, "GET", url)
    assert response.json() == {"file_path": expected}


def test_path_converter_matches_an_empty_rest(clients):
    response = differential(clients, "GET", "/files/")
    assert response.json() == {"file_path": ""}


def test_static_route_declared_first_wins_over_parameter(clients):
    assert differential(clients, "GET", "/users/me").json() == {"user": "me"}
    assert differential(clients, "GET", "/users/3").json() == {"user_id": 3}


@pytest.mark.parametrize("url", ["/nope", "/users/1/extra", "/api", "/typed/int/"])
def test_unknown_path_gives_404_not_found(clients, url):
    response = differential(clients, "GET", url)
    assert response.status_code == 404
    assert response.content == b'{"detail":"Not Found"}'
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_wrong_method_gives_405_with_allow(clients, method):
    # Ignyx 3.1 answered DELETE on a GET-only path with 404.
    response = differential(clients, method, "/only-get")
    assert response.status_code == 405
    assert response.content == b'{"detail":"Method Not Allowed"}'
    assert response.headers["allow"] == "GET, HEAD"


def test_allow_lists_the_methods_of_every_route_on_the_path(clients):
    # Starlette lists only the first matching route's methods ("GET"); Ignyx lists every
    # method the path answers, which is what RFC 9110 asks of Allow.
    fastapi_response, response = clients.request("TRACE", "/typed/int/1")
    assert fastapi_response.headers["allow"] == "GET"
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_405_on_a_path_with_routes_split_over_several_decorators(clients):
    fastapi_response, response = clients.request("TRACE", "/verbs")
    assert fastapi_response.status_code == response.status_code == 405
    assert fastapi_response.headers["allow"] == "GET"
    assert {m.strip() for m in response.headers["allow"].split(",")} == {
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
        "HEAD",
    }
    assert response.json() == {"detail": "Method Not Allowed"}


def test_head_on_a_get_route_has_no_body_but_the_get_headers(clients):
    # FastAPI gives 405 to HEAD on a GET route; Ignyx answers it as HTTP requires
    # (Ignyx 3.1 gave 404).
    get = clients.ignyx.get("/typed/int/123")
    head = clients.ignyx.head("/typed/int/123")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == str(len(get.content)) == "9"
    assert clients.fastapi.head("/typed/int/123").status_code == 405


def test_head_on_an_unknown_path_is_404_without_body(clients):
    response = clients.ignyx.head("/nope")
    assert response.status_code == 404
    assert response.content == b""


@pytest.mark.parametrize(
    "url, target",
    [
        ("/with-slash", "/with-slash/"),
        ("/without-slash/", "/without-slash"),
        ("/with-slash?a=1&b=%20", "/with-slash/?a=1&b=%20"),
    ],
)
def test_trailing_slash_mismatch_redirects_to_the_route(clients, url, target):
    response = clients.ignyx.get(url, follow_redirects=False)
    assert response.status_code == 307
    assert response.content == b""
    assert response.headers["location"].endswith(target)
    followed = clients.ignyx.get(url, follow_redirects=True)
    assert followed.status_code == 200
    assert followed.json() == {"slash": target.startswith("/with-slash/")}


@pytest.mark.parametrize("url", ["/with-slash", "/without-slash/", "/with-slash?a=1&b=%20"])
def test_trailing_slash_redirect_matches_fastapi(clients, url):
    differential(clients, "GET", url)


def test_trailing_slash_redirect_location_uses_the_host_header(clients):
    response = clients.ignyx.get(
        "/with-slash", headers={"host": "example.com:8080"}, follow_redirects=False
    )
    assert response.status_code == 307
    assert response.headers["location"] == "http://example.com:8080/with-slash/"


def test_router_prefix_is_prepended(clients):
    assert differential(clients, "GET", "/api/ping").json() == {"pong": True}
