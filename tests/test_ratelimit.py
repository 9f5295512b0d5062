"""Rate limits (``RateLimitMiddleware`` and the ``RateLimit`` dependency) as a client sees
them: statuses, body bytes and headers, over real sockets.

1. Memory storage: "5/minute" lets five through with ``RateLimit-*`` headers and refuses the
   sixth with 429, ``{"detail":"Too Many Requests"}`` and ``Retry-After``; several windows;
   ``headers=False``; keys by header and by a (sync or async) function; mistakes in the
   options refused where they are written.
2. The client's address is the server's: ``X-Forwarded-For`` changes nothing unless the
   server trusts the proxy that sent it.
3. The same answers wherever the limit runs: in the engine (the only middleware), in Python
   inside a Python middleware, and under uvicorn; WebSocket handshakes beyond the limit are
   refused.
4. The per-route dependency: its route alone, by path template, without a trace in OpenAPI.
5. Redis storage (a real ``redis-server`` per test): the same counts, one key per client and
   window with a TTL, ``key_prefix``, one count shared by two app instances.
6. Faults: Redis stopped or hung: requests pass without headers and a warning is logged
   (``fail_open=True``) or get 503 (``fail_open=False``), within the timeout; Redis back,
   limiting is back.
7. ``ignyx run --workers 2``: with Redis, exactly the limit passes across both workers; with
   ``memory://`` each worker counts on its own (the documented difference).

Also ``examples/ratelimit.py``, loaded and exercised.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Optional

import httpx
import pytest
import redis
from conftest import eventually, free_port, http_client, live_server, load_example, under_uvicorn
from ignyx import Depends, FastAPI, Request, WebSocket
from ignyx.middleware import Middleware
from ignyx.middleware.ratelimit import RateLimitMiddleware
from ignyx.ratelimit import RateLimit
from ignyx.testclient import TestClient
from test_cli import local, serve
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

TOO_MANY = b'{"detail":"Too Many Requests"}'
UNAVAILABLE = b'{"detail":"Service Unavailable"}'
# The IETF draft's two fields (draft-ietf-httpapi-ratelimit-headers).
RATELIMIT_HEADERS = ("ratelimit", "ratelimit-policy")
# How long the limits of the fault tests wait for Redis.
TIMEOUT = 0.3
# "Answered within the timeout": the timeout, and a generous margin for a busy machine.
WITHIN = TIMEOUT + 1.5


# --- what a client sees ---------------------------------------------------------------------


def rate_limit_headers(response: Any) -> dict[str, str]:
    return {name: response.headers[name] for name in RATELIMIT_HEADERS if name in response.headers}


def told(response: Any) -> tuple[int, int, int]:
    """What the ``RateLimit`` field tells (``"5/60s";r=4;t=12``): the limit of the window it
    names, the requests left in it, and the seconds until it is whole again."""
    name, *parameters = response.headers["ratelimit"].split(";")
    assert name.startswith('"') and name.endswith('s"'), name
    values = dict(parameter.split("=") for parameter in parameters)
    assert set(values) == {"r", "t"}, values
    return int(name.strip('"').split("/")[0]), int(values["r"]), int(values["t"])


def draft_policy(short: str) -> str:
    """The ``RateLimit-Policy`` of windows written ``"5;w=60, 100;w=3600"``: each named for
    its limit and length, with its quota and window."""
    items = []
    for window in short.split(", "):
        limit, seconds = window.split(";w=")
        items.append(f'"{limit}/{seconds}s";q={limit};w={seconds}')
    return ", ".join(items)


def assert_passed(response: Any, *, limit: int, remaining: int, policy: str) -> None:
    """A 200 that tells the client its limit, what is left of it, and the policy."""
    assert response.status_code == 200, response.text
    headers = rate_limit_headers(response)
    assert set(headers) == set(RATELIMIT_HEADERS), dict(response.headers)
    told_limit, left, reset = told(response)
    assert (told_limit, left) == (limit, remaining)
    assert 1 <= reset <= 60
    assert headers["ratelimit-policy"] == draft_policy(policy)


def assert_refused(response: Any, *, limit: int, policy: str) -> int:
    """A 429 with FastAPI's body for it, ``Retry-After`` and the rate-limit headers; returns
    the seconds ``Retry-After`` says."""
    assert response.status_code == 429, response.text
    assert response.content == TOO_MANY
    assert response.headers["content-type"] == "application/json"
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit() and int(retry_after) >= 1, retry_after
    headers = rate_limit_headers(response)
    assert told(response)[:2] == (limit, 0)
    assert headers["ratelimit-policy"] == draft_policy(policy)
    return int(retry_after)


def assert_five_a_minute(answers: list[Any]) -> None:
    """Six requests under "5/minute": five pass, counting down, the sixth is refused."""
    assert len(answers) == 6
    for remaining, answer in zip(range(4, -1, -1), answers[:5], strict=True):
        assert_passed(answer, limit=5, remaining=remaining, policy="5;w=60")
    retry_after = assert_refused(answers[5], limit=5, policy="5;w=60")
    assert retry_after <= 12  # one request frees up every 60 / 5 seconds


# --- apps and where they are served ---------------------------------------------------------


def limited_app(limit: str = "5/minute", *, inside_python: bool = False, **options: Any) -> Any:
    """An app limited by ``RateLimitMiddleware(limit, **options)``; `inside_python` adds a
    Python middleware after it (so outside it), which marks every response it sees."""
    app = FastAPI()
    app.add_middleware(RateLimitMiddleware, limit=limit, **options)
    if inside_python:

        @app.middleware("http")
        async def outer(request: Request, call_next: Any) -> Any:
            response = await call_next(request)
            response.headers["x-outer-middleware"] = "saw it"
            return response

    @app.get("/")
    def who(request: Request):
        return {"client": request.client.host, "pid": os.getpid()}

    @app.websocket("/ws")
    async def welcome(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("welcome")
        await websocket.close()

    return app


def where_the_limit_runs(app: Any) -> str:
    """Where the app's rate limit runs when Ignyx serves it: ``engine`` (natively, in
    Rust) or ``python`` (as ASGI middleware)."""
    outer, python, _ = app._middleware_layers()
    if any(isinstance(layer, RateLimitMiddleware) for layer in outer):
        return "engine"
    assert any(isinstance(e, Middleware) and e.cls is RateLimitMiddleware for e in python)
    return "python"


@contextlib.contextmanager
def served(app: Any, placement: str, **server_options: Any) -> Iterator[httpx.Client]:
    """A client of `app` served by Ignyx's server ("engine", "python"), or by uvicorn."""
    if placement == "uvicorn":
        with under_uvicorn(app) as url, httpx.Client(base_url=url, timeout=10) as client:
            yield client
        return
    with live_server(app, **server_options) as server, http_client(server.port, timeout=10) as c:
        yield c


def app_placed(placement: str, limit: str = "5/minute", **options: Any) -> Any:
    """`limited_app` for `placement`; checks that the limit runs where the placement says."""
    app = limited_app(limit, inside_python=placement == "python", **options)
    if placement != "uvicorn":
        assert where_the_limit_runs(app) == placement
    return app


PLACEMENTS = ["engine", "python", "uvicorn"]


# --- 1. memory storage ----------------------------------------------------------------------


def test_five_a_minute_pass_and_the_sixth_is_refused_through_the_test_client():
    with TestClient(limited_app("5/minute")) as client:
        answers = [client.get("/") for _ in range(6)]
    assert_five_a_minute(answers)
    assert answers[0].json()["client"] == "testclient"  # Starlette's name for it; counted by IP


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_five_a_minute_pass_and_the_sixth_is_refused_over_a_socket(placement):
    app = app_placed(placement, "5/minute")
    with served(app, placement) as client:
        answers = [client.get("/") for _ in range(6)]
    assert_five_a_minute(answers)
    assert answers[0].json()["client"] == "127.0.0.1"
    if placement == "python":  # the Python middleware saw the 429: the limit ran inside it
        assert all(a.headers["x-outer-middleware"] == "saw it" for a in answers)
    if placement == "uvicorn":
        assert all(a.headers["server"] == "uvicorn" for a in answers)


def test_a_request_passes_only_when_every_window_lets_it():
    policy = "2;w=1, 3;w=60"
    with TestClient(limited_app("2/second;3/minute")) as client:
        # The second's window is the one closest to its end, so the one told.
        assert_passed(client.get("/"), limit=2, remaining=1, policy=policy)
        assert_passed(client.get("/"), limit=2, remaining=0, policy=policy)
        assert assert_refused(client.get("/"), limit=2, policy=policy) == 1
        time.sleep(1.1)  # the second's window is whole again; the minute's has one left
        assert_passed(client.get("/"), limit=3, remaining=0, policy=policy)
        assert assert_refused(client.get("/"), limit=3, policy=policy) > 1


@pytest.mark.parametrize("placement", ["engine", "python"])
def test_headers_false_leaves_the_rate_limit_headers_out_but_a_refusal_keeps_retry_after(
    placement,
):
    app = app_placed(placement, "1/minute", headers=False)
    with served(app, placement) as client:
        passed, refused = client.get("/"), client.get("/")
    assert passed.status_code == 200
    assert rate_limit_headers(passed) == {}
    assert refused.status_code == 429
    assert refused.content == TOO_MANY
    assert int(refused.headers["retry-after"]) >= 1


@pytest.mark.parametrize("placement", ["engine", "python"])
def test_requests_are_counted_per_api_key_and_without_one_per_address(placement):
    app = app_placed(placement, "2/minute", key="header:X-API-Key")
    policy = "2;w=60"
    with served(app, placement) as client:

        def get(api_key: Optional[str] = None) -> httpx.Response:
            return client.get("/", headers={"X-API-Key": api_key} if api_key else {})

        assert_passed(get("alice"), limit=2, remaining=1, policy=policy)
        assert_passed(get("alice"), limit=2, remaining=0, policy=policy)
        assert_refused(get("alice"), limit=2, policy=policy)
        assert_passed(get("bob"), limit=2, remaining=1, policy=policy)
        assert_passed(get(), limit=2, remaining=1, policy=policy)
        assert_passed(get(), limit=2, remaining=0, policy=policy)
        assert_refused(get(), limit=2, policy=policy)
        # A key that reads like the address is still a key of its own.
        assert_passed(get("127.0.0.1"), limit=2, remaining=1, policy=policy)


def test_api_keys_that_are_not_utf8_are_counted_apart():
    app = limited_app("1/minute", key="header:X-API-Key")
    with TestClient(app) as client:
        first = client.get("/", headers=[(b"X-API-Key", b"\xff")])
        second = client.get("/", headers=[(b"X-API-Key", b"\xfe")])
    assert (first.status_code, second.status_code) == (200, 200)


def user_of(request: Any) -> str:
    return request.headers.get("x-user", "anonymous")


async def user_of_async(request: Any) -> str:
    return user_of(request)


@pytest.mark.parametrize("key_function", [user_of, user_of_async], ids=["sync", "async"])
def test_a_key_function_counts_requests_by_what_it_returns(key_function):
    asked: list[str] = []

    def key(request: Any) -> Any:
        asked.append(request.url.path)
        return key_function(request)

    app = limited_app("1/minute", key=key)
    assert where_the_limit_runs(app) == "python"  # the engine cannot call it: ASGI middleware
    policy = "1;w=60"
    with TestClient(app) as client:
        assert_passed(
            client.get("/", headers={"x-user": "ada"}), limit=1, remaining=0, policy=policy
        )
        assert_refused(client.get("/", headers={"x-user": "ada"}), limit=1, policy=policy)
        assert_passed(
            client.get("/", headers={"x-user": "bob"}), limit=1, remaining=0, policy=policy
        )
        assert_passed(client.get("/"), limit=1, remaining=0, policy=policy)
        assert_refused(client.get("/"), limit=1, policy=policy)
    assert asked == ["/"] * 5


MISTAKES = [
    ({"limit": "5/fortnight"}, ValueError, 'invalid rate limit "5/fortnight"'),
    ({"limit": "0/minute"}, ValueError, 'invalid rate limit "0/minute"'),
    ({"limit": "five/minute"}, ValueError, 'invalid rate limit "five/minute"'),
    ({"limit": 5}, TypeError, "limit must be a string such as '100/minute'"),
    ({"limit": "5/minute", "storage": "postgres://db"}, ValueError, "unknown rate limit storage"),
    ({"limit": "5/minute", "storage": "memory://x"}, ValueError, "unknown rate limit storage"),
    ({"limit": "5/minute", "storage": "redis://:nope"}, ValueError, 'invalid Redis URL "redis'),
    ({"limit": "5/minute", "key": "ip"}, ValueError, "key must be 'client', 'header:<name>'"),
    ({"limit": "5/minute", "key": "header:X Key"}, ValueError, "'X Key' is not a header name"),
    ({"limit": "5/minute", "timeout": 0}, ValueError, "timeout must be positive seconds"),
]


@pytest.mark.parametrize("options, error, message", MISTAKES, ids=[str(m[0]) for m in MISTAKES])
def test_a_mistake_in_the_options_is_told_where_it_is_written(options, error, message):
    with pytest.raises(error, match=re.escape(message)):
        RateLimit(**options)
    with pytest.raises(error, match=re.escape(message)):
        RateLimitMiddleware(limited_app(), **options)
    app = FastAPI()
    app.add_middleware(RateLimitMiddleware, **options)
    with pytest.raises(error, match=re.escape(message)):  # the app does not start
        TestClient(app)


def test_a_period_too_long_to_count_is_refused():
    with pytest.raises(ValueError, match="invalid rate limit"):
        RateLimit("1/288230376151711744 seconds")


# --- 2. the client's address ----------------------------------------------------------------


@pytest.mark.parametrize("placement", ["engine", "python"])
def test_a_client_cannot_dodge_the_limit_with_x_forwarded_for(placement):
    app = app_placed(placement, "2/minute")
    with served(app, placement) as client:
        answers = [client.get("/", headers={"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].json()["client"] == "127.0.0.1"
    assert_refused(answers[2], limit=2, policy="2;w=60")


def get_from(port: int, source: str, forwarded_for: str) -> httpx.Response:
    """GET / from the local address `source`, claiming to forward `forwarded_for`."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        url = f"http://127.0.0.1:{port}/"
        return client.get(url, headers={"X-Forwarded-For": forwarded_for})


@pytest.mark.parametrize("placement", ["engine", "python"])
def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_on_its_own(placement):
    app = app_placed(placement, "2/minute")
    options = {"proxy_headers": True, "forwarded_allow_ips": "127.0.0.1"}
    policy = "2;w=60"
    with live_server(app, **options) as server:
        for n in range(3):
            answer = get_from(server.port, "127.0.0.1", f"203.0.113.{n}")
            assert_passed(answer, limit=2, remaining=1, policy=policy)
            assert answer.json()["client"] == f"203.0.113.{n}"
        assert_passed(
            get_from(server.port, "127.0.0.1", "203.0.113.0"), limit=2, remaining=0, policy=policy
        )
        assert_refused(get_from(server.port, "127.0.0.1", "203.0.113.0"), limit=2, policy=policy)
        # 127.0.0.2 is not a trusted proxy: what it forwards is not believed.
        untrusted = [get_from(server.port, "127.0.0.2", f"198.51.100.{n}") for n in range(3)]
    assert [a.status_code for a in untrusted] == [200, 200, 429]
    assert untrusted[0].json()["client"] == "127.0.0.2"


# --- 3. WebSockets --------------------------------------------------------------------------


def handshake(url: str) -> Any:
    """The first message of a WebSocket session at `url`, or the response refusing it."""
    try:
        with connect(url, open_timeout=10) as websocket:
            return websocket.recv(timeout=10)
    except InvalidStatus as refused:
        return refused.response


def websocket_url(client: httpx.Client) -> str:
    return str(client.base_url).replace("http://", "ws://").rstrip("/") + "/ws"


@pytest.mark.parametrize(
    "placement",
    [
        "engine",
        "python",
        "uvicorn",
    ],
)
def test_a_websocket_handshake_beyond_the_limit_gets_429(placement):
    app = app_placed(placement, "2/minute")
    with served(app, placement) as client:
        url = websocket_url(client)
        answers = [handshake(url) for _ in range(3)]
    assert answers[:2] == ["welcome", "welcome"]
    refused = answers[2]
    assert refused.status_code == 429
    assert bytes(refused.body) == TOO_MANY
    assert int(refused.headers["retry-after"]) >= 1
    assert told(refused)[:2] == (2, 0)


# --- 4. the per-route dependency ------------------------------------------------------------


def app_with_limited_routes(limit: Optional[RateLimit] = None) -> Any:
    """Routes /login and /items/{item_id} limited by `limit` (when given); /free never."""
    app = FastAPI()
    dependencies = [Depends(limit)] if limit is not None else []

    @app.post("/login", dependencies=dependencies)
    def login(username: str):
        return {"username": username}

    @app.get("/items/{item_id}", dependencies=dependencies)
    def read_item(item_id: int, q: Optional[str] = None):
        return {"item_id": item_id, "q": q}

    @app.get("/free")
    def free():
        return {"free": True}

    return app


def test_a_route_dependency_limits_its_route_alone():
    app = app_with_limited_routes(RateLimit("2/minute"))
    policy = "2;w=60"
    with TestClient(app) as client:
        assert_passed(client.post("/login?username=ada"), limit=2, remaining=1, policy=policy)
        assert_passed(client.post("/login?username=ada"), limit=2, remaining=0, policy=policy)
        assert_refused(client.post("/login?username=ada"), limit=2, policy=policy)
        # The same limit on another route counts that route on its own.
        assert_passed(client.get("/items/1"), limit=2, remaining=1, policy=policy)
        free = [client.get("/free") for _ in range(5)]
    assert [(a.status_code, a.content) for a in free] == [(200, b'{"free":true}')] * 5
    assert all(rate_limit_headers(a) == {} for a in free)


def test_a_route_dependency_counts_every_path_of_its_template_together():
    app = app_with_limited_routes(RateLimit("2/minute"))
    with TestClient(app) as client:
        answers = [client.get(f"/items/{n}") for n in (1, 2, 3)]
        head = client.head("/items/4")  # HEAD runs the GET route, and counts as GET
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].json() == {"item_id": 2, "q": None}
    assert_refused(answers[2], limit=2, policy="2;w=60")
    assert head.status_code == 429


def test_a_route_dependency_leaves_the_openapi_document_as_it_was():
    limited = app_with_limited_routes(RateLimit("2/minute")).openapi()
    assert limited == app_with_limited_routes().openapi()
    parameters = limited["paths"]["/items/{item_id}"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["item_id", "q"]
    assert [p["name"] for p in limited["paths"]["/login"]["post"]["parameters"]] == ["username"]


@pytest.mark.parametrize(
    "placement",
    [
        "engine",
        "python",
        "uvicorn",
    ],
)
def test_a_route_limit_closer_to_its_end_is_the_one_the_headers_tell(placement):
    app = app_placed(placement, "100/minute")

    @app.get("/login", dependencies=[Depends(RateLimit("2/minute"))])
    def login():
        return {}

    policy = "2;w=60"
    with served(app, placement) as client:
        assert_passed(client.get("/login"), limit=2, remaining=1, policy=policy)
        assert_passed(client.get("/login"), limit=2, remaining=0, policy=policy)
        assert_refused(client.get("/login"), limit=2, policy=policy)
        assert_passed(client.get("/"), limit=100, remaining=96, policy="100;w=60")


# --- 5. Redis storage -----------------------------------------------------------------------


def redis_keys(redis_server: Any) -> dict[bytes, int]:
    """Every key in the test's Redis, with its TTL in milliseconds."""
    store = redis.Redis(host=redis_server.host, port=redis_server.port)
    try:
        return {key: store.pttl(key) for key in store.keys("*")}
    finally:
        store.close()


def test_redis_storage_counts_the_same_and_keeps_a_key_per_client_with_a_ttl(redis_server):
    with TestClient(limited_app("5/minute", storage=redis_server.url)) as client:
        answers = [client.get("/") for _ in range(6)]
    assert_five_a_minute(answers)
    keys = redis_keys(redis_server)
    assert list(keys) == [b"ignyx:ratelimit:127.0.0.1:5/60"]
    assert 0 < keys[b"ignyx:ratelimit:127.0.0.1:5/60"] <= 60_000


def test_key_prefix_names_the_redis_keys_one_per_window(redis_server):
    app = limited_app("2/second;5/minute", storage=redis_server.url, key_prefix="shop:limits:")
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
    keys = redis_keys(redis_server)
    assert set(keys) == {b"shop:limits:127.0.0.1:2/1", b"shop:limits:127.0.0.1:5/60"}
    assert 0 < keys[b"shop:limits:127.0.0.1:2/1"] <= 1_000
    assert 0 < keys[b"shop:limits:127.0.0.1:5/60"] <= 60_000


def test_two_app_instances_share_one_count_in_redis(redis_server):
    first = limited_app("3/minute", storage=redis_server.url)
    second = limited_app("3/minute", storage=redis_server.url)
    policy = "3;w=60"
    with TestClient(first) as one, TestClient(second) as other:
        assert_passed(one.get("/"), limit=3, remaining=2, policy=policy)
        assert_passed(other.get("/"), limit=3, remaining=1, policy=policy)
        assert_passed(one.get("/"), limit=3, remaining=0, policy=policy)
        assert_refused(other.get("/"), limit=3, policy=policy)
        assert_refused(one.get("/"), limit=3, policy=policy)


def test_concurrent_requests_to_two_instances_let_exactly_the_limit_through(redis_server):
    apps = [limited_app("10/minute", storage=redis_server.url) for _ in range(2)]
    with live_server(apps[0]) as a, live_server(apps[1]) as b:
        urls = [f"http://127.0.0.1:{port}/" for port in (a.port, b.port)] * 12
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda url: httpx.get(url, timeout=10).status_code, urls))
    assert Counter(statuses) == {200: 10, 429: 14}


# --- 6. faults ------------------------------------------------------------------------------


def timed_get(client: httpx.Client, path: str = "/") -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def storage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "ignyx.ratelimit" and r.levelno == logging.WARNING
    ]


def assert_limiting_again(client: httpx.Client, limit: int) -> None:
    """Within a few seconds the limit counts again (the restarted Redis is empty): what is
    left passes, then a request is refused."""

    def counted() -> Optional[httpx.Response]:
        response = client.get("/")
        return response if "ratelimit" in response.headers else None

    answer = eventually(counted)
    assert answer is not None, "the limit did not come back"
    for _ in range(told(answer)[1]):
        assert client.get("/").status_code == 200
    assert_refused(client.get("/"), limit=limit, policy=f"{limit};w=60")


@pytest.mark.parametrize("placement", ["engine", "python"])
def test_with_redis_down_requests_pass_without_headers_and_a_warning_is_logged(
    redis_server, caplog, placement
):
    caplog.set_level(logging.WARNING, logger="ignyx.ratelimit")
    app = app_placed(placement, "3/minute", storage=redis_server.url, timeout=TIMEOUT)
    with served(app, placement) as client:
        assert_passed(client.get("/"), limit=3, remaining=2, policy="3;w=60")
        redis_server.stop()
        answers = [timed_get(client) for _ in range(3)]
        for answer, seconds in answers:
            assert answer.status_code == 200
            assert answer.json()["client"] == "127.0.0.1"
            assert rate_limit_headers(answer) == {}
            assert seconds < WITHIN
        warnings = eventually(lambda: storage_warnings(caplog))
        assert warnings, caplog.text
        assert warnings[0].startswith("rate limit storage failed (letting requests through)")
        assert len(warnings) == 1  # at most once a second
        redis_server.start()
        assert_limiting_again(client, 3)


def test_with_redis_down_and_fail_open_false_requests_get_503_until_it_is_back(
    redis_server, caplog
):
    caplog.set_level(logging.WARNING, logger="ignyx.ratelimit")
    app = limited_app("3/minute", storage=redis_server.url, timeout=TIMEOUT, fail_open=False)
    with served(app, "engine") as client:
        assert client.get("/").status_code == 200
        redis_server.stop()
        for answer, seconds in [timed_get(client) for _ in range(3)]:
            assert answer.status_code == 503
            assert answer.content == UNAVAILABLE
            assert answer.headers["content-type"] == "application/json"
            assert answer.headers["retry-after"] == "1"
            assert seconds < WITHIN
        warnings = eventually(lambda: storage_warnings(caplog))
        assert warnings and warnings[0].startswith(
            "rate limit storage failed (refusing requests with 503)"
        ), caplog.text
        redis_server.start()
        assert_limiting_again(client, 3)


@pytest.mark.parametrize("fail_open", [True, False], ids=["fail open", "fail closed"])
def test_a_redis_that_does_not_answer_is_given_up_on_after_the_timeout(redis_server, fail_open):
    app = limited_app("3/minute", storage=redis_server.url, timeout=TIMEOUT, fail_open=fail_open)
    with served(app, "engine") as client:
        assert client.get("/").status_code == 200  # connected
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            answer, seconds = timed_get(client)
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
    assert seconds < WITHIN
    if fail_open:
        assert answer.status_code == 200
        assert rate_limit_headers(answer) == {}
    else:
        assert (answer.status_code, answer.content) == (503, UNAVAILABLE)


# --- 7. worker processes --------------------------------------------------------------------

WORKERS_APP = """
import os
import time

from ignyx import FastAPI
from ignyx.middleware.ratelimit import RateLimitMiddleware

app = FastAPI()
app.add_middleware(
    RateLimitMiddleware,
    limit="10/minute",
    key="header:X-Client",
    storage=os.environ["RATELIMIT_STORAGE"],
)


@app.get("/pid")
async def pid():
    # Holds this worker's event loop a moment: the other worker accepts the connections
    # that come meanwhile (else the kernel hands nearly all of them to one worker).
    time.sleep(0.05)
    return {"pid": os.getpid()}
"""


@contextlib.contextmanager
def two_workers(tmp_path: Any, storage: str) -> Iterator[Any]:
    """``ignyx run limited:app --workers 2`` on a free port of 127.0.0.1."""
    (tmp_path / "limited.py").write_text(WORKERS_APP)
    port = free_port()
    env = {"PYTHONPATH": str(tmp_path), "RATELIMIT_STORAGE": storage}
    args = ["run", "limited:app", "--workers", "2", *local(port)]
    with serve(tmp_path, args, port=port, env=env) as server:
        assert len(both_workers(server)) == 2, server.stderr()
        yield server


def both_workers(server: Any, timeout: float = 15.0) -> set[int]:
    """The workers' pids, once both answer (the port accepts as soon as one does); each
    probe is a client of its own, so the probes use up no one's limit."""
    pids: set[int] = set()
    deadline = time.monotonic() + timeout
    probe = 0
    while len(pids) < 2 and time.monotonic() < deadline:
        probe += 1
        pids.add(server.get("/pid", headers={"X-Client": f"probe-{probe}"}).json()["pid"])
    return pids


def fire(server: Any, client_name: str, count: int = 25) -> list[tuple[int, Optional[int]]]:
    """`count` requests of one client, four at a time, each over a new connection (so the
    workers share them): each answer's status, and the pid of the worker when it passed."""

    def one(_: int) -> tuple[int, Optional[int]]:
        response = server.get("/pid", headers={"X-Client": client_name})
        return response.status_code, response.json().get("pid")

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def rounds_until_both_workers_answered(server: Any) -> list[list[tuple[int, Optional[int]]]]:
    """Rounds of `fire`, each as a new client, until the requests that passed were answered
    by two workers (the first round, nearly always)."""
    rounds = []
    for attempt in range(3):
        rounds.append(fire(server, f"client-{attempt}"))
        if len({pid for _, pid in rounds[-1] if pid}) >= 2:
            break
    return rounds


def test_two_workers_share_one_redis_count_exactly(tmp_path, redis_server):
    with two_workers(tmp_path, redis_server.url) as server:
        rounds = rounds_until_both_workers_answered(server)
        supervisor = server.process.pid
    for answers in rounds:
        assert Counter(status for status, _ in answers) == {200: 10, 429: 15}
    pids = {pid for _, pid in rounds[-1] if pid}
    assert len(pids) == 2 and supervisor not in pids, pids


def test_with_memory_storage_each_worker_counts_on_its_own(tmp_path):
    """The documented difference: ``memory://`` limits each process alone, so two workers
    let up to twice the limit through."""
    with two_workers(tmp_path, "memory://") as server:
        rounds = rounds_until_both_workers_answered(server)
    for answers in rounds:
        passed = Counter(pid for status, pid in answers if status == 200)
        assert all(count <= 10 for count in passed.values()), passed
    passed = Counter(pid for status, pid in rounds[-1] if status == 200)
    assert len(passed) == 2, passed
    assert 10 < sum(passed.values()) <= 20


# --- the example ----------------------------------------------------------------------------


def load_ratelimit_example(monkeypatch: pytest.MonkeyPatch, storage: Optional[str]) -> Any:
    if storage is None:
        monkeypatch.delenv("RATELIMIT_STORAGE", raising=False)
    else:
        monkeypatch.setenv("RATELIMIT_STORAGE", storage)
    return load_example("ratelimit.py", "ignyx").app


def login(client: httpx.Client, password: str) -> httpx.Response:
    return client.post("/login", data={"username": "ada", "password": password})


def test_the_example_limits_login_attempts_and_the_whole_app(monkeypatch):
    app = load_ratelimit_example(monkeypatch, None)
    with TestClient(app) as client:
        home = client.get("/")
        attempts = [login(client, "correct horse battery staple")]
        attempts += [login(client, "guess") for _ in range(4)]
        sixth = login(client, "correct horse battery staple")
        after = client.get("/")
    assert home.json() == {"message": "Hello"}
    assert_passed(home, limit=100, remaining=99, policy="100;w=60")
    assert attempts[0].json() == {"username": "ada"}
    assert [(a.status_code, a.content) for a in attempts[1:]] == [
        (401, b'{"detail":"Wrong username or password"}')
    ] * 4
    assert sixth.status_code == 429
    assert sixth.content == TOO_MANY
    assert 1 <= int(sixth.headers["retry-after"]) <= 12
    assert_passed(after, limit=100, remaining=92, policy="100;w=60")


def test_the_example_on_redis_keeps_both_limits_under_their_keys(monkeypatch, redis_server):
    app = load_ratelimit_example(monkeypatch, redis_server.url)
    with live_server(app) as server, http_client(server.port, timeout=10) as client:
        assert client.get("/").status_code == 200
        assert login(client, "guess").status_code == 401
    keys = redis_keys(redis_server)
    assert set(keys) == {
        b"ignyx:ratelimit:127.0.0.1:100/60",
        b"ignyx:ratelimit:POST /login|127.0.0.1:5/60",
    }
    assert all(0 < ttl <= 60_000 for ttl in keys.values())
