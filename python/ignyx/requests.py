"""The incoming request, with Starlette's API, read lazily from the Rust engine::

    @app.get("/whoami")
    async def whoami(request: Request):
        return {"agent": request.headers.get("user-agent"), "q": request.query_params.get("q")}

Headers, query and cookies become Python objects only when a handler reads them; the form
is parsed once, on the first ``await request.form()`` or form parameter.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Generator
from typing import Any, Optional, Union
from urllib.parse import parse_qsl

from .datastructures import URL, Address, FormData, Headers, QueryParams, State
from .exceptions import HTTPException
from .formparsers import MAX_FIELDS, MAX_FILES, MAX_PART_SIZE, MultiPartException, parse_form


def cookie_parser(cookie_string: str) -> dict[str, str]:
    """Parses a ``Cookie`` header the way browsers send it (Starlette's rules)."""
    # Imported here: ``http.cookies`` costs a process ~400 KiB, and most apps read no cookie.
    from http.cookies import _unquote

    cookie_dict: dict[str, str] = {}
    for chunk in cookie_string.split(";"):
        if "=" in chunk:
            key, val = chunk.split("=", 1)
        else:
            key, val = "", chunk
        key, val = key.strip(), val.strip()
        if key or val:
            cookie_dict[key] = _unquote(val)
    return cookie_dict


class ScopeData:
    """A plain ASGI scope read through the interface of the engine's request data
    (``ignyx._core.RequestData``): what ``Request(scope, receive)`` stands on, as
    middleware builds it."""

    __slots__ = ("scope", "body")

    def __init__(self, scope: dict[str, Any], body: bytes = b"") -> None:
        self.scope = scope
        self.body = body

    @property
    def method(self) -> str:
        return self.scope.get("method", "GET")

    @property
    def session(self) -> Any:
        return self.scope.get("session")

    @property
    def path(self) -> str:
        return self.scope["path"]

    @property
    def raw_path(self) -> bytes:
        return self.scope.get("raw_path") or self.scope["path"].encode()

    @property
    def query_string(self) -> bytes:
        return self.scope.get("query_string", b"")

    @property
    def http_version(self) -> str:
        return self.scope.get("http_version", "1.1")

    @property
    def scheme(self) -> str:
        return self.scope.get("scheme", "http")

    @property
    def client(self) -> Optional[tuple[str, int]]:
        client = self.scope.get("client")
        return tuple(client) if client else None

    @property
    def server(self) -> Optional[tuple[str, int]]:
        server = self.scope.get("server")
        return tuple(server) if server else None

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return [(bytes(k).lower(), bytes(v)) for k, v in self.scope.get("headers", ())]

    def header(self, name: str) -> Optional[str]:
        key = name.lower().encode("latin-1")
        for k, v in self.scope.get("headers", ()):
            if bytes(k).lower() == key:
                return bytes(v).decode("latin-1")
        return None

    def header_all(self, name: str) -> list[str]:
        key = name.lower().encode("latin-1")
        return [
            bytes(v).decode("latin-1")
            for k, v in self.scope.get("headers", ())
            if bytes(k).lower() == key
        ]

    def query_items(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True)

    def query(self, name: str) -> Optional[str]:
        values = self.query_all(name)
        return values[-1] if values else None

    def query_all(self, name: str) -> list[str]:
        return [v for k, v in self.query_items() if k == name]

    @property
    def path_params(self) -> dict[str, Any]:
        return dict(self.scope.get("path_params") or {})

    @property
    def root_path(self) -> str:
        return self.scope.get("root_path", "")

    def path_param(self, name: str) -> Optional[str]:
        return self.path_params.get(name)

    @property
    def state(self) -> dict[str, Any]:
        return self.scope.setdefault("state", {})


def engine_scope(data: Any, app: Any) -> dict[str, Any]:
    """The ASGI scope of a request the engine read (``ignyx._core.RequestData``), with
    Starlette's keys: built by the engine, as for the middleware stack."""
    from . import _core

    return _core.engine_scope(data, app, getattr(app, "root_path", ""))


async def settle_body(request: Any) -> None:
    """Reads `request`'s body through its own ``body()`` (which a subclass may override, as
    FastAPI's ``GzipRequest`` recipe does), so that validation sees what it gave."""
    body = await request.body()
    data = request._data
    if type(data) is ScopeData:
        data.body = body


def is_starlette_connection(annotation: Any) -> bool:
    """Whether `annotation` is Starlette's own ``Request``/``HTTPConnection`` (or a subclass),
    which an endpoint may ask for when an add-on insists on it (slowapi checks its requests
    with ``isinstance``). Only an app that imported Starlette can name it: ignyx never
    imports it itself."""
    starlette = sys.modules.get("starlette.requests")
    websockets = sys.modules.get("starlette.websockets")
    return (
        starlette is not None
        and isinstance(annotation, type)
        and issubclass(annotation, starlette.HTTPConnection)
        and not (websockets is not None and issubclass(annotation, websockets.WebSocket))
    )


def as_starlette_request(request: Any, cls: Any) -> Any:
    """`request` as an instance of Starlette's `cls`: the same scope and ``receive``."""

    return cls(request.scope, request.receive)


class ClientDisconnect(Exception):
    """The client left before its request's body arrived."""


class BodyTooLarge(Exception):
    """A request's body is larger than the app accepts."""


async def receive_body(receive: Any, limit: float = float("inf")) -> bytes:
    """The whole body of an ASGI request, read from `receive`: `BodyTooLarge` past `limit`
    bytes, `ClientDisconnect` when the client leaves first."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class HTTPConnection:
    """What requests and WebSockets share: URL, headers, query, cookies, client, state.

    Built by the engine from its request data, or by middleware from a plain ASGI scope:
    ``HTTPConnection(scope)``, ``Request(scope, receive)``."""

    _receive: Any = None

    def __init__(self, data: Any, app: Any = None) -> None:
        if isinstance(data, dict):
            self._receive = app
            data, app = ScopeData(data), data.get("app")
        self._data = data
        self._app = app
        self._headers: Optional[Headers] = None
        self._query_params: Optional[QueryParams] = None
        self._cookies: Optional[dict[str, str]] = None
        self._url: Optional[URL] = None
        self._state: Optional[State] = None

    @property
    def app(self) -> Any:
        return self._app

    @property
    def url(self) -> URL:
        if self._url is None:
            host = self._data.header("host")
            if host is None:
                server = self._data.server
                host = f"{server[0]}:{server[1]}" if server else "localhost"
            query = self._data.query_string.decode("latin-1")
            # Starlette builds the URL from the decoded path.
            path = self._data.path
            url = f"{self._data.scheme}://{host}{path}"
            self._url = URL(f"{url}?{query}" if query else url)
        return self._url

    @property
    def base_url(self) -> URL:
        return URL(str(self.url.replace(path="/", query="", fragment="")))

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(raw=self._data.raw_headers)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        if self._query_params is None:
            self._query_params = QueryParams(self._data.query_items())
        return self._query_params

    @property
    def path_params(self) -> dict[str, Any]:
        return self._data.path_params

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            # Every Cookie header (HTTP/2 clients send one per cookie), as Starlette reads them.
            cookies: dict[str, str] = {}
            for header in self._data.header_all("cookie"):
                cookies.update(cookie_parser(header))
            self._cookies = cookies
        return self._cookies

    @property
    def session(self) -> dict[str, Any]:
        """The session a ``SessionMiddleware`` keeps for this client (a dict)."""
        session = self._data.session
        assert session is not None, "SessionMiddleware must be installed to access request.session"
        mark = getattr(session, "mark_accessed", None)
        if mark is not None:
            mark()
        return session

    @property
    def client(self) -> Optional[Address]:
        client = self._data.client
        return Address(*client) if client else None

    @property
    def state(self) -> State:
        if self._state is None:
            # Set by the ASGI server or middleware: the state dict of the request's scope.
            shared = getattr(self._data, "state", None)
            if shared is not None:
                self._state = State(shared)
            else:
                self._state = State()
                app_state = getattr(self._app, "_lifespan_state", None)
                if app_state:
                    for key, value in app_state.items():
                        setattr(self._state, key, value)
        return self._state

    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    def __iter__(self) -> Any:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    @property
    def scope(self) -> dict[str, Any]:
        """The request's ASGI scope: the one it was built from, or one built on demand."""
        data = self._data
        if type(data) is ScopeData:
            return data.scope
        scope = engine_scope(data, self._app)
        scope["path_params"] = data.path_params
        scope["state"] = self.state._state
        return scope

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        return self.base_url.replace(path=self._app.url_path_for(name, **path_params))


class Request(HTTPConnection):
    """An HTTP request: everything in ``HTTPConnection`` plus the method and the body."""

    _form: Optional[FormData] = None

    @property
    def method(self) -> str:
        return self._data.method

    @property
    def receive(self) -> Any:
        """The ASGI ``receive`` of this request (for ``Request(request.scope,
        request.receive)``): the one it was built with, or one that gives its body."""
        if self._receive is not None:
            return self._receive

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": await self.body(), "more_body": False}

        return receive

    async def body(self) -> bytes:
        data = self._data
        if type(data) is ScopeData and not data.body and self._receive is not None:
            data.body = await receive_body(self._receive)
        return data.body

    async def json(self) -> Any:
        return json.loads(await self.body())

    def form(
        self,
        *,
        max_files: Union[int, float] = MAX_FILES,
        max_fields: Union[int, float] = MAX_FIELDS,
        max_part_size: int = MAX_PART_SIZE,
    ) -> _FormReader:
        """The submitted form, parsed once: ``form = await request.form()``, or
        ``async with request.form() as form:`` to close its files at the end of the block.

        A malformed or oversized form answers 400, as in Starlette.
        """
        return _FormReader(self, max_files, max_fields, max_part_size)

    def _parsed_form(
        self,
        max_files: Union[int, float] = MAX_FILES,
        max_fields: Union[int, float] = MAX_FIELDS,
        max_part_size: int = MAX_PART_SIZE,
    ) -> FormData:
        if self._form is None:
            data = self._data
            try:
                self._form = parse_form(
                    data.header("content-type"),
                    data.body,
                    max_files=max_files,
                    max_fields=max_fields,
                    max_part_size=max_part_size,
                )
            except MultiPartException as exc:
                raise HTTPException(400, exc.message) from None
        return self._form

    async def close(self) -> None:
        if self._form is not None:
            await self._form.close()

    async def stream(self):
        body = self._data.body
        if body:
            yield body
        yield b""

    async def is_disconnected(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<Request {self.method} {self._data.path}>"


class _FormReader:
    """What ``request.form()`` returns: awaitable, or an async context manager that closes
    the form's files on exit (Starlette's ``AwaitableOrContextManager``)."""

    __slots__ = ("_request", "_limits")

    def __init__(self, request: Request, *limits: Any) -> None:
        self._request = request
        self._limits = limits

    def __await__(self) -> Generator[Any, None, FormData]:
        return self.__aenter__().__await__()

    async def __aenter__(self) -> FormData:
        return self._request._parsed_form(*self._limits)

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._request.close()
