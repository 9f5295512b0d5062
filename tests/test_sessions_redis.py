"""Server-side sessions: ``SessionMiddleware(secret_key=..., backend="redis://...")``.

The session lives in Redis as Starlette's JSON (``json.dumps(session)``) under
``key_prefix`` + a random id; the cookie carries only that id, signed as itsdangerous'
``TimestampSigner`` signs. Each test runs against a real redis-server of its own (the
``redis_server`` fixture), read and written behind the app's back with the ``redis``
package. What is covered, in each placement where it applies:

- the round trip: a counter counts with a client's cookie jar; the cookie unsigns to a
  43-character id and nothing else; Redis holds exactly the session's JSON, with a TTL of
  ``max_age`` (none without it); ``key_prefix`` and the URL's database name the key;
  concurrent clients keep their own sessions; a 500 saves nothing; a stored value that is
  not a session reads as an empty one;
- the cookie headers are those of the cookie sessions with the same options (only the
  value differs), ``Vary: Cookie`` included;
- clearing deletes the key and clears the cookie; an untouched session stores nothing; an
  expired or deleted session starts afresh under a new id; a tampered, forged or foreign
  cookie is an empty session (never a 500), and its id is never taken over;
- apps in every placement, and two worker processes of ``ignyx run``, share the sessions;
  apps with another key or prefix do not;
- Redis stopped, hung or not yet started costs a new empty session within the timeout, a
  warning on ``ignyx.sessions`` (without the URL's password; on the output of a served
  app) and no 500; sessions work again once it is back, late replies reach nobody, and a
  closed connection is made again (a command cut under a request is sent once more), and a
  session cleared while Redis hangs is still ended;
- a WebSocket reads the session an HTTP route wrote;
- ``examples/sessions_redis.py`` (log in, count visits, log out), in a test client and in
  two worker processes of ``ignyx run``; a login (clear, then the user) gets a new id, so
  a planted cookie does not log its planter in.

Placements: "native" (the engine runs the middleware), "python" (inside a Python
``@app.middleware("http")``: the middleware's ASGI form, on the engine's server) and
"uvicorn" (the app as an ASGI app under uvicorn, in a thread of this process).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from base64 import b64encode, urlsafe_b64decode
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Optional

import httpx
import itsdangerous
import pytest
import redis
import uvicorn
import websockets.sync.client
from conftest import (
    EXAMPLES,
    eventually,
    free_port,
    http_client,
    load_example,
    wait_for_port,
)
from ignyx import FastAPI, Request, WebSocket
from ignyx.middleware.sessions import SessionMiddleware
from ignyx.responses import StreamingResponse
from ignyx.testclient import TestClient

KEY = "correct horse battery staple"
PREFIX = "ignyx:session:"
DAY = 24 * 60 * 60
PLACEMENTS = ["native", "python", "uvicorn"]
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")
CLEARED = "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; samesite=lax"
TIMEOUT = 0.5  # the store's timeout in the fault tests
MARGIN = 3.0  # on top of it, for a loaded machine


# -- the app -----------------------------------------------------------------------------------


def _app(placement: str, secret_key: str = KEY, **options: Any) -> FastAPI:
    """A few session routes behind ``SessionMiddleware(secret_key, **options)``, placed as
    `placement` says (inside a Python middleware for "python")."""
    app = FastAPI()

    @app.get("/count")
    def count(request: Request):
        request.session["count"] = request.session.get("count", 0) + 1
        return {"count": request.session["count"]}

    @app.get("/read")
    def read(request: Request):
        return {"session": dict(request.session)}

    @app.get("/put")
    def put(request: Request, key: str, value: str):
        request.session[key] = value
        return {"session": dict(request.session)}

    @app.post("/store")
    def store(request: Request, data: dict):
        request.session.update(data)
        return {"session": dict(request.session)}

    @app.get("/pop/{key}")
    def pop(request: Request, key: str):
        return {"popped": request.session.pop(key, None)}

    @app.get("/clear")
    def clear(request: Request):
        request.session.clear()
        return {"cleared": True}

    @app.get("/plain")
    def plain():
        return {"plain": True}

    @app.get("/stream")
    def stream(request: Request):
        request.session["streamed"] = True
        return StreamingResponse(iter([b"one ", b"two"]), media_type="text/plain")

    @app.get("/boom")
    def boom(request: Request):
        request.session["boom"] = True
        raise RuntimeError("the handler failed")

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        session = dict(websocket.session)
        websocket.session["from_websocket"] = True  # no response to save it with
        await websocket.send_json({"session": session})
        await websocket.close()

    app.add_middleware(SessionMiddleware, secret_key=secret_key, **options)
    if placement == "python":

        @app.middleware("http")
        async def through_python(request: Request, call_next: Any) -> Any:
            response = await call_next(request)
            response.headers["x-through"] = "python"
            return response

    return app


# -- serving it --------------------------------------------------------------------------------


class Site:
    """An app being served: `client` (httpx, with its cookie jar) and a WebSocket client."""

    def __init__(self, client: httpx.Client, placement: str, port: Optional[int] = None) -> None:
        self.client = client
        self.placement = placement
        self.port = port

    def get(self, path: str, cookie: Optional[str] = None, name: str = "session") -> Any:
        """GET `path` with no cookie but the session cookie `cookie` (the jar left empty)."""
        self.client.cookies.clear()
        headers = {} if cookie is None else {"cookie": f"{name}={cookie}"}
        try:
            return self.client.get(path, headers=headers)
        finally:
            self.client.cookies.clear()

    def websocket_json(self, path: str, cookie: Optional[str] = None) -> Any:
        """The first JSON message of a WebSocket to `path` sent the session cookie `cookie`."""
        headers = {} if cookie is None else {"cookie": f"session={cookie}"}
        if self.placement == "uvicorn":
            url = f"ws://127.0.0.1:{self.port}{path}"
            with websockets.sync.client.connect(
                url, additional_headers=headers, open_timeout=10
            ) as websocket:
                return json.loads(websocket.recv(timeout=10))
        self.client.cookies.clear()
        with self.client.websocket_connect(path, headers=headers) as websocket:
            return websocket.receive_json()


@contextlib.contextmanager
def _uvicorn(app: Any) -> Iterator[int]:
    """Serves `app` with uvicorn on a port of 127.0.0.1, from a thread; yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, log_level="warning", ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert eventually(lambda: server.started or not thread.is_alive(), timeout=20)
        assert server.started, "uvicorn did not start"
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@contextlib.contextmanager
def _serve(app: Any, placement: str) -> Iterator[Site]:
    """`app` served where `placement` says: by the engine (TestClient), or by uvicorn."""
    if placement == "uvicorn":
        with _uvicorn(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            yield Site(client, placement, port)
    else:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Site(client, placement, client.port)


@contextlib.contextmanager
def _site(placement: str, **options: Any) -> Iterator[Site]:
    """The test app, with `options`, served in `placement`."""
    with _serve(_app(placement, **options), placement) as site:
        yield site


# -- cookies and Redis -----------------------------------------------------------------------


def _store(server: Any) -> redis.Redis:
    """A second client of the test's Redis, to look behind the app's back."""
    return redis.Redis(host=server.host, port=server.port, socket_timeout=5)


def _set_cookies(response: Any, name: str = "session") -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


def _cookie_value(response: Any, name: str = "session") -> str:
    """The value of the one session cookie `response` sets."""
    (header,) = _set_cookies(response, name)
    return header.split(";")[0].split("=", 1)[1]


def _unsign(value: str, key: str = KEY) -> str:
    """The id a cookie value carries, checked with itsdangerous and for its shape."""
    session_id = itsdangerous.TimestampSigner(key).unsign(value).decode("ascii")
    assert SESSION_ID.fullmatch(session_id), session_id
    return session_id


def _id(response: Any, name: str = "session") -> str:
    """The session id in the cookie `response` sets."""
    return _unsign(_cookie_value(response, name))


def _sign(payload: str, key: str = KEY, at: Optional[int] = None) -> str:
    """`payload` signed as the middleware signs its cookie (now, or at the time `at`)."""
    signer = itsdangerous.TimestampSigner(key)
    if at is not None:
        signer.get_timestamp = lambda: at  # type: ignore[method-assign]
    return signer.sign(payload).decode("ascii")


def _tampered(value: str) -> str:
    """`value` with its first character changed (the signature no longer matches)."""
    return ("B" if value[0] == "A" else "A") + value[1:]


def _new_id() -> str:
    return b64encode(os.urandom(32), b"-_").decode().rstrip("=")


def _plant(store: redis.Redis, session: dict, prefix: str = PREFIX) -> str:
    """Stores `session` as another app would have; returns its id."""
    session_id = _new_id()
    store.set(prefix + session_id, json.dumps(session))
    return session_id


def _stored(store: redis.Redis, session_id: str, prefix: str = PREFIX) -> Any:
    """The session Redis holds under `session_id`, as the raw JSON bytes, or None."""
    return store.get(prefix + session_id)


def _warnings(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ignyx.sessions"]


def _timed(call: Any, *args: Any) -> tuple[Any, float]:
    """`call(*args)` and the seconds it took."""
    started = time.monotonic()
    result = call(*args)
    return result, time.monotonic() - started


# -- where the middleware runs ---------------------------------------------------------------


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_each_placement_runs_the_middleware_where_it_says(
    redis_server: Any, placement: str, monkeypatch: Any
) -> None:
    fetches: list[Any] = []
    fetch = SessionMiddleware._fetch

    async def counted(self: Any, found: Any) -> Any:
        fetches.append(found)
        return await fetch(self, found)

    monkeypatch.setattr(SessionMiddleware, "_fetch", counted)
    with _site(placement, backend=redis_server.url) as site:
        response = site.client.get("/count")
        assert response.json() == {"count": 1}
        assert response.headers.get("x-through") == ("python" if placement == "python" else None)
        assert site.client.get("/count").json() == {"count": 2}
    # The engine reads the session itself; the ASGI form (Python) fetches it.
    assert (len(fetches) > 0) == (placement != "native")


# -- the round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_counter_counts_with_a_cookie_jar_and_redis_holds_its_json(
    redis_server: Any, placement: str
) -> None:
    store = _store(redis_server)
    with _site(placement, backend=redis_server.url) as site:
        answers = [site.client.get("/count") for _ in range(3)]
        assert [a.json() for a in answers] == [{"count": 1}, {"count": 2}, {"count": 3}]
        session_id = _unsign(site.client.cookies["session"])
        # The same id, signed again, at every write.
        assert {_id(a) for a in answers} == {session_id}
        assert _stored(store, session_id) == json.dumps({"count": 3}).encode()
        assert store.keys("*") == [(PREFIX + session_id).encode()]
        assert 14 * DAY - 60 < store.ttl(PREFIX + session_id) <= 14 * DAY


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_redis_holds_exactly_starlettes_json_and_the_cookie_only_the_id(
    redis_server: Any, placement: str
) -> None:
    store = _store(redis_server)
    data = {"name": "Zoë", "token": "s3cr3t-value", "nested": {"list": [1, 2.5, None, True]}}
    with _site(placement, backend=redis_server.url) as site:
        first = site.client.post("/store", json=data)
        second = site.client.get("/put?key=more&value=x")
        other = site.get("/put?key=name&value=Bob")  # another client
    assert first.json() == {"session": data}
    session = {**data, "more": "x"}
    assert second.json() == {"session": session}
    session_id = _id(first)
    assert _id(second) == session_id
    assert _stored(store, session_id) == json.dumps(session).encode()
    assert json.loads(_stored(store, session_id)) == session
    # The cookie: the id (32 random bytes, URL-safe base64), signed; none of the data.
    value = _cookie_value(second)
    # Strings long enough never to turn up in 43 random characters by chance.
    assert "s3cr3t-value" not in value
    assert b64encode(json.dumps(session).encode()).decode()[:16] not in value
    assert b64encode(b'"s3cr3t-value"').decode()[:12] not in value
    assert len(urlsafe_b64decode(session_id + "=")) == 32
    assert _id(other) != session_id
    assert _stored(store, _id(other)) == json.dumps({"name": "Bob"}).encode()


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_key_prefix_names_the_redis_key(redis_server: Any, placement: str) -> None:
    store = _store(redis_server)
    with _site(placement, backend=redis_server.url, key_prefix="shop:sess:") as site:
        response = site.client.get("/count")
        assert site.client.get("/count").json() == {"count": 2}
    session_id = _id(response)
    assert store.keys("*") == [f"shop:sess:{session_id}".encode()]
    assert _stored(store, session_id, "shop:sess:") == b'{"count": 2}'


@pytest.mark.parametrize(
    "max_age, ttl, attribute",
    [(3600, (3600 - 60, 3600), "Max-Age=3600"), (None, (-1, -1), None)],
    ids=["max_age=3600", "max_age=None"],
)
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_max_age_is_the_ttl_in_redis_and_none_stores_without_expiry(
    redis_server: Any, placement: str, max_age: Optional[int], ttl: tuple, attribute: Any
) -> None:
    store = _store(redis_server)
    with _site(placement, backend=redis_server.url, max_age=max_age) as site:
        response = site.client.get("/count")
        assert site.client.get("/count").json() == {"count": 2}
    low, high = ttl
    assert low <= store.ttl(PREFIX + _id(response)) <= high
    attributes = _set_cookies(response)[0].split("; ")[1:]
    assert [a for a in attributes if a.startswith("Max-Age")] == ([attribute] if attribute else [])


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_streamed_response_saves_the_session_before_it_is_sent(
    redis_server: Any, placement: str
) -> None:
    store = _store(redis_server)
    with _site(placement, backend=redis_server.url) as site:
        with site.client.stream("GET", "/stream") as response:
            # Saved before the headers went out: the key is there before the body is read.
            assert _stored(store, _id(response)) == b'{"streamed": true}'
            assert response.read() == b"one two"
        assert site.client.get("/read").json() == {"session": {"streamed": True}}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_an_unhandled_error_saves_nothing(redis_server: Any, placement: str) -> None:
    store = _store(redis_server)
    with _site(placement, backend=redis_server.url) as site:
        response = site.client.get("/boom")
        assert (response.status_code, response.text) == (500, "Internal Server Error")
        assert site.client.get("/read").json() == {"session": {}}
    assert store.dbsize() == 0
    assert _set_cookies(response) == []


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_concurrent_clients_each_keep_their_own_count(redis_server: Any, placement: str) -> None:
    clients, rounds = 6, 8

    def visit(me: int) -> tuple[list[int], Any]:
        with httpx.Client(base_url=f"http://127.0.0.1:{site.port}", timeout=10) as client:
            client.get(f"/put?key=me&value={me}")
            counts = [client.get("/count").json()["count"] for _ in range(rounds)]
            return counts, client.get("/read").json()

    with _site(placement, backend=redis_server.url) as site:
        with ThreadPoolExecutor(clients) as pool:
            seen = list(pool.map(visit, range(clients)))
    for me, (counts, read) in enumerate(seen):
        assert counts == list(range(1, rounds + 1)), me
        assert read == {"session": {"me": str(me), "count": rounds}}, me
    assert _store(redis_server).dbsize() == clients


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_the_database_the_url_names_holds_the_sessions(redis_server: Any, placement: str) -> None:
    url = redis_server.url.rsplit("/", 1)[0] + "/5"
    with _site(placement, backend=url) as site:
        response = site.client.get("/count")
        assert site.client.get("/count").json() == {"count": 2}
    database = redis.Redis(host=redis_server.host, port=redis_server.port, db=5)
    assert database.get(PREFIX + _id(response)) == b'{"count": 2}'
    assert _store(redis_server).dbsize() == 0  # database 0


def test_a_python_middleware_inside_the_native_layer_shares_the_stored_session(
    redis_server: Any,
) -> None:
    app = FastAPI()

    @app.middleware("http")
    async def seen(request: Request, call_next: Any) -> Any:
        request.session["seen"] = request.session.get("seen", 0) + 1
        response = await call_next(request)
        response.headers["x-count"] = str(request.session.get("count"))
        return response

    @app.get("/count")
    def count(request: Request):
        request.session["count"] = request.session.get("count", 0) + 1
        return {"count": request.session["count"]}

    app.add_middleware(SessionMiddleware, secret_key=KEY, backend=redis_server.url)  # outside
    with TestClient(app) as client:
        answers = [client.get("/count") for _ in range(2)]
    assert [(a.json(), a.headers["x-count"]) for a in answers] == [
        ({"count": 1}, "1"),
        ({"count": 2}, "2"),
    ]
    stored = _stored(_store(redis_server), _id(answers[1]))
    assert stored == json.dumps({"seen": 2, "count": 2}).encode()


# -- the same cookie headers as the cookie sessions ------------------------------------------

COOKIE_OPTIONS = [
    pytest.param({}, id="defaults"),
    pytest.param({"max_age": None}, id="max_age=None"),
    pytest.param(
        {
            "session_cookie": "sid",
            "max_age": 60,
            "path": "/app",
            "same_site": "strict",
            "https_only": True,
            "domain": "example.com",
            "partitioned": True,
        },
        id="every-option",
    ),
]


def _cookie_shape(response: Any, name: str) -> list[tuple[str, list[str]]]:
    """The response's session cookies without their values: name and attributes."""
    shapes = []
    for header in _set_cookies(response, name):
        pair, *attributes = header.split("; ")
        shapes.append((pair.split("=", 1)[0], attributes))
    return shapes


@pytest.mark.parametrize("options", COOKIE_OPTIONS)
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_cookie_headers_are_those_of_the_cookie_sessions(
    redis_server: Any, placement: str, options: dict
) -> None:
    name = options.get("session_cookie", "session")
    with (
        _site(placement, **options) as in_cookie,
        _site(placement, backend=redis_server.url, **options) as in_redis,
    ):
        seen = {}
        for kind, site in (("cookie", in_cookie), ("redis", in_redis)):
            written = site.get("/put?key=user&value=ada")
            cookie = _cookie_value(written, name)
            read = site.get("/read", cookie, name)
            assert read.json() == {"session": {"user": "ada"}}, kind
            cleared = site.get("/clear", cookie, name)
            plain = site.get("/plain", cookie, name)
            seen[kind] = [
                (_cookie_shape(written, name), written.headers.get("vary")),
                (_set_cookies(read, name), read.headers.get("vary")),
                (_set_cookies(cleared, name), cleared.headers.get("vary")),
                (_set_cookies(plain, name), plain.headers.get("vary")),
            ]
    assert seen["redis"] == seen["cookie"]
    written, read, cleared, plain = seen["redis"]
    assert written[1] == read[1] == cleared[1] == "Cookie"
    assert written[0][0][0] == name and read[0] == [] and len(cleared[0]) == 1
    assert (
        cleared[0][0].startswith(f"{name}=null; ") and "expires=Thu, 01 Jan 1970" in cleared[0][0]
    )
    assert plain == ([], None)


# -- clearing, expiry, and cookies that are not ours -----------------------------------------


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_clearing_the_session_deletes_the_key_and_clears_the_cookie(
    redis_server: Any, placement: str
) -> None:
    store = _store(redis_server)
    with _site(placement, backend=redis_server.url) as site:
        site.client.get("/count")
        session_id = _unsign(site.client.cookies["session"])
        old_cookie = site.client.cookies["session"]
        assert store.exists(PREFIX + session_id)
        cleared = site.client.get("/clear")
        assert cleared.json() == {"cleared": True}
        assert _set_cookies(cleared) == [CLEARED]
        assert store.dbsize() == 0
        assert "session" not in site.client.cookies
        # The old cookie, kept by someone, gives nothing back.
        assert site.get("/read", old_cookie).json() == {"session": {}}
        assert store.dbsize() == 0


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_session_never_written_creates_no_key(redis_server: Any, placement: str) -> None:
    store = _store(redis_server)
    with _site(placement, backend=redis_server.url) as site:
        for path in ("/plain", "/read", "/pop/missing", "/clear"):
            response = site.client.get(path)
            assert response.status_code == 200, path
            assert _set_cookies(response) == [], path
    assert store.dbsize() == 0


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_deleted_session_starts_afresh_under_a_new_id(redis_server: Any, placement: str) -> None:
    store = _store(redis_server)
    with _site(placement, backend=redis_server.url) as site:
        site.client.get("/count")
        assert site.client.get("/count").json() == {"count": 2}
        stale = _unsign(site.client.cookies["session"])
        store.delete(PREFIX + stale)  # expired, or removed by an admin
        assert site.client.get("/read").json() == {"session": {}}
        response = site.client.get("/count")
        assert response.json() == {"count": 1}
        fresh = _id(response)
        assert fresh != stale
        assert store.keys("*") == [(PREFIX + fresh).encode()]
        assert site.client.get("/count").json() == {"count": 2}


def test_a_session_past_max_age_is_gone_and_starts_afresh(redis_server: Any) -> None:
    store = _store(redis_server)
    with contextlib.ExitStack() as stack:
        sites = [
            stack.enter_context(_site(placement, backend=redis_server.url, max_age=1))
            for placement in PLACEMENTS
        ]
        stale = {}
        for site in sites:
            response = site.get("/count")
            assert response.json() == {"count": 1}
            stale[site.placement] = _cookie_value(response)
            assert store.pttl(PREFIX + _id(response)) <= 1000  # -2 once expired
        time.sleep(2.2)  # one wait for all: Redis expired the keys, the signatures are too old
        assert store.dbsize() == 0
        for site in sites:
            # Sent by a client that kept it anyway (a browser drops it after Max-Age).
            response = site.get("/count", stale[site.placement])
            assert response.json() == {"count": 1}, site.placement
            assert _id(response) != _unsign(stale[site.placement]), site.placement


# The cookies a request may bring that carry no session of ours: each names how to make it
# from the id of a session Redis holds ({"user": "ada"}).
FOREIGN_COOKIES = {
    "signed with another key": lambda held: _sign(held, key="another key"),
    "tampered id": lambda held: _tampered(_sign(held)),
    "signature too old": lambda held: _sign(held, at=int(time.time()) - 15 * DAY),
    "signed in the future": lambda held: _sign(held, at=int(time.time()) + DAY),
    "not an id": lambda held: _sign("not-an-id"),
    "an id too long": lambda held: _sign(held + "A"),
    "a cookie session": lambda held: _sign(b64encode(b'{"user": "ada"}').decode()),
    "unsigned id": lambda held: held,
    "garbage": lambda held: "garbage",
    "empty": lambda held: "",
    "an id absent from Redis": lambda held: _sign(_new_id()),
}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_cookie_that_is_not_ours_is_an_empty_session(redis_server: Any, placement: str) -> None:
    store = _store(redis_server)
    held = _plant(store, {"user": "ada"})
    with _site(placement, backend=redis_server.url) as site:
        # The control: the session, properly signed, reads.
        assert site.get("/read", _sign(held)).json() == {"session": {"user": "ada"}}
        for case, make in FOREIGN_COOKIES.items():
            cookie = make(held)
            read = site.get("/read", cookie)
            assert (read.status_code, read.json()) == (200, {"session": {}}), case
            written = site.get("/count", cookie)
            assert (written.status_code, written.json()) == (200, {"count": 1}), case
            # Written, it gets an id of its own: never the one the cookie named.
            fresh = _id(written)
            assert fresh != held and fresh not in cookie, case
            assert _stored(store, fresh) == b'{"count": 1}', case
            assert store.delete(PREFIX + fresh) == 1, case
    assert _stored(store, held) == b'{"user": "ada"}'
    assert store.dbsize() == 1


# What another program may have left under a session's key, and how.
NOT_SESSIONS = {
    "not JSON": lambda store, key: store.set(key, b"not json"),
    "a JSON list": lambda store, key: store.set(key, b"[1, 2]"),
    "a JSON string": lambda store, key: store.set(key, b'"ada"'),
    "invalid UTF-8": lambda store, key: store.set(key, b"\xff\xfe{"),
    "a hash (GET refused)": lambda store, key: store.hset(key, "user", "ada"),
}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_stored_value_that_is_not_a_session_reads_as_an_empty_one(
    redis_server: Any, placement: str
) -> None:
    store = _store(redis_server)
    with _site(placement, backend=redis_server.url) as site:
        for case, leave in NOT_SESSIONS.items():
            cookie = _sign(_new_id())
            leave(store, PREFIX + _unsign(cookie))
            read = site.get("/read", cookie)
            assert (read.status_code, read.json()) == (200, {"session": {}}), case
            written = site.get("/count", cookie)
            assert (written.status_code, written.json()) == (200, {"count": 1}), case
            again = site.get("/count", _cookie_value(written))
            assert again.json() == {"count": 2}, case


# -- shared between apps and processes --------------------------------------------------------


def test_apps_in_every_placement_share_one_redis(redis_server: Any) -> None:
    store = _store(redis_server)
    with contextlib.ExitStack() as stack:
        sites = [
            stack.enter_context(_site(placement, backend=redis_server.url))
            for placement in [*PLACEMENTS, "native"]  # two native apps among them
        ]
        first = sites[0].get("/count")
        cookie = _cookie_value(first)
        counts = [first.json()["count"]]
        for site in sites[1:]:  # each written by the one before, the same cookie
            counts.append(site.get("/count", cookie).json()["count"])
        assert counts == [1, 2, 3, 4]
        for site in sites:
            assert site.get("/read", cookie).json() == {"session": {"count": 4}}, site.placement
    assert _stored(store, _unsign(cookie)) == b'{"count": 4}'


def test_apps_with_another_key_or_prefix_do_not_share(redis_server: Any) -> None:
    url = redis_server.url
    with (
        _site("native", backend=url) as ours,
        _site("native", backend=url, secret_key="another key") as other_key,
        _site("python", backend=url, key_prefix="other:") as other_prefix,
    ):
        cookie = _cookie_value(ours.get("/put?key=user&value=ada"))
        assert ours.get("/read", cookie).json() == {"session": {"user": "ada"}}
        assert other_key.get("/read", cookie).json() == {"session": {}}
        assert other_prefix.get("/read", cookie).json() == {"session": {}}


@contextlib.contextmanager
def _ignyx_run(directory: Path, target: str, env: dict[str, str], *args: str) -> Iterator[int]:
    """``ignyx run target *args`` on a free port of 127.0.0.1, its module found in
    `directory` (its output in `directory`/output.log); yields the port once it accepts,
    and stops it (SIGTERM) afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "ignyx", "run", target, "--host", "127.0.0.1"]
    with open(directory / "output.log", "wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port), *args],
            cwd=directory,
            env={**os.environ, "PYTHONPATH": str(directory), **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _example_env(redis_server: Any) -> dict[str, str]:
    return {"SESSION_REDIS_URL": redis_server.url, "SESSION_SECRET": KEY}


def test_two_worker_processes_share_the_session(redis_server: Any, tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "sessions_redis.py", tmp_path)
    env = _example_env(redis_server)
    with _ignyx_run(tmp_path, "sessions_redis:app", env, "--workers", "2") as port:
        cookie: Optional[str] = None
        answers = []
        deadline = time.monotonic() + 20
        while len({a["served_by"] for a in answers}) < 2 or len(answers) < 6:
            assert time.monotonic() < deadline, f"one worker answered: {answers}"
            # A new connection each time: the kernel spreads them over the workers.
            headers = {} if cookie is None else {"cookie": f"session={cookie}"}
            with httpx.Client(timeout=10) as client:
                response = client.get(f"http://127.0.0.1:{port}/visits", headers=headers)
            assert response.status_code == 200
            cookie = cookie or _cookie_value(response)
            answers.append(response.json())
    assert [a["visits"] for a in answers] == list(range(1, len(answers) + 1))
    store = _store(redis_server)
    assert json.loads(_stored(store, _unsign(cookie))) == {"visits": len(answers)}


def test_a_served_app_logs_a_redis_failure_and_answers(redis_server: Any, tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "sessions_redis.py", tmp_path)
    env = _example_env(redis_server)
    log = tmp_path / "output.log"
    with _ignyx_run(tmp_path, "sessions_redis:app", env) as port, http_client(port) as client:
        assert client.get("/visits").json()["visits"] == 1
        redis_server.stop()
        response = client.get("/visits")  # a new session, which cannot be saved
        assert (response.status_code, response.json()["visits"]) == (200, 1)
        assert eventually(lambda: "session store failed" in log.read_text(), timeout=10)
        redis_server.start()  # empty: the visits count from 1 again, and go on
        assert eventually(lambda: client.get("/visits").json()["visits"] == 2, timeout=10)


# -- Redis down or hung ------------------------------------------------------------------------


def _counts_again(site: Site, redis_server: Any) -> bool:
    """Whether a new session is counted and stored again (once Redis is back)."""
    response = site.get("/count")
    stored = response.status_code == 200 and _set_cookies(response)
    return bool(stored) and _stored(_store(redis_server), _id(response)) == b'{"count": 1}'


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_with_redis_stopped_requests_answer_with_a_new_session_and_a_warning(
    redis_server: Any, placement: str, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING, logger="ignyx.sessions")
    with _site(placement, backend=redis_server.url, timeout=TIMEOUT) as site:
        assert site.client.get("/count").json() == {"count": 1}
        cookie = site.client.cookies["session"]
        assert _warnings(caplog) == []
        redis_server.stop()
        for path, body in [("/count", {"count": 1}), ("/read", {"session": {}})]:
            response, elapsed = _timed(site.get, path, cookie)
            assert (response.status_code, response.json()) == (200, body), path
            # A read and a write, each given up after the timeout at most.
            assert elapsed < 2 * TIMEOUT + MARGIN, path
        assert site.websocket_json("/ws", cookie) == {"session": {}}
        warnings = _warnings(caplog)
        assert any("failed (a new session is used)" in m for m in warnings), warnings
        assert any("failed (the session was not saved)" in m for m in warnings), warnings
        redis_server.start()  # the same port, empty
        assert eventually(lambda: _counts_again(site, redis_server), timeout=10)
        site.client.cookies.clear()
        answers = [site.client.get("/count").json()["count"] for _ in range(2)]
        assert answers == [1, 2]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_an_app_started_before_redis_serves_sessions_once_it_is_up(
    redis_server: Any, placement: str, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING, logger="ignyx.sessions")
    redis_server.stop()
    with _site(placement, backend=redis_server.url, timeout=TIMEOUT) as site:
        response, elapsed = _timed(site.get, "/count")
        assert (response.status_code, response.json()) == (200, {"count": 1})
        assert elapsed < 2 * TIMEOUT + MARGIN
        assert _warnings(caplog)
        redis_server.start()
        assert eventually(lambda: _counts_again(site, redis_server), timeout=10)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_warning_does_not_show_the_redis_password(placement: str, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="ignyx.sessions")
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"  # nothing listens there
    with _site(placement, backend=url, timeout=TIMEOUT) as site:
        assert site.get("/count").json() == {"count": 1}
    warnings = _warnings(caplog)
    assert warnings and all("hunter2" not in m for m in warnings), warnings
    assert any("redis://:***@127.0.0.1" in m for m in warnings), warnings


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_hung_redis_costs_the_timeout_and_serves_the_right_sessions_after(
    redis_server: Any, placement: str, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING, logger="ignyx.sessions")
    store = _store(redis_server)
    ada, grace = _sign(_plant(store, {"user": "ada"})), _sign(_plant(store, {"user": "grace"}))
    with _site(placement, backend=redis_server.url, timeout=TIMEOUT) as site:
        assert site.get("/read", ada).json() == {"session": {"user": "ada"}}
        os.kill(redis_server.process.pid, signal.SIGSTOP)  # accepts, never answers
        try:
            read, elapsed = _timed(site.get, "/read", ada)
            assert (read.status_code, read.json()) == (200, {"session": {}})
            assert elapsed < TIMEOUT + MARGIN
            assert _set_cookies(read) == []  # a read keeps the cookie
            written, elapsed = _timed(site.get, "/count", ada)  # a read, then a write
            assert (written.status_code, written.json()) == (200, {"count": 1})
            assert elapsed < 2 * TIMEOUT + MARGIN
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
        timed_out = [m for m in _warnings(caplog) if re.search("did not answer|timed out", m)]
        assert timed_out, _warnings(caplog)
        # The replies Redis sends late must reach nobody: each cookie gets its own session.
        assert eventually(lambda: site.get("/read", grace).json()["session"], timeout=10)
        for _ in range(3):
            assert site.get("/read", grace).json() == {"session": {"user": "grace"}}
            assert site.get("/read", ada).json() == {"session": {"user": "ada"}}
    assert _stored(store, _unsign(ada)) == b'{"user": "ada"}'


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_clearing_the_session_while_redis_hangs_still_ends_it(
    redis_server: Any, placement: str
) -> None:
    with _site(placement, backend=redis_server.url, timeout=TIMEOUT) as site:
        assert site.client.get("/put?key=user&value=ada").status_code == 200
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            cleared = site.client.get("/clear")  # a logout
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
        assert cleared.json() == {"cleared": True}
        assert site.client.get("/read").json() == {"session": {}}
        assert _set_cookies(cleared) == [CLEARED]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_an_idle_connection_redis_closed_is_made_again_without_losing_a_session(
    redis_server: Any, placement: str
) -> None:
    store = _store(redis_server)
    ada = _sign(_plant(store, {"user": "ada"}))
    with _site(placement, backend=redis_server.url, timeout=TIMEOUT) as site:
        for _ in range(2):
            assert site.get("/read", ada).json() == {"session": {"user": "ada"}}
            # What Redis does to idle clients (its `timeout`), or a failover: closed...
            killed = store.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            assert killed >= 1
            time.sleep(0.2)  # ...while idle: the next request comes later
        assert site.get("/read", ada).json() == {"session": {"user": "ada"}}


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 to the Redis at `port`, that cuts a connection on demand:
    after `cut_next()`, the connection that sends the next command is closed instead."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = threading.Event()
        self.cuts = 0
        self.sockets: list[socket.socket] = []
        self.apps: set[socket.socket] = set()  # the app's ends
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cut_next(self) -> None:
        self.armed.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            self.apps.add(client)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if source in self.apps and self.armed.is_set():
                    self.armed.clear()
                    self.cuts += 1
                    break
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        for end in self.sockets:
            end.close()


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_connection_cut_under_a_request_does_not_lose_its_session(
    redis_server: Any, placement: str
) -> None:
    ada = _sign(_plant(_store(redis_server), {"user": "ada"}))
    proxy = CuttingProxy(redis_server.port)
    try:
        with _site(placement, backend=proxy.url, timeout=TIMEOUT) as site:
            assert site.get("/read", ada).json() == {"session": {"user": "ada"}}
            proxy.cut_next()
            response = site.get("/read", ada)
            assert proxy.cuts == 1
            assert response.json() == {"session": {"user": "ada"}}
    finally:
        proxy.close()


@pytest.mark.parametrize(
    "backend, message",
    [
        ("memcached://127.0.0.1:11211", "unknown session backend"),
        ("redis://127.0.0.1:not-a-port/0", "invalid Redis URL"),
        ("redis://127.0.0.1:6379/not-a-database", "invalid Redis URL"),
    ],
)
def test_a_backend_that_is_not_a_redis_url_is_refused(backend: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SessionMiddleware(None, secret_key=KEY, backend=backend)


# -- WebSocket ---------------------------------------------------------------------------------


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_websocket_reads_the_session_an_http_route_wrote(
    redis_server: Any, placement: str
) -> None:
    store = _store(redis_server)
    with _site(placement, backend=redis_server.url) as site:
        assert site.websocket_json("/ws") == {"session": {}}
        site.client.get("/count")
        assert site.client.get("/count").json() == {"count": 2}
        cookie = site.client.cookies["session"]
        assert site.websocket_json("/ws", cookie) == {"session": {"count": 2}}
        # What the WebSocket put in its session went nowhere: it has no response.
        assert _stored(store, _unsign(cookie)) == b'{"count": 2}'
        assert site.get("/read", cookie).json() == {"session": {"count": 2}}
        assert site.websocket_json("/ws", _tampered(cookie)) == {"session": {}}
        assert site.websocket_json("/ws", _sign(_new_id())) == {"session": {}}
    assert store.dbsize() == 1


# -- the example -------------------------------------------------------------------------------


@pytest.fixture
def example(redis_server: Any, monkeypatch: Any) -> ModuleType:
    """``examples/sessions_redis.py`` on the test's Redis."""
    for name, value in _example_env(redis_server).items():
        monkeypatch.setenv(name, value)
    return load_example("sessions_redis.py", "ignyx")


def _login(client: Any, username: str, password: str) -> Any:
    return client.post("/login", json={"username": username, "password": password})


def test_the_example_logs_in_counts_visits_and_logs_out(
    example: ModuleType, redis_server: Any
) -> None:
    store = _store(redis_server)
    with TestClient(example.app) as client:
        assert client.get("/me").status_code == 401
        assert [client.get("/visits").json()["visits"] for _ in range(2)] == [1, 2]
        assert client.get("/visits").json()["served_by"] == os.getpid()
        assert _login(client, "ada", "wrong").status_code == 401
        assert client.get("/visits").json()["visits"] == 4  # a failed login changes nothing
        assert _login(client, "ada", "analytical engine").json() == {"user": "ada"}
        assert client.get("/visits").json() == {
            "visits": 1,
            "user": "ada",
            "served_by": os.getpid(),
        }
        assert client.get("/me").json() == {"user": "ada", "visits": 1}
        session_id = _unsign(client.cookies["session"])
        assert json.loads(_stored(store, session_id)) == {"user": "ada", "visits": 1}
        logout = client.post("/logout")
        assert logout.json() == {"user": None}
        assert _set_cookies(logout) == [CLEARED]
        assert store.dbsize() == 0
        assert client.get("/me").status_code == 401


def test_the_example_keeps_users_apart(example: ModuleType) -> None:
    with TestClient(example.app) as ada, TestClient(example.app) as grace:
        _login(ada, "ada", "analytical engine")
        _login(grace, "grace", "compiler")
        assert ada.get("/me").json()["user"] == "ada"
        assert grace.get("/me").json()["user"] == "grace"
        ada.post("/logout")
        assert ada.get("/me").status_code == 401
        assert grace.get("/me").json()["user"] == "grace"


def test_logging_in_under_a_planted_cookie_does_not_log_the_planter_in(
    example: ModuleType,
) -> None:
    with TestClient(example.app) as attacker, TestClient(example.app) as victim:
        attacker.get("/visits")  # a session of the attacker's, stored
        planted = attacker.cookies["session"]
        victim.cookies.set("session", planted)  # e.g. through a sibling subdomain
        assert _login(victim, "ada", "analytical engine").json() == {"user": "ada"}
        assert victim.get("/me").json()["user"] == "ada"
        assert attacker.get("/me").status_code == 401
