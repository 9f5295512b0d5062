"""SessionMiddleware as Starlette's: ``request.session`` kept in a cookie signed as
itsdangerous' ``TimestampSigner`` signs it.

Each app is built with FastAPI's imports (Starlette's SessionMiddleware) and with Ignyx's,
with the same secret key, and the same requests must get the same status, body, ``Vary``
and cookies. A signature holds the second it was made, so cookies are compared decoded:
the same name and attributes, and the same payload once unsigned with itsdangerous.

The middleware is checked where the engine runs it (alone, or outside a Python middleware),
where it runs in Python (between two Python middleware) and under an ASGI server; cookies
from either framework, or signed by hand with itsdangerous, read in the other.
"""

import asyncio
import contextlib
import importlib
import json
import shutil
import subprocess
import time
from base64 import b64decode, b64encode
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Optional

import httpx
import itsdangerous
import pytest
from conftest import FRAMEWORKS, compared_headers, differential, framework, live_server

KEY = "correct horse battery staple"
DAY = 24 * 60 * 60

PLACEMENTS = ["native", "over-python", "between", "asgi"]


# -- apps ------------------------------------------------------------------------------------


def _middleware(fw: SimpleNamespace, name: str) -> Any:
    """Framework `fw`'s middleware class `name`: Starlette's for FastAPI, Ignyx's own."""
    package = "starlette" if fw.name == "fastapi" else "ignyx"
    modules = {
        "SessionMiddleware": "sessions",
        "GZipMiddleware": "gzip",
        "CORSMiddleware": "cors",
    }
    module = importlib.import_module(f"{package}.middleware.{modules[name]}")
    return getattr(module, name)


def _sessions(**options: Any) -> Callable[[SimpleNamespace, Any], None]:
    """Installs SessionMiddleware with `options` (and the test key)."""

    def install(fw: SimpleNamespace, app: Any) -> None:
        app.add_middleware(_middleware(fw, "SessionMiddleware"), **{"secret_key": KEY, **options})

    return install


def _routes(fw: SimpleNamespace, app: Any, prefix: str = "") -> None:
    @app.get(prefix + "/count")
    def count(request: fw.Request):
        request.session["count"] = request.session.get("count", 0) + 1
        return {"count": request.session["count"]}

    @app.get(prefix + "/read")
    def read(request: fw.Request):
        return {"session": dict(request.session)}

    @app.get(prefix + "/put")
    def put(request: fw.Request, key: str, value: str):
        request.session[key] = value
        return {"session": dict(request.session)}

    @app.post(prefix + "/store")
    def store(request: fw.Request, data: dict = fw.Body()):
        request.session.update(data)
        return {"session": dict(request.session)}

    @app.get(prefix + "/pop/{key}")
    def pop(request: fw.Request, key: str):
        return {"popped": request.session.pop(key, None)}

    @app.get(prefix + "/clear")
    def clear(request: fw.Request):
        request.session.clear()
        return {"cleared": True}

    @app.get(prefix + "/untouched")
    def untouched(request: fw.Request):
        return {"untouched": request.url.path}

    @app.get(prefix + "/plain")
    def plain():
        return {"plain": True}

    @app.get(prefix + "/op/{name}")
    def operate(request: fw.Request, name: str):
        result = OPERATIONS[name](request.session)
        return {"result": result, "session": dict(request.session)}

    @app.get(prefix + "/with-cookie")
    def with_cookie(request: fw.Request, response: fw.Response):
        response.set_cookie("theme", "dark")
        request.session["count"] = request.session.get("count", 0) + 1
        return {"count": request.session["count"]}

    @app.get(prefix + "/varies")
    def varies(request: fw.Request):
        body = json.dumps({"session": dict(request.session)})
        return fw.Response(body, media_type="application/json", headers={"vary": "Origin"})

    @app.get(prefix + "/refuse")
    def refuse(request: fw.Request):
        request.session["refused"] = True
        raise fw.HTTPException(status_code=403, detail="no")

    @app.get(prefix + "/boom")
    def boom(request: fw.Request):
        request.session["boom"] = True
        raise RuntimeError("the handler failed")

    @app.get(prefix + "/unserializable")
    def unserializable(request: fw.Request):
        request.session["when"] = {1, 2}  # a set: not JSON
        return {"stored": False}

    @app.get(prefix + "/stream")
    def stream(request: fw.Request):
        request.session["streamed"] = True
        return fw.responses.StreamingResponse(iter([b"one ", b"two"]), media_type="text/plain")

    def visit(request: fw.Request) -> int:
        request.session["visits"] = request.session.get("visits", 0) + 1
        return request.session["visits"]

    @app.get(prefix + "/dependency")
    def dependency(visits: int = fw.Depends(visit)):
        return {"visits": visits}

    @app.get(prefix + "/big")
    def big(request: fw.Request):
        request.session["count"] = request.session.get("count", 0) + 1
        return {"count": request.session["count"], "words": ["compressible"] * 100}

    @app.websocket(prefix + "/ws")
    async def ws(websocket: fw.WebSocket):
        await websocket.accept()
        session = dict(websocket.session)
        websocket.session["from_websocket"] = True  # not sent anywhere: no response
        await websocket.send_json({"session": session})
        await websocket.close()


def _dict_ior(session: dict) -> Any:
    session |= {"more": 2}


OPERATIONS: dict[str, Callable[[dict], Any]] = {
    "get": lambda s: s.get("count"),
    "contains": lambda s: "count" in s,
    "keys": lambda s: sorted(s),
    "setdefault-new": lambda s: s.setdefault("new", 1),
    "setdefault-existing": lambda s: s.setdefault("count", 99),
    "update": lambda s: s.update(extra="x"),
    "update-nothing": lambda s: s.update(),
    "delete": lambda s: s.__delitem__("count"),
    "popitem": lambda s: list(s.popitem()),
    "pop-existing": lambda s: s.pop("count"),
    "pop-missing": lambda s: s.pop("missing", "default"),
    "ior": _dict_ior,
    "mutate-nested": lambda s: s["items"].append(4),  # unseen by the session: not stored
    "clear": lambda s: s.clear(),
}


class _PassThrough:
    """A pure ASGI middleware that changes nothing (a Python middleware to the engine)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _app(
    fw: SimpleNamespace,
    placement: str,
    install: Callable[[SimpleNamespace, Any], None],
    prefix: str = "",
) -> Any:
    """The routes with the middleware `install` adds: alone (the engine runs it), outside a
    Python middleware (still the engine), between two Python middleware (Python), or alone
    under an ASGI server ("asgi": Python)."""
    app = fw.FastAPI()
    _routes(fw, app, prefix)
    if placement in ("over-python", "between"):
        app.add_middleware(_PassThrough)
    install(fw, app)
    if placement == "between":
        app.add_middleware(_PassThrough)
    return app


class _AsgiClient:
    """An httpx client (with its cookie jar) to `app` run as an ASGI app, on one loop."""

    def __init__(self, app: Any, base_url: str) -> None:
        self._loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(transport=transport, base_url=base_url)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


class _Clients:
    """One client per framework, each with its own cookie jar."""

    def __init__(self, fastapi: Any, ignyx: Any) -> None:
        self.fastapi = fastapi
        self.ignyx = ignyx

    def request(self, method: str, url: str, **kwargs: Any) -> tuple[Any, Any]:
        """Sends the same request from both; returns ``(fastapi_response, ignyx_response)``."""
        return (
            self.fastapi.request(method, url, **kwargs),
            self.ignyx.request(method, url, **kwargs),
        )

    def get(self, url: str, **kwargs: Any) -> tuple[Any, Any]:
        return self.request("GET", url, **kwargs)


@contextlib.contextmanager
def _serve(
    install: Callable[[SimpleNamespace, Any], None],
    placement: str = "native",
    base_url: str = "http://testserver",
    prefix: str = "",
) -> Iterator[_Clients]:
    """The app `install` completes, served by FastAPI's TestClient and by Ignyx's (or, for
    the "asgi" placement, by httpx's ASGI transport)."""
    fastapi_fw, ignyx_fw = framework("fastapi"), framework("ignyx")
    fastapi_app = _app(fastapi_fw, placement, install, prefix)
    ignyx_app = _app(ignyx_fw, placement, install, prefix)
    theirs = fastapi_fw.TestClient(fastapi_app, base_url=base_url, raise_server_exceptions=False)
    if placement == "asgi":
        ours: Any = _AsgiClient(ignyx_app, base_url)
    else:
        ours = ignyx_fw.TestClient(ignyx_app, base_url=base_url, raise_server_exceptions=False)
    try:
        yield _Clients(theirs, ours)
    finally:
        theirs.close()
        ours.close()


# -- cookies ---------------------------------------------------------------------------------


class _SignedAt(itsdangerous.TimestampSigner):
    """itsdangerous' signer, with the clock stopped at `at` (seconds since the epoch)."""

    def __init__(self, key: str, at: int) -> None:
        super().__init__(key)
        self._at = at

    def get_timestamp(self) -> int:
        return self._at


def _sign(payload: bytes, key: str = KEY, at: Optional[int] = None) -> str:
    """`payload` signed as Starlette signs a session (now, or at time `at`)."""
    signer = itsdangerous.TimestampSigner(key) if at is None else _SignedAt(key, at)
    return signer.sign(payload).decode()


def _signed(data: Any, key: str = KEY, at: Optional[int] = None) -> str:
    """The cookie value Starlette's middleware writes for the session `data`."""
    return _sign(b64encode(json.dumps(data).encode()), key, at)


# A session Starlette's middleware would have written a moment ago.
VALID = _signed({"user": "ada"})


def _reads_a_valid_cookie(clients: _Clients) -> None:
    """The control beside a refused cookie: a good one reads, in both."""
    theirs, ours = clients.get("/read", headers={"cookie": f"session={VALID}"})
    _same(theirs, ours)
    assert ours.json() == {"session": {"user": "ada"}}


def _unsigned(value: str, key: str = KEY) -> tuple[Any, bytes, int]:
    """The session in a cookie value (checked with itsdangerous), its base64 payload and
    the second it was signed."""
    payload, signed_at = itsdangerous.TimestampSigner(key).unsign(value, return_timestamp=True)
    return json.loads(b64decode(payload)), payload, int(signed_at.timestamp())


def _parts(header: str) -> tuple[str, str, list[str]]:
    """A ``Set-Cookie`` header as name, value and attributes, in the order written."""
    pair, *attributes = header.split("; ")
    name, _, value = pair.partition("=")
    return name, value, attributes


def _cookies(response: Any, key: str = KEY, session_cookie: str = "session") -> list[Any]:
    """The response's ``Set-Cookie`` headers as a user sees them: a session cookie decoded
    (its session and base64 payload, checked to be signed within the last minute), others
    as written."""
    seen = []
    for header in response.headers.get_list("set-cookie"):
        name, value, attributes = _parts(header)
        if name == session_cookie and value != "null":
            session, payload, signed_at = _unsigned(value, key)
            assert abs(signed_at - time.time()) < 60, header
            seen.append((name, {"session": session, "payload": payload}, attributes))
        else:
            seen.append((name, value, attributes))
    return seen


def _session_cookie(response: Any, key: str = KEY, session_cookie: str = "session") -> Any:
    """What the response does to the session cookie: None (nothing), "null" (clears it) or
    the session it stores."""
    found = [c for c in _cookies(response, key, session_cookie) if c[0] == session_cookie]
    assert len(found) <= 1, found
    if not found:
        return None
    value = found[0][1]
    return value if value == "null" else value["session"]


def _visible_headers(response: Any) -> dict[str, Any]:
    headers = compared_headers(response)
    del headers["set-cookie"]  # compared decoded
    headers["content-encoding"] = response.headers.get("content-encoding")
    return headers


def _same(theirs: Any, ours: Any, key: str = KEY, session_cookie: str = "session") -> None:
    """The same status, body, headers that matter and cookies (decoded) from both."""
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content), (
        f"FastAPI gave {theirs.status_code} {theirs.content!r}, "
        f"Ignyx gave {ours.status_code} {ours.content!r}"
    )
    assert _visible_headers(ours) == _visible_headers(theirs)
    assert _cookies(ours, key, session_cookie) == _cookies(theirs, key, session_cookie)


# -- a session's life, against Starlette --------------------------------------------------------

# (path, body, Vary, what happens to the cookie: None, "null" or the session stored)
FLOW = [
    ("/plain", {"plain": True}, None, None),
    ("/read", {"session": {}}, "Cookie", None),
    ("/count", {"count": 1}, "Cookie", {"count": 1}),
    ("/count", {"count": 2}, "Cookie", {"count": 2}),
    ("/read", {"session": {"count": 2}}, "Cookie", None),
    ("/untouched", None, None, None),
    (
        "/put?key=name&value=Ada",
        {"session": {"count": 2, "name": "Ada"}},
        "Cookie",
        {"count": 2, "name": "Ada"},
    ),  # fmt: skip
    ("/pop/name", {"popped": "Ada"}, "Cookie", {"count": 2}),
    ("/pop/missing", {"popped": None}, "Cookie", None),
    ("/read", {"session": {"count": 2}}, "Cookie", None),
    ("/clear", {"cleared": True}, "Cookie", "null"),
    ("/read", {"session": {}}, "Cookie", None),
    ("/clear", {"cleared": True}, "Cookie", None),  # nothing to clear
    ("/count", {"count": 1}, "Cookie", {"count": 1}),
]


def _run_flow(clients: _Clients, prefix: str = "", session_cookie: str = "session") -> None:
    """Runs FLOW on both clients, comparing each answer with Starlette's and with what the
    user expects."""
    for path, body, vary, cookie in FLOW:
        theirs, ours = clients.get(prefix + path)
        _same(theirs, ours, session_cookie=session_cookie)
        expected_body = {"untouched": prefix + path} if body is None else body
        assert (ours.status_code, ours.json()) == (200, expected_body), path
        assert ours.headers.get("vary") == vary, path
        assert _session_cookie(ours, session_cookie=session_cookie) == cookie, path


OPTIONS = [
    pytest.param({}, "http://testserver", "", id="defaults"),
    pytest.param({"session_cookie": "sid"}, "http://testserver", "", id="session_cookie"),
    pytest.param({"max_age": None}, "http://testserver", "", id="max_age=None"),
    pytest.param({"max_age": 3600}, "http://testserver", "", id="max_age=3600"),
    pytest.param({"path": "/app"}, "http://testserver", "/app", id="path"),
    pytest.param({"same_site": "strict"}, "http://testserver", "", id="same_site=strict"),
    pytest.param({"https_only": True}, "https://testserver", "", id="https_only"),
    pytest.param(
        {"same_site": "none", "https_only": True}, "https://testserver", "", id="same_site=none"
    ),
    pytest.param({"domain": "example.com"}, "http://example.com", "", id="domain"),
    pytest.param(
        {"partitioned": True, "https_only": True}, "https://testserver", "", id="partitioned"
    ),
]


@pytest.mark.parametrize("options, base_url, prefix", OPTIONS)
def test_a_session_lives_as_in_starlette(options: dict, base_url: str, prefix: str) -> None:
    with _serve(_sessions(**options), base_url=base_url, prefix=prefix) as clients:
        _run_flow(clients, prefix, options.get("session_cookie", "session"))


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_session_lives_as_in_starlette_in_every_placement(placement: str) -> None:
    with _serve(_sessions(), placement) as clients:
        _run_flow(clients)


@pytest.mark.parametrize(
    "options, attributes",
    [
        ({}, ["path=/", "Max-Age=1209600", "httponly", "samesite=lax"]),
        ({"max_age": None}, ["path=/", "httponly", "samesite=lax"]),
        (
            {
                "session_cookie": "sid",
                "max_age": 60,
                "path": "/app",
                "same_site": "strict",
                "https_only": True,
                "domain": "example.com",
                "partitioned": True,
            },
            [
                "path=/app",
                "Max-Age=60",
                "httponly",
                "samesite=strict",
                "secure",
                "domain=example.com",
                "partitioned",
            ],
        ),
    ],
)
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_cookie_attributes_are_starlettes(
    placement: str, options: dict, attributes: list[str]
) -> None:
    name = options.get("session_cookie", "session")
    prefix = options.get("path", "").rstrip("/")
    with _serve(_sessions(**options), placement, prefix=prefix) as clients:
        stored, ours = clients.get(prefix + "/put?key=a&value=1")
        _same(stored, ours, session_cookie=name)
        assert [_parts(h)[0::2] for h in ours.headers.get_list("set-cookie")] == [
            (name, attributes)
        ]
        cookie = {"cookie": f"{name}={_signed({'a': '1'})}"}
        theirs, ours = clients.get(prefix + "/clear", headers=cookie)
        _same(theirs, ours, session_cookie=name)
        expires = "expires=Thu, 01 Jan 1970 00:00:00 GMT"
        cleared = [a for a in attributes if not a.startswith("Max-Age")]
        cleared.insert(1, expires)
        assert ours.headers.get_list("set-cookie") == [f"{name}=null; " + "; ".join(cleared)]


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_dict_operations_mark_the_session_as_starlettes(placement: str, operation: str) -> None:
    """Which dict operations store the session (changed it), or only vary (read it)."""
    session = {"count": 1, "items": [1, 2, 3]}
    cookie = {"cookie": f"session={_signed(session)}"}
    with _serve(_sessions(), placement) as clients:
        theirs, ours = clients.get(f"/op/{operation}", headers=cookie)
        _same(theirs, ours)
    assert ours.status_code == 200
    assert ours.headers["vary"] == "Cookie"
    stored = _session_cookie(ours)
    unchanged = ("get", "contains", "keys", "setdefault-existing", "pop-missing", "mutate-nested")
    if operation in unchanged:
        assert stored is None
    elif operation == "clear":
        assert stored == "null"
    else:
        assert stored == ours.json()["session"]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_an_app_cookie_and_the_session_cookie_are_both_sent(placement: str) -> None:
    with _serve(_sessions(), placement) as clients:
        for count in (1, 2):
            theirs, ours = clients.get("/with-cookie")
            _same(theirs, ours)
            assert ours.json() == {"count": count}
            names = [_parts(h)[0] for h in ours.headers.get_list("set-cookie")]
            assert names == ["theme", "session"]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_vary_cookie_follows_the_apps_own_vary(placement: str) -> None:
    with _serve(_sessions(), placement) as clients:
        theirs, ours = clients.get("/varies")
        _same(theirs, ours)
    assert ours.headers.get_list("vary") == ["Origin, Cookie"]


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_nested_data_round_trips(placement: str) -> None:
    data = {"user": {"name": "Zoë ✓", "roles": ["admin", "ops"]}, "n": 1.5, "ok": None}
    with _serve(_sessions(), placement) as clients:
        theirs, ours = clients.request("POST", "/store", json=data)
        _same(theirs, ours)
        assert _session_cookie(ours) == data
        theirs, ours = clients.get("/read")
        _same(theirs, ours)
    assert ours.json() == {"session": data}


# -- responses other than a handler's return -----------------------------------------------------


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_an_http_exception_still_stores_the_session(placement: str) -> None:
    with _serve(_sessions(), placement) as clients:
        theirs, ours = clients.get("/refuse")
        _same(theirs, ours)
    assert (ours.status_code, ours.json()) == (403, {"detail": "no"})
    assert _session_cookie(ours) == {"refused": True}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_streamed_response_stores_the_session(placement: str) -> None:
    with _serve(_sessions(), placement) as clients:
        theirs, ours = clients.get("/stream")
        _same(theirs, ours)
    assert ours.text == "one two"
    assert _session_cookie(ours) == {"streamed": True}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_dependency_writes_the_session(placement: str) -> None:
    with _serve(_sessions(), placement) as clients:
        for visits in (1, 2):
            theirs, ours = clients.get("/dependency")
            _same(theirs, ours)
            assert ours.json() == {"visits": visits}
            assert _session_cookie(ours) == {"visits": visits}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_an_unhandled_error_answers_500_without_the_session(placement: str) -> None:
    """Starlette's 500 comes from outside the session middleware: no cookie, no Vary. (A
    session middleware placed in Python sent its cookie with Ignyx's 500 until unhandled
    errors went on out through the middleware.)"""
    with _serve(_sessions(), placement) as clients:
        theirs, ours = clients.get("/boom")
        _same(theirs, ours)
        assert (ours.status_code, ours.text) == (500, "Internal Server Error")
        assert ours.headers.get_list("set-cookie") == []
        assert ours.headers.get("vary") is None
        theirs, ours = clients.get("/read")
        _same(theirs, ours)
        assert ours.json() == {"session": {}}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_session_json_cannot_hold_answers_500(placement: str) -> None:
    with _serve(_sessions(), placement) as clients:
        theirs, ours = clients.get("/unserializable")
        _same(theirs, ours)
        assert (ours.status_code, ours.text) == (500, "Internal Server Error")
        assert ours.headers.get_list("set-cookie") == []
        theirs, ours = clients.get("/count")
        _same(theirs, ours)
        assert ours.json() == {"count": 1}


# -- cookies both ways with the real packages ----------------------------------------------------


def test_a_cookie_starlette_wrote_reads_in_ignyx_and_back() -> None:
    data = {"user": "ada", "roles": ["admin"], "name": "Zoë"}
    with _serve(_sessions()) as clients:
        written = clients.fastapi.post("/store", json=data)
        from_starlette = written.cookies["session"]
        read = clients.ignyx.get("/read", headers={"cookie": f"session={from_starlette}"})
        assert read.json() == {"session": data}

        written = clients.ignyx.post("/store", json={"from": "ignyx"})
        from_ignyx = written.cookies["session"]
        read = clients.fastapi.get("/read", headers={"cookie": f"session={from_ignyx}"})
        assert read.json() == {"session": {"from": "ignyx"}}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_cookie_signed_with_itsdangerous_reads_in_ignyx(placement: str) -> None:
    data = {"user": "ada", "cart": [1, 2, {"sku": "x"}], "admin": False}
    cookie = {"cookie": f"session={_signed(data)}"}
    with _serve(_sessions(), placement) as clients:
        theirs, ours = clients.get("/read", headers=cookie)
        _same(theirs, ours)
    assert ours.json() == {"session": data}


# Payloads Python's lenient `b64decode` reads although they are not canonical base64: the
# engine decodes canonical ones itself and leaves these to Python, so both read the same.
LENIENT_BASE64 = {
    "a character outside the alphabet": b"eyJh!IjogMX0=",
    "a space": b"eyJhIjog MX0=",
    "trailing bits set": b"eyJhIjogMX1=",
}


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("case", LENIENT_BASE64)
def test_a_payload_python_decodes_leniently_reads_as_in_starlette(
    placement: str, case: str
) -> None:
    cookie = {"cookie": f"session={_sign(LENIENT_BASE64[case])}"}
    with _serve(_sessions(), placement) as clients:
        theirs, ours = clients.get("/read", headers=cookie)
        _same(theirs, ours)
    assert ours.json() == {"session": {"a": 1}}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_an_ignyx_cookie_unsigns_with_itsdangerous(placement: str) -> None:
    before = int(time.time())
    with _serve(_sessions(), placement) as clients:
        ours = clients.ignyx.get("/put?key=name&value=Ada")
    value = ours.cookies["session"]
    payload, signed_at = itsdangerous.TimestampSigner(KEY).unsign(
        value, max_age=14 * DAY, return_timestamp=True
    )
    assert json.loads(b64decode(payload)) == {"name": "Ada"}
    assert payload == b64encode(json.dumps({"name": "Ada"}).encode())
    assert before <= signed_at.timestamp() <= time.time()
    with pytest.raises(itsdangerous.BadSignature):
        itsdangerous.TimestampSigner("another key").unsign(value)


def test_a_key_outside_ascii_signs_as_itsdangerous() -> None:
    key = "clé secrète ✓"
    with _serve(_sessions(secret_key=key)) as clients:
        ours = clients.ignyx.get("/count")
        assert _unsigned(ours.cookies["session"], key)[0] == {"count": 1}
        read = clients.ignyx.get("/read", headers={"cookie": f"session={_signed({'a': 1}, key)}"})
        assert read.json() == {"session": {"a": 1}}


# -- what a client may send --------------------------------------------------------------------


def _bad_cookies() -> dict[str, str]:
    payload, stamp, signature = VALID.split(".")
    other = b64encode(json.dumps({"user": "eve"}).encode()).decode()
    flipped = signature[:5] + ("B" if signature[5] != "B" else "C") + signature[6:]
    now = int(time.time())
    return {
        "tampered signature": f"{payload}.{stamp}.{flipped}",
        "tampered payload": f"{other}.{stamp}.{signature}",
        "tampered timestamp": f"{payload}.{stamp[:-1]}{'A' if stamp[-1] != 'A' else 'B'}"
        f".{signature}",
        "wrong key": _signed({"user": "ada"}, key="another key"),
        "garbage": "garbage",
        "no dots": payload,
        "one dot": f"{payload}.{signature}",
        "no signature": f"{payload}.{stamp}.",
        "empty": "",
        "null": "null",
        "signature not base64": f"{payload}.{stamp}.!!!notbase64!!!",
        "expired": _signed({"user": "ada"}, at=now - 15 * DAY),
        "signed in the future": _signed({"user": "ada"}, at=now + 3600),
    }


BAD_COOKIES = _bad_cookies()


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("case", BAD_COOKIES)
def test_a_bad_cookie_is_an_empty_session(placement: str, case: str) -> None:
    cookie = {"cookie": f"session={BAD_COOKIES[case]}"}
    with _serve(_sessions(), placement) as clients:
        _reads_a_valid_cookie(clients)
        theirs, ours = clients.get("/read", headers=cookie)
        _same(theirs, ours)
        assert (ours.status_code, ours.json()) == (200, {"session": {}})
        assert ours.headers.get_list("set-cookie") == []

        theirs, ours = clients.get("/count", headers=cookie)
        _same(theirs, ours)
        assert (ours.status_code, ours.json()) == (200, {"count": 1})
        assert _session_cookie(ours) == {"count": 1}

        theirs, ours = clients.get("/clear", headers=cookie)
        _same(theirs, ours)
        assert ours.headers.get_list("set-cookie") == []  # the session was empty already


# Signed with the right key, but not a session: Starlette answers 500 (its middleware lets
# the decoding error through); Ignyx starts an empty session.
NOT_A_SESSION = {
    "a number": b64encode(b"5"),
    "a string": b64encode(b'"text"'),
    "a list": b64encode(b"[1, 2]"),
    "null": b64encode(b"null"),
    "not JSON": b64encode(b"{nope"),
    "not base64": b"@@@not-base64@@@",
    "base64 without padding": b64encode(b'{"a": 1}').rstrip(b"="),
    "not UTF-8": b64encode(b'{"a": "\xff"}'),
}


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("case", NOT_A_SESSION)
def test_a_signed_cookie_that_is_not_a_session_is_an_empty_session(
    placement: str, case: str
) -> None:
    cookie = {"cookie": f"session={_sign(NOT_A_SESSION[case])}"}
    with _serve(_sessions(), placement) as clients:
        _reads_a_valid_cookie(clients)
        read = clients.ignyx.get("/read", headers=cookie)
        assert (read.status_code, read.json()) == (200, {"session": {}})
        assert read.headers.get_list("set-cookie") == []
        count = clients.ignyx.get("/count", headers=cookie)
    assert (count.status_code, count.json()) == (200, {"count": 1})
    assert _session_cookie(count) == {"count": 1}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_max_age_is_checked_against_the_signature_time(placement: str) -> None:
    now = int(time.time())
    with _serve(_sessions(max_age=60), placement) as clients:
        for age, expected in [(30, {"user": "ada"}), (120, {}), (-3600, {})]:
            cookie = {"cookie": f"session={_signed({'user': 'ada'}, at=now - age)}"}
            theirs, ours = clients.get("/read", headers=cookie)
            _same(theirs, ours)
            assert ours.json() == {"session": expected}, age


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_without_max_age_old_and_future_cookies_read(placement: str) -> None:
    now = int(time.time())
    with _serve(_sessions(max_age=None), placement) as clients:
        for at in (now - 400 * DAY, now + 3600):
            cookie = {"cookie": f"session={_signed({'user': 'ada'}, at=at)}"}
            theirs, ours = clients.get("/read", headers=cookie)
            _same(theirs, ours)
            assert ours.json() == {"session": {"user": "ada"}}


def _cookie_headers() -> dict[str, tuple[list[tuple[str, Any]], dict]]:
    valid, garbage = VALID, "garbage.AAAA.BBBB"
    ada = {"user": "ada"}
    return {
        "among other cookies": ([("cookie", f"theme=dark; session={valid}; lang=en")], ada),
        "the last of one header wins": ([("cookie", f"session={garbage}; session={valid}")], ada),
        "a bad last one wins": ([("cookie", f"session={valid}; session={garbage}")], {}),
        "the last of two headers wins": (
            [("cookie", f"session={garbage}"), ("cookie", f"session={valid}")],
            ada,
        ),  # fmt: skip
        "a bad last header wins": (
            [("cookie", f"session={valid}"), ("cookie", f"session={garbage}")],
            {},
        ),  # fmt: skip
        "another header beside": (
            [("cookie", "theme=dark"), ("cookie", f"session={valid}")],
            ada,
        ),  # fmt: skip
        "spaces around": ([("cookie", f"theme=dark;   session = {valid} ;lang=en")], ada),
        "quoted": ([("cookie", f'theme=dark; session="{valid}"')], ada),
        "a UTF-8 cookie beside": ([("cookie", f"name=José; session={valid}".encode())], ada),
        "another name": ([("cookie", f"sessionid={valid}; Session={valid}")], {}),
        "a name in a value": ([("cookie", f"other=session={valid}")], {}),
    }


COOKIE_HEADERS = _cookie_headers()


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("case", COOKIE_HEADERS)
def test_cookie_headers_are_read_as_starlette_reads_them(placement: str, case: str) -> None:
    headers, expected = COOKIE_HEADERS[case]
    with _serve(_sessions(), placement) as clients:
        _reads_a_valid_cookie(clients)
        theirs, ours = clients.get("/read", headers=headers)
        _same(theirs, ours)
    assert ours.json() == {"session": expected}


# -- without the middleware ----------------------------------------------------------------------


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_the_session_without_the_middleware_is_an_assertion_error(name: str) -> None:
    fw = framework(name)
    app = fw.FastAPI()
    _routes(fw, app)
    with fw.TestClient(app) as client:
        assert client.get("/plain").json() == {"plain": True}
        with pytest.raises(AssertionError) as raised:
            client.get("/read")
    assert str(raised.value) == "SessionMiddleware must be installed to access request.session"


def test_the_session_without_the_middleware_answers_500(dual: Callable[..., Any]) -> None:
    def build(fw: SimpleNamespace) -> Any:
        app = fw.FastAPI()
        _routes(fw, app)
        return app

    clients = dual(build)
    response = differential(clients, "GET", "/read")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


def _session_around_an_http_middleware(fw: SimpleNamespace, app: Any) -> None:
    @app.middleware("http")
    async def who(request: Any, call_next: Any) -> Any:
        user = request.session.get("user")
        response = await call_next(request)
        response.headers["x-user"] = str(user)
        return response

    _sessions()(fw, app)  # added last: outside the function middleware


@pytest.mark.parametrize("placement", ["native", "asgi"])
def test_a_function_middleware_inside_reads_the_session(placement: str) -> None:
    with _serve(_session_around_an_http_middleware, placement) as clients:
        for path, user, cookie in [
            ("/read", "None", None),
            ("/put?key=user&value=bob", "None", {"user": "bob"}),
            ("/read", "bob", None),
            ("/clear", "bob", "null"),
        ]:
            theirs, ours = clients.get(path)
            _same(theirs, ours)
            assert (ours.status_code, ours.headers["x-user"]) == (200, user), path
            assert _session_cookie(ours) == cookie, path


# -- with GZip and CORS --------------------------------------------------------------------------

ORIGIN = "https://a.example"


def _with(*names: str) -> Callable[[SimpleNamespace, Any], None]:
    """Adds SessionMiddleware, GZipMiddleware and CORSMiddleware in the order `names` gives
    (the first innermost, as ``add_middleware`` nests them)."""

    def install(fw: SimpleNamespace, app: Any) -> None:
        for name in names:
            if name == "session":
                _sessions()(fw, app)
            elif name == "gzip":
                app.add_middleware(_middleware(fw, "GZipMiddleware"), minimum_size=100)
            else:
                app.add_middleware(
                    _middleware(fw, "CORSMiddleware"),
                    allow_origins=[ORIGIN],
                    allow_credentials=True,
                )

    return install


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize(
    "order", [("session", "gzip", "cors"), ("gzip", "cors", "session"), ("gzip", "session", "cors")]
)
def test_vary_lists_cookie_and_accept_encoding_in_starlettes_order(
    placement: str, order: tuple[str, ...]
) -> None:
    headers = {"origin": ORIGIN, "accept-encoding": "gzip"}
    with _serve(_with(*order), placement) as clients:
        for count in (1, 2):
            theirs, ours = clients.get("/big", headers=headers)
            _same(theirs, ours)
            assert ours.json()["count"] == count
            assert ours.headers["content-encoding"] == "gzip"
            assert ours.headers["access-control-allow-origin"] == ORIGIN
            assert _session_cookie(ours) == {"count": count}
            vary = [v.strip() for v in ours.headers["vary"].split(",")]
            assert {"Cookie", "Accept-Encoding"} <= set(vary), vary
        theirs, ours = clients.get("/read", headers=headers)
        _same(theirs, ours)
        assert ours.json() == {"session": {"count": 2}}


# -- WebSocket -----------------------------------------------------------------------------------


@pytest.mark.parametrize("placement", ["native", "over-python", "between"])
@pytest.mark.parametrize("name", FRAMEWORKS)
def test_a_websocket_reads_the_session_an_http_route_wrote(name: str, placement: str) -> None:
    fw = framework(name)
    app = _app(fw, placement, _sessions())
    with fw.TestClient(app) as client:
        with client.websocket_connect("/ws") as websocket:
            assert websocket.receive_json() == {"session": {}}
        assert client.get("/count").json() == {"count": 1}
        assert client.get("/count").json() == {"count": 2}
        with client.websocket_connect("/ws") as websocket:
            assert websocket.receive_json() == {"session": {"count": 2}}
        # What the WebSocket put in its session went nowhere: it has no response.
        assert client.get("/read").json() == {"session": {"count": 2}}
        client.cookies.clear()
        tampered = {"cookie": f"session={BAD_COOKIES['tampered payload']}"}
        with client.websocket_connect("/ws", headers=tampered) as websocket:
            assert websocket.receive_json() == {"session": {}}


# -- a real socket -------------------------------------------------------------------------------


@pytest.mark.parametrize("placement", ["native", "over-python", "between"])
def test_a_real_client_counts_with_its_cookie_jar(placement: str) -> None:
    app = _app(framework("ignyx"), placement, _sessions())
    with live_server(app) as server:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
            answers = [client.get("/count") for _ in range(3)]
            stored = client.cookies["session"]
    assert [a.json() for a in answers] == [{"count": 1}, {"count": 2}, {"count": 3}]
    for answer in answers:
        assert answer.headers["vary"] == "Cookie"
        assert len(answer.headers.get_list("set-cookie")) == 1
    assert _unsigned(stored)[0] == {"count": 3}


def test_curl_keeps_the_session_in_its_cookie_file(tmp_path: Any) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    jar = tmp_path / "cookies.txt"
    app = _app(framework("ignyx"), "native", _sessions())

    def fetch(url: str, *options: str) -> bytes:
        command = [curl, "-s", "-f", *options, url]
        return subprocess.run(command, capture_output=True, check=True, timeout=30).stdout

    with live_server(app) as server:
        url = f"http://127.0.0.1:{server.port}"
        bodies = [fetch(f"{url}/count", "-c", str(jar), "-b", str(jar)) for _ in range(3)]
        tampered = f"session={BAD_COOKIES['tampered signature']}"
        afresh = fetch(f"{url}/count", "-b", tampered)
    assert bodies == [b'{"count":1}', b'{"count":2}', b'{"count":3}']
    assert afresh == b'{"count":1}'
    # curl's file: domain, subdomains, path, secure, expiry, name, value (tab-separated)
    lines = [line.split("\t") for line in jar.read_text().splitlines() if "\tsession\t" in line]
    assert len(lines) == 1
    domain, _, path, secure, expires, name, value = lines[0]
    assert (domain, path, secure, name) == ("#HttpOnly_127.0.0.1", "/", "FALSE", "session")
    assert abs(int(expires) - (time.time() + 14 * DAY)) < 60
    assert _unsigned(value)[0] == {"count": 3}
