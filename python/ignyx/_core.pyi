"""Types of ``ignyx._core``, the Rust engine (``src/``), for type checkers and editors.

Written by hand from the ``#[pyclass]``, ``#[pymethods]`` and ``#[pyfunction]`` items of
``src/**/*.rs``; ``tests/test_core_stub.py`` (``python -m mypy.stubtest ignyx._core``)
checks that it still matches the compiled module.
"""

import asyncio
import contextvars
import os
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from typing import Any, final

from ._runtime import EngineLoop

@final
class App:
    """The builder Python fills before serving (``src/app.rs``)."""

    # `...` where the engine's default is an expression: max_body_size 16 MiB.
    def __new__(cls, *, redirect_slashes: bool = True, max_body_size: int = ...) -> App: ...
    def set_hooks(
        self,
        *,
        response_class: type,
        streaming_class: type,
        file_class: type,
        content_type: Callable[..., Any],
        request_class: Callable[[RequestData, Any], Any],
        app: Any,
        error_handler: Callable[[Any, BaseException], Any],
        inner_error_handler: Callable[[Any, BaseException], Any],
    ) -> None:
        """Registers the Python pieces the engine calls back into: the response classes it
        recognises, `content_type(response_class)`, `request_class(request_data, app)`, and
        `error_handler(request, exc)`, and `inner_error_handler(request, exc)` for routes
        called under Python middleware."""

    def add_route(
        self,
        path: str,
        methods: Sequence[str],
        call: Callable[[Any], Any],
        *,
        is_async: bool,
        status_code: int,
        fast: FastPlan | None = None,
        route: Any | None = None,
        max_body_size: int | None = None,
        files: StaticDirectories | None = None,
    ) -> None:
        """Adds one route: `call(request)` answers it, or `fast` when its parameters convert.
        `route` is the Python route object, which ASGI middleware finds in `scope["route"]`;
        `max_body_size`, its own body limit (else the app's); `files`, the directories of a
        `StaticFiles` mount, whose plain file requests the engine answers itself."""

    def add_websocket_route(
        self, path: str, call: Callable[[RequestData, WebSocketChannel], None]
    ) -> None:
        """Adds a WebSocket route: `call(request_data, channel)` starts its handler on the loop."""

    def set_cors(
        self,
        *,
        allow_origins: Sequence[str] = ...,
        allow_methods: Sequence[str] = ...,
        allow_headers: Sequence[str] = ...,
        allow_credentials: bool = ...,
        allow_origin_regex: str | None = ...,
        expose_headers: Sequence[str] = ...,
        max_age: int = ...,
        allow_private_network: bool = ...,
    ) -> None:
        """Turns on CORS in the engine, outside every Python middleware, configured like
        Starlette's `CORSMiddleware`."""

    def set_layers(self, layers: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """The native middleware every request passes when the app has no Python middleware,
        outermost first: `(kind, options)` pairs (`ignyx.middleware`'s classes describe
        themselves so)."""

    def set_middleware_stack(
        self,
        entry: Callable[[Any], Any],
        *,
        layers: Sequence[tuple[str, dict[str, Any]]] = ...,
    ) -> None:
        """Hands every HTTP request to `entry(request_data)`, the app's Python middleware stack,
        which ends in the app's routes (`ignyx._asgi_host.stack_entry`); `layers`, the native
        middleware outside every Python one, outermost first."""

@final
class ParamSource:
    """Where a fast parameter is read (``src/http/route.rs``)."""

    PATH: ParamSource
    QUERY: ParamSource
    BODY: ParamSource
    def __int__(self) -> int: ...

@final
class ParamKind:
    """What a fast parameter is converted to, exactly as pydantic would."""

    STR: ParamKind
    INT: ParamKind
    FLOAT: ParamKind
    BOOL: ParamKind
    JSON: ParamKind
    def __int__(self) -> int: ...

@final
class FastParam:
    """One parameter of a fast plan."""

    @property
    def source(self) -> ParamSource: ...
    def __new__(
        cls,
        source: ParamSource,
        name: str,
        kind: ParamKind,
        *,
        required: bool,
        default: Any | None = None,
        validator: Any | None = None,
    ) -> FastParam: ...

@final
class FastPlan:
    """A route whose parameters are all plain path or query scalars, or its one JSON body:
    the endpoint, called with them converted in Rust, in order."""

    def __new__(cls, endpoint: Callable[..., Any], params: Sequence[FastParam]) -> FastPlan: ...

@final
class CorsLayer:
    """The engine's CORS for a Python ASGI stack (``src/layers/py.rs``)."""

    def __new__(
        cls,
        *,
        allow_origins: Sequence[str] = ...,
        allow_methods: Sequence[str] = ...,
        allow_headers: Sequence[str] = ...,
        allow_credentials: bool = ...,
        allow_origin_regex: str | None = ...,
        expose_headers: Sequence[str] = ...,
        max_age: int = ...,
        allow_private_network: bool = ...,
    ) -> CorsLayer: ...
    def preflight(
        self, method: str, headers: Sequence[tuple[bytes, bytes]]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """The answer to a CORS preflight request, as `(status, headers, body)`; `None` for
        any other request."""

    def apply(
        self, origin: bytes | None, headers: Sequence[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """`headers` (a response's) with the CORS headers for a request from `origin` added."""

@final
class CompressionLayer:
    """The engine's compression for a Python ASGI stack (``src/layers/py.rs``)."""

    def __new__(
        cls,
        *,
        minimum_size: int,
        encodings: Sequence[str],
        gzip_level: int,
        brotli_quality: int,
        zstd_level: int,
        exclude_content_types: Sequence[str],
    ) -> CompressionLayer: ...
    @property
    def minimum_size(self) -> int: ...
    def negotiate(self, headers: Sequence[tuple[bytes, bytes]]) -> str | None:
        """The coding (`"gzip"`, `"br"`, `"zstd"`) to answer a request with these headers."""

    def applies(self, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bool:
        """Whether a response with `status` and `headers` may be compressed, by its headers."""

    def encoder(self, encoding: str) -> BodyEncoder:
        """A compressor for one response body."""

@final
class BodyEncoder:
    """One body's compressor."""

    def chunk(self, data: bytes, more: bool) -> bytes:
        """`data` compressed: flushed when `more`, the stream finished when not."""

@final
class RateLimiter:
    """A rate limit for Python to ask (``src/layers/py.rs``; ``ignyx.ratelimit``)."""

    def __new__(
        cls,
        *,
        limit: str,
        storage: str,
        key: str,
        key_prefix: str,
        fail_open: bool,
        timeout: float,
        headers: bool,
    ) -> RateLimiter: ...
    def check(self, future: Any, key: str) -> None: ...

@final
class RedisClient:
    """A Redis server for Python (``src/store/py.rs``): replies resolve asyncio futures."""

    def __new__(cls, url: str, timeout: float = 1.0) -> RedisClient: ...
    @property
    def url(self) -> str: ...
    @property
    def timeout(self) -> float: ...
    def execute(
        self, future: Any, *args: bytes | str | int | float, again_if_cut: bool = False
    ) -> None: ...
    def listen(self, event_loop: Any, callback: Any) -> RedisListener: ...

@final
class RedisListener:
    """One subscriber's connection; messages reach its callback in batches."""

    def subscribe(self, future: Any, channel: bytes) -> None: ...
    def unsubscribe(self, future: Any, channel: bytes) -> None: ...
    def close(self) -> None: ...

@final
class SessionLayer:
    """The engine's session cookies for a Python ASGI stack (``src/layers/py.rs``)."""

    def __new__(
        cls,
        *,
        secret_key: str,
        session_cookie: str,
        max_age: int | None,
        path: str,
        same_site: str,
        https_only: bool,
        domain: str | None,
        partitioned: bool,
        backend: str | None,
        key_prefix: str,
        timeout: float,
    ) -> SessionLayer: ...
    def read(self, headers: Sequence[tuple[bytes, bytes]], now: int) -> bytes | None:
        """What the request's cookie carries, if it has a valid one: the session as base64
        JSON, or with a store the session's id."""

    def set_cookie(self, json: bytes, now: int) -> bytes | None:
        """The `Set-Cookie` value storing the session `json` (base64-encoded by the engine)."""

    def id_cookie(self, id: str, now: int) -> bytes | None:
        """The `Set-Cookie` value carrying a stored session's `id`."""

    @staticmethod
    def new_id() -> str:
        """A new id for a stored session."""

    def clear_cookie(self) -> bytes | None:
        """The `Set-Cookie` value clearing the session."""

@final
class StaticDirectories:
    """The directories a `StaticFiles` mount serves (``src/http/files.rs``)."""

    def __new__(
        cls,
        directories: Sequence[str],
        follow_symlink: bool,
        types: dict[str, str],
        unusual: Sequence[str],
    ) -> StaticDirectories: ...

@final
class FileChunks:
    """A file reply's bytes as an iterator of chunks, for an ASGI server."""

    def __iter__(self) -> FileChunks: ...
    def __next__(self) -> bytes: ...

@final
class ListeningSocket:
    """A listening socket bound once for several workers (by their supervisor), each of which
    serves it with `Server(app, fd=socket.fileno())` (``src/server/mod.rs``)."""

    def __new__(
        cls,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        uds: str | os.PathLike[str] | None = None,
        fd: int | None = None,
        backlog: int = 2048,
    ) -> ListeningSocket:
        """Listens as `Server` does, with the same arguments."""

    def fileno(self) -> int: ...
    @property
    def address(self) -> str:
        """Where it listens, as a URL to print."""

    def close(self) -> None:
        """Closes the socket, and removes the Unix socket file it created."""

@final
class Tls:
    """A certificate chain and its private key, read from PEM files, and the authorities of
    the client certificates asked for (``src/server/tls.rs``)."""

    def __new__(
        cls,
        certfile: str | os.PathLike[str],
        keyfile: str | os.PathLike[str] | None = None,
        *,
        password: str | None = None,
        ca_certs: str | os.PathLike[str] | None = None,
        cert_reqs: int = 0,
    ) -> Tls:
        """Reads the files now; ValueError naming the file that cannot be used."""

@final
class Server:
    """Binds at construction, serves in `serve()` (``src/server/mod.rs``)."""

    def __new__(
        cls,
        app: App,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        uds: str | os.PathLike[str] | None = None,
        fd: int | None = None,
        backlog: int = 2048,
        max_in_flight: int = 2048,
        sync_threads: int = 40,
        graceful_timeout: float = 30.0,
        header_timeout: float = 30.0,
        body_timeout: float = 60.0,
        limit_concurrency: int | None = None,
        max_requests: int | None = None,
        max_rss: int | None = None,
        max_head_size: int | None = None,
        ws_max_size: int = ...,  # 16 MiB
        ws_ping_interval: float | None = ...,  # 20.0 seconds
        ws_ping_timeout: float = 20.0,
        http: str = "auto",
        tls: Tls | None = None,
        proxy_headers: bool = False,
        forwarded_allow_ips: str = "127.0.0.1,::1",
        access_log: Any = None,
        access_log_format: str = "text",
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
        metrics_uds: str | os.PathLike[str] | None = None,
        metrics_worker: int | None = None,
        client_name: tuple[str, int] | None = None,
        server_header: bool = False,
    ) -> Server:
        """Listens on `host:port`, or on the Unix socket `uds`, or on the inherited listening
        socket `fd`; the first of `fd`, `uds` given wins over `host:port`. `client_name`
        names every request's client instead of its address (a TestClient's);
        `server_header` adds `Server: ignyx` to responses without one."""

    @property
    def host(self) -> str | None:
        """The address listened on (`None` for a Unix socket)."""

    @property
    def port(self) -> int | None: ...
    @property
    def address(self) -> str:
        """Where it listens, as a URL to print (`http://127.0.0.1:8000`, `unix:/run/app.sock`)."""

    def serve(self, event_loop: EngineLoop, handle_signals: bool = False) -> str | None:
        """Serves until `shutdown()` or, with `handle_signals`, SIGINT/SIGTERM, stepping
        `event_loop` (an `ignyx._runtime.EngineLoop` begun on this thread) between
        connections. The GIL is released except while Python runs. Returns why the server
        stopped itself (`"max_requests"`, `"max_rss"`), or `None` when it was told to."""

    def shutdown(self) -> None:
        """Asks a running (or about to run) `serve` to stop gracefully; callable from any thread."""

@final
class AsgiApp:
    """The compiled app for an ASGI server (``src/asgi/mod.rs``); see ``ignyx._asgi``."""

    def __new__(cls, app: App) -> AsgiApp: ...
    @property
    def max_body_size(self) -> int:
        """The largest request body the app accepts, in bytes."""

    def route(
        self, scope: dict[str, Any]
    ) -> AsgiCall | tuple[int, list[tuple[bytes, bytes]], bytes, None]:
        """Routes an `http` scope: the `AsgiCall` of its route, or the engine's own answer as
        `(status, headers, body, None)` (404, 405, the trailing-slash redirect, a CORS
        preflight; 413 when a routed request's `Content-Length` is over the limit)."""

    def websocket(self, scope: dict[str, Any]) -> tuple[Callable[..., Any], RequestData] | None:
        """The WebSocket route of a `websocket` scope, as `(call, request_data)`; `call` starts
        its handler as the native server does. `None` when no route matches."""

@final
class Ready:
    """An awaitable that is already done (``src/runtime/ready.rs``)."""

    def __await__(self) -> Generator[Any, None, Any]: ...
    def __next__(self) -> Any: ...

@final
class SentReply:
    """What an ASGI app sends, collected into the engine's reply (``src/http/sent.rs``)."""

    def __new__(cls, data: RequestData) -> SentReply: ...
    def receive(self) -> Awaitable[dict[str, Any]]:
        """ASGI `receive`: the request's body as one `http.request` message; after it, a
        future that does not resolve."""

    def send(self, message: dict[str, Any]) -> Awaitable[None]:
        """ASGI `send`: takes `http.response.start` and `http.response.body` messages. What
        it gives is done at once, unless a streamed body is ahead of its client: then it
        resolves once the client has caught up."""

    @property
    def answered(self) -> bool:
        """Whether the reply is known (whole, or the start of a stream)."""

    def answer_to(self, future: Any) -> None:
        """Resolves `future` once the reply is known (at once if it is)."""

    def close(self) -> None:
        """Ends a streamed body: the app has returned without ending it."""

    def abort(self) -> None:
        """Ends a streamed body unfinished: the app failed, and the client sees the body cut."""

@final
class ScopeOrigin:
    """The request an `engine_scope` scope was built from (``src/asgi/engine_scope.rs``)."""

def engine_scope(
    data: RequestData, app: Any, root_path: str, state: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Starlette's `http` scope of a request the engine read; `root_path` unless the request
    has one of its own. The stack's innermost app recognises it (`continued_route`)."""

def continued_route(
    scope: dict[str, Any], receive: Any
) -> AsgiCall | tuple[int, list[tuple[bytes, bytes]], bytes, None] | None:
    """The `AsgiCall` of a scope the native server built for a request it routed, or its
    CORS preflight answer, when the middleware left unchanged what routing reads; else
    `None` (then `AsgiApp.route` reads the scope). When `receive` is still the engine's
    own, the call has the body already (`needs_body` is false)."""

@final
class AsgiCall:
    """One routed HTTP request of the ASGI app, from its body to its reply."""

    @property
    def max_body_size(self) -> int:
        """The largest request body the app accepts, in bytes."""

    @property
    def is_async(self) -> bool:
        """Whether the route is `async` (else Python runs `start` off the event loop)."""

    @property
    def inline(self) -> bool:
        """Whether this `def` route has proven quick enough to run on the event loop itself
        (the native server's `InlinePolicy`); until then it runs in the threadpool."""

    def observe_pooled(self, seconds: float) -> None:
        """How long `start` took in the threadpool, in seconds."""

    def observe_inline(self, seconds: float) -> None:
        """How long `start` took on the event loop, in seconds."""

    @property
    def needs_body(self) -> bool:
        """Whether Python must read the body from `receive` and pass it to `start`."""

    def start(self, body: bytes | None = None) -> Coroutine[Any, Any, Any] | None:
        """Calls the route with the request's `body` (`None` when the call has it); returns
        the coroutine to await, if any."""

    def start_inline(self, body: bytes | None = None) -> Coroutine[Any, Any, Any] | None:
        """`start` for a `def` route that runs on the event loop (`inline`): in a copy of the
        current context, as the threadpool would run it, and timed for the route's policy."""

    def settle(self, value: Any) -> Coroutine[Any, Any, Any] | None:
        """What the awaited coroutine returned; returns the next coroutine to await, if any."""

    def fail(self, exc: BaseException) -> Coroutine[Any, Any, Any] | None:
        """What the awaited coroutine raised; returns the next coroutine to await, if any."""

    def too_large(self) -> tuple[int, list[tuple[bytes, bytes]], bytes, None]:
        """413, for a body that turned out to be over the limit while it was read."""

    def reply(self) -> tuple[int, list[tuple[bytes, bytes]], Any, Any]:
        """`(status, headers, body, background)`: `headers` a list of `(name, value)` bytes
        pairs (with `content-length` for a whole body), `body` bytes or an iterator of chunks
        (sync or async)."""

@final
class RequestData:
    """One request as the engine read it; wrapped by `ignyx.requests.Request`
    (``src/http/request.rs``)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str:
        """Percent-decoded, as routed (Starlette's ``scope["path"]``)."""

    @property
    def raw_path(self) -> bytes: ...
    @property
    def query_string(self) -> bytes: ...
    @property
    def http_version(self) -> str: ...
    @property
    def scheme(self) -> str: ...
    @property
    def session(self) -> Any:
        """The request's session object, when a sessions middleware gave it one."""

    @property
    def client(self) -> tuple[str, int] | None: ...
    @property
    def server(self) -> tuple[str, int] | None: ...
    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """Raw header pairs as ASGI gives them: lower-cased names, bytes values, in order."""

    @property
    def path_params(self) -> dict[str, str]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def root_path(self) -> str:
        """The ASGI scope's `root_path`: where a proxy or a mount put the app ("" on the
        native server)."""

    @property
    def state(self) -> dict[str, Any] | None:
        """The `state` dict of the ASGI scope the request came in; `None` on the native server."""

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), decoded as latin-1."""

    def header_all(self, name: str) -> list[str]:
        """Every value of header `name`, in order."""

    def query(self, name: str) -> str | None:
        """The last value of query parameter `name`, decoded."""

    def query_all(self, name: str) -> list[str]:
        """Every value of query parameter `name`, in order."""

    def query_items(self) -> list[tuple[str, str]]:
        """All decoded query pairs, in order."""

    def path_param(self, name: str) -> str | None: ...

@final
class InlinePolicy:
    """Whether a sync callable runs on the threadpool or inline, once it proved quick
    (``src/runtime/inline.rs``)."""

    def __new__(cls) -> InlinePolicy: ...
    @property
    def inline(self) -> bool:
        """Whether the callable may run inline now."""

    def observe_pooled(self, seconds: float) -> None:
        """Records how long a call took on the pool."""

    def observe_inline(self, seconds: float) -> None:
        """Records how long an inline call took."""

@final
class PoolThreads:
    """The engine's sync pool, the event loop's executor while serving
    (``src/runtime/executor.rs``)."""

    def run(self, callable: Callable[[], object]) -> bool:
        """Calls `callable()` in a pool thread; False, and nothing called, once the pool
        no longer takes work."""

@final
class ChunkSink:
    """Where the loop puts a streaming response's chunks (``src/http/stream.rs``)."""

    def send(self, chunk: bytes | bytearray | memoryview | str) -> bool:
        """Queues one chunk (bytes or str); False once the client has gone."""

    @property
    def must_wait(self) -> bool:
        """Whether the client is behind: await `wait_writable` before sending more."""

    def wait_writable(self, future: asyncio.Future[None]) -> None:
        """Resolves `future` once the client has caught up (or left)."""

    def close(self) -> None:
        """Ends the body."""

    def abort(self) -> None:
        """Ends the body unfinished (the iterator failed): the client sees it cut."""

@final
class CallSoon:
    """A loop's ``call_soon``, made in Rust (``src/runtime/callbacks.rs``): appends a
    `Handle` to `ready`, the loop's deque of callbacks due now."""

    def __new__(cls, ready: Any, event_loop: asyncio.AbstractEventLoop) -> CallSoon: ...
    def __call__(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> Handle: ...

@final
class Handle:
    """A callback `CallSoon` scheduled, with `asyncio.Handle`'s API."""

    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...
    def get_context(self) -> contextvars.Context: ...
    @property
    def _cancelled(self) -> bool: ...
    @property
    def _callback(self) -> Callable[..., object] | None: ...
    @property
    def _args(self) -> tuple[Any, ...] | None: ...
    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None: ...
    def _run(self) -> None: ...

@final
class CoroutineTask:
    """What `asyncio.current_task()` returns inside a request: a request's coroutine,
    stepped by the engine, with `asyncio.Task`'s API (``src/runtime/task.rs``)."""

    @property
    def _fut_waiter(self) -> asyncio.Future[Any] | None:
        """The future being awaited (asyncio's Task attribute, which anyio reads)."""

    @property
    def _must_cancel(self) -> bool: ...
    def _wakeup(self, _future: asyncio.Future[Any] | None) -> None:
        """The done-callback of an awaited future; also what asyncio calls to resume a task
        after a bare yield."""

    def cancel(self, msg: Any | None = None) -> bool: ...
    def cancelling(self) -> int: ...
    def uncancel(self) -> int: ...
    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def result(self) -> Any: ...
    def exception(self) -> BaseException | None: ...
    def add_done_callback(
        self,
        callback: Callable[[CoroutineTask], object],
        *,
        context: contextvars.Context | None = None,
    ) -> None: ...
    def remove_done_callback(self, callback: Callable[[CoroutineTask], object]) -> int: ...
    def get_coro(self) -> Coroutine[Any, Any, Any] | None: ...
    def get_context(self) -> contextvars.Context: ...
    def get_loop(self) -> asyncio.AbstractEventLoop: ...
    def get_name(self) -> Any: ...
    def set_name(self, name: object) -> None: ...

@final
class WebSocketChannel:
    """One WebSocket session as a handler sees it; wrapped by `ignyx.websockets.WebSocket`
    (``src/ws/channel.rs``)."""

    def accept(
        self, subprotocol: str | None = None, headers: Sequence[tuple[bytes, bytes]] = ...
    ) -> None:
        """Completes the handshake with a 101 carrying `subprotocol` and extra `headers`."""

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Closes with `code` and `reason`; before `accept()` the client gets HTTP 403."""

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Answers the upgrade request with an HTTP response instead (a denial response)."""

    def deny(self, status: int) -> None:
        """Answers the upgrade request with a bare HTTP `status` instead (an error before accept)."""

    def receive(self) -> str | bytes | tuple[int, str] | None:
        """The next message if one is queued: `str`, `bytes`, or `(code, reason)` once closed."""

    def wait(self, future: asyncio.Future[Any]) -> None:
        """Resolves the asyncio `future` with the next message."""

    def send_text(self, data: str) -> bool:
        """Queues a text message; true when the caller should await `wait_writable`."""

    def send_bytes(self, data: bytes) -> bool:
        """Queues a binary message; true when the caller should await `wait_writable`."""

    def wait_writable(self, future: asyncio.Future[Any]) -> None:
        """Resolves the asyncio `future` once queued messages are mostly written."""

def json_dumps(obj: Any) -> bytes:
    """`obj` encoded the way FastAPI encodes a response (``src/json.rs``)."""

def set_json_fallback(func: Callable[[Any], Any] | None) -> None:
    """`func(obj)` converts objects of unknown types into JSON-ready ones; `None` removes it."""

__all__ = [
    "continued_route",
    "engine_scope",
    "App",
    "AsgiApp",
    "AsgiCall",
    "BodyEncoder",
    "CallSoon",
    "ChunkSink",
    "CompressionLayer",
    "CoroutineTask",
    "CorsLayer",
    "FileChunks",
    "RateLimiter",
    "RedisClient",
    "RedisListener",
    "SessionLayer",
    "StaticDirectories",
    "FastParam",
    "FastPlan",
    "Handle",
    "InlinePolicy",
    "PoolThreads",
    "ListeningSocket",
    "ParamKind",
    "ParamSource",
    "Ready",
    "RequestData",
    "ScopeOrigin",
    "SentReply",
    "Server",
    "Tls",
    "WebSocketChannel",
    "json_dumps",
    "set_json_fallback",
]
