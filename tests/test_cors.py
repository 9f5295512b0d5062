"""CORS per the Fetch spec, against Starlette's CORSMiddleware: preflights answered without
calling the handler, only a matching origin echoed, Vary, credentials, exposed headers,
max-age and origin regexes."""

import pytest
from conftest import differential, framework

ALLOWED = "https://a.example.com"
OTHER_ALLOWED = "https://b.example.com"
EVIL = "https://evil.com"


def cors_app(fw, **options):
    app = fw.FastAPI()
    app.add_middleware(fw.CORSMiddleware, **options)
    app.state.calls = []

    @app.get("/items")
    def list_items():
        app.state.calls.append("GET")
        return {"items": []}

    @app.post("/items")
    def create_item():
        app.state.calls.append("POST")
        return {"created": True}

    @app.options("/items")
    def options_items():
        app.state.calls.append("OPTIONS")
        return {"options": "handler"}

    @app.get("/headers")
    def with_headers(response: fw.Response):
        response.headers["X-Total"] = "10"
        response.headers["X-Secret"] = "s"
        return {"ok": True}

    return app


def preflight(origin, method="POST", headers=None):
    request_headers = {"origin": origin, "access-control-request-method": method}
    if headers is not None:
        request_headers["access-control-request-headers"] = headers
    return request_headers


@pytest.fixture(scope="module")
def star(dual):
    return dual(lambda fw: cors_app(fw, allow_origins=["*"]))


@pytest.fixture(scope="module")
def strict(dual):
    return dual(
        lambda fw: cors_app(
            fw,
            allow_origins=[ALLOWED, OTHER_ALLOWED],
            allow_methods=["GET", "POST"],
            allow_headers=["X-Custom", "Content-Type"],
            allow_credentials=True,
            expose_headers=["X-Total"],
            max_age=123,
        )
    )


@pytest.fixture(scope="module")
def regex(dual):
    return dual(
        lambda fw: cors_app(
            fw,
            allow_origin_regex=r"https://.*\.example\.org",
            allow_methods=["*"],
            allow_headers=["*"],
        )
    )


@pytest.fixture(scope="module")
def star_credentials(dual):
    return dual(
        lambda fw: cors_app(
            fw,
            allow_origins=["*"],
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials=True,
        )
    )


def calls(clients):
    return clients.ignyx_app.state.calls, clients.fastapi_app.state.calls


# --- simple requests --------------------------------------------------------------------


def test_wildcard_origin_answers_star(star):
    response = differential(star, "GET", "/items", headers={"origin": EVIL})
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == {"items": []}


def test_request_without_origin_gets_no_cors_headers(star, strict):
    for clients in (star, strict):
        response = differential(clients, "GET", "/items")
        assert "access-control-allow-origin" not in response.headers


def test_matching_origin_is_echoed_with_vary(strict):
    response = differential(strict, "GET", "/items", headers={"origin": OTHER_ALLOWED})
    assert response.headers["access-control-allow-origin"] == OTHER_ALLOWED
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin"


def test_only_a_matching_origin_is_echoed(strict):
    # Ignyx 3.1 sent "https://a.com, https://b.com" to any origin, evil.com included.
    response = differential(strict, "GET", "/items", headers={"origin": EVIL})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_expose_headers_are_listed(strict):
    response = differential(strict, "GET", "/headers", headers={"origin": ALLOWED})
    assert response.headers["access-control-expose-headers"] == "X-Total"
    assert response.headers["x-total"] == "10"


def test_credentials_with_wildcard_echo_the_origin(star_credentials):
    response = differential(star_credentials, "GET", "/items", headers={"origin": EVIL})
    assert response.headers["access-control-allow-origin"] == EVIL
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    "origin", ["https://x.example.org", "https://a.b.example.org", "https://example.org", EVIL]
)
def test_origin_regex(regex, origin):
    response = differential(regex, "GET", "/items", headers={"origin": origin})
    assert response.status_code == 200


@pytest.fixture(scope="module")
def lookaround_regex(dual):
    # Python's `re` takes lookarounds and backreferences; the app must start and match alike.
    return dual(
        lambda fw: cors_app(
            fw, allow_origin_regex=r"https://(?!admin\.)(\w+)\.(?:\1\.)?example\.org"
        )
    )


@pytest.mark.parametrize(
    "origin, allowed",
    [
        ("https://shop.example.org", True),
        ("https://eu.eu.example.org", True),
        ("https://admin.example.org", False),
        ("https://eu.us.example.org", False),
        ("https://shop.example.org.evil.com", False),
    ],
)
def test_origin_regex_with_a_lookahead_and_a_backreference(lookaround_regex, origin, allowed):
    response = differential(lookaround_regex, "GET", "/items", headers={"origin": origin})
    assert ("access-control-allow-origin" in response.headers) is allowed


def test_errors_carry_cors_headers(strict):
    response = differential(strict, "GET", "/missing", headers={"origin": ALLOWED})
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == ALLOWED


# --- preflights -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, headers",
    [
        ("allowed", preflight(ALLOWED)),
        ("allowed-with-headers", preflight(ALLOWED, "POST", "x-custom, content-type")),
        ("allowed-header-case", preflight(ALLOWED, "GET", "X-CUSTOM")),
        ("bad-origin", preflight(EVIL)),
        ("bad-method", preflight(ALLOWED, "DELETE")),
        ("bad-header", preflight(ALLOWED, "POST", "x-other")),
        ("everything-bad", preflight(EVIL, "PUT", "x-other")),
    ],
)
def test_preflight_is_answered_as_starlette_answers_it(strict, name, headers):
    differential(strict, "OPTIONS", "/items", headers=headers)


def test_preflight_is_answered_without_calling_the_handler(strict):
    ignyx_calls, fastapi_calls = calls(strict)
    before = (len(ignyx_calls), len(fastapi_calls))
    response = differential(
        strict, "OPTIONS", "/items", headers=preflight(ALLOWED, "POST", "x-custom")
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert response.headers["access-control-allow-headers"] == (
        "Accept, Accept-Language, Content-Language, Content-Type, X-Custom"
    )
    assert response.headers["access-control-max-age"] == "123"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert (len(ignyx_calls), len(fastapi_calls)) == before


def test_preflight_for_a_disallowed_origin_is_refused(strict):
    response = differential(strict, "OPTIONS", "/items", headers=preflight(EVIL))
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_plain_options_request_reaches_the_handler(strict):
    ignyx_calls, _ = calls(strict)
    before = len(ignyx_calls)
    response = differential(strict, "OPTIONS", "/items", headers={"origin": ALLOWED})
    assert response.json() == {"options": "handler"}
    assert ignyx_calls[before:] == ["OPTIONS"]


@pytest.mark.parametrize(
    "headers",
    [
        preflight("https://x.example.org", "PATCH", "x-anything, x-more"),
        preflight(EVIL, "PATCH"),
    ],
)
def test_preflight_with_wildcards_and_regex(regex, headers):
    differential(regex, "OPTIONS", "/items", headers=headers)


def test_preflight_with_star_and_credentials(star_credentials):
    response = differential(
        star_credentials, "OPTIONS", "/items", headers=preflight(EVIL, "DELETE", "x-any")
    )
    assert response.headers["access-control-allow-origin"] == EVIL
    assert response.headers["vary"].split(", ")[0] == "Origin"


# --- the README's form ------------------------------------------------------------------


def test_readme_form_adds_a_configured_instance():
    ignyx = framework("ignyx")
    app = ignyx.FastAPI()
    app.add_middleware(ignyx.CORSMiddleware(allow_origins=["*"]))
    calls_made = []

    @app.post("/users")
    def create_user():
        calls_made.append(1)
        return {"ok": True}

    with ignyx.TestClient(app) as client:
        response = client.post("/users", headers={"origin": EVIL})
        assert response.json() == {"ok": True}
        assert response.headers["access-control-allow-origin"] == "*"
        response = client.options("/users", headers=preflight(EVIL, "GET"))
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["access-control-allow-methods"] == "GET"
        assert calls_made == [1]


def test_middleware_module_paths():
    from ignyx.middleware import CORSMiddleware
    from ignyx.middleware.cors import CORSMiddleware as FromCors

    assert CORSMiddleware is FromCors
