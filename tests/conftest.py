"""Shared fixtures: one app definition built with FastAPI's and with Ignyx's imports, and
a differential check that sends the same request to both and compares what a user sees.

    def build(fw):
        app = fw.FastAPI()

        @app.get("/items/{item_id}")
        def read_item(item_id: int):
            return {"item_id": item_id}

        return app

    @pytest.fixture(scope="module")
    def clients(dual):
        return dual(build)

    def test_item(clients):
        response = differential(clients, "GET", "/items/7")
        assert response.json() == {"item_id": 7}
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Callable, Iterator, Optional

import httpx
import pytest

FRAMEWORKS = ("fastapi", "ignyx")

# The names an app definition takes from the framework, the same in both.
_NAMES = (
    "FastAPI",
    "APIRouter",
    "Query",
    "Path",
    "Body",
    "Header",
    "Cookie",
    "Depends",
    "HTTPException",
    "Request",
    "Response",
    "WebSocket",
    "WebSocketDisconnect",
    "status",
)

# Headers a user's code or browser acts on; compared by `differential`.
COMPARED_HEADERS = (
    "content-type",
    "location",
    "www-authenticate",
    "vary",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
    "access-control-allow-private-network",
)


def framework(name: str) -> SimpleNamespace:
    """The framework's public names: ``fw.FastAPI``, ``fw.Query``, ``fw.responses``..."""
    if name == "fastapi":
        import fastapi
        import fastapi.middleware.cors
        import fastapi.responses
        import fastapi.testclient

        module, responses = fastapi, fastapi.responses
        cors = fastapi.middleware.cors.CORSMiddleware
        client = fastapi.testclient.TestClient
    elif name == "ignyx":
        import ignyx
        import ignyx.middleware
        import ignyx.responses
        import ignyx.testclient

        module, responses = ignyx, ignyx.responses
        cors = ignyx.middleware.CORSMiddleware
        client = ignyx.testclient.TestClient
    else:
        raise ValueError(name)
    names = {n: getattr(module, n) for n in _NAMES}
    return SimpleNamespace(
        name=name, responses=responses, CORSMiddleware=cors, TestClient=client, **names
    )


def make_app(name: str, build: Callable[[SimpleNamespace], Any]) -> Any:
    """Builds one app definition, ``build(fw)``, with the imports of framework `name`."""
    return build(framework(name))


class Dual:
    """The same app served by FastAPI's TestClient and by Ignyx's."""

    def __init__(self, build: Callable[[SimpleNamespace], Any]) -> None:
        self.fastapi_app = make_app("fastapi", build)
        self.ignyx_app = make_app("ignyx", build)
        self.fastapi = framework("fastapi").TestClient(
            self.fastapi_app, raise_server_exceptions=False
        )
        self.ignyx = framework("ignyx").TestClient(self.ignyx_app, raise_server_exceptions=False)

    def request(self, method: str, url: str, **kwargs: Any) -> tuple[Any, Any]:
        """Sends one request to both; returns ``(fastapi_response, ignyx_response)``."""
        kwargs.setdefault("follow_redirects", False)
        return (
            self.fastapi.request(method, url, **kwargs),
            self.ignyx.request(method, url, **kwargs),
        )

    def close(self) -> None:
        self.fastapi.close()
        self.ignyx.close()


def allowed_methods(response: Any) -> Optional[set[str]]:
    """The ``Allow`` header as a set of methods, without HEAD.

    Ignyx answers HEAD for every GET route and says so in ``Allow``; FastAPI does not
    (its GET routes give 405 to HEAD). Starlette also lists only the methods of the first
    route whose path matched, where Ignyx lists every route of that path: tests with
    several routes on one path assert Ignyx's header on its own.
    """
    value = response.headers.get("allow")
    if value is None:
        return None
    return {m.strip() for m in value.split(",")} - {"HEAD"}


def compared_headers(response: Any) -> dict[str, Any]:
    headers = {name: response.headers.get(name) for name in COMPARED_HEADERS}
    headers["set-cookie"] = response.headers.get_list("set-cookie")
    headers["allow"] = allowed_methods(response)
    return headers


def differential(dual: Dual, method: str, url: str, **kwargs: Any) -> Any:
    """Sends the same request to FastAPI and Ignyx and asserts the same status, the same
    body bytes (so the same JSON key order) and the same headers that matter. Returns
    Ignyx's response for further assertions."""
    theirs, ours = dual.request(method, url, **kwargs)
    assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content), (
        f"{method} {url}: FastAPI gave {theirs.status_code} {theirs.content!r}, "
        f"Ignyx gave {ours.status_code} {ours.content!r}"
    )
    assert compared_headers(ours) == compared_headers(theirs), f"{method} {url}"
    return ours


def pytest_configure(config: pytest.Config) -> None:
    # Starlette asks its TestClient users to move to httpx2; FastAPI is only the reference.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture(scope="module")
def dual() -> Iterator[Callable[[Callable[[SimpleNamespace], Any]], Dual]]:
    """A factory: ``dual(build)`` serves `build`'s app with both frameworks until the end
    of the test module."""
    made: list[Dual] = []

    def factory(build: Callable[[SimpleNamespace], Any]) -> Dual:
        pair = Dual(build)
        made.append(pair)
        return pair

    yield factory
    for pair in made:
        pair.close()


@pytest.fixture(scope="session", params=FRAMEWORKS)
def fw(request: pytest.FixtureRequest) -> SimpleNamespace:
    """Parametrises a test over both frameworks' imports."""
    return framework(request.param)


# --- live servers ---------------------------------------------------------------------------


@contextlib.contextmanager
def live_server(app: Any, **options: Any) -> Iterator[Any]:
    """Serves `app` on a free port of 127.0.0.1 from this process; yields the server."""
    from ignyx.server import Server

    server = Server(app, "127.0.0.1", 0, **options)
    server.start_in_thread()
    try:
        yield server
    finally:
        server.shutdown()


@contextlib.contextmanager
def served_script(
    script: Path, source: str, env: Optional[dict[str, str]] = None
) -> Iterator[tuple[subprocess.Popen, int]]:
    """Writes `source` (an app that serves on the port its first argument names) to `script`
    and runs it in a process of its own, with `env` added to the environment; yields the
    process and its port once it accepts connections, and stops it afterwards."""
    script.write_text(source)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        cwd=script.parent,
        env={**os.environ, **(env or {})},
    )
    try:
        wait_for_port(port, process)
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=30)


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(relative: str, framework: str) -> ModuleType:
    """The example at `relative` (under ``examples/``), its ``from ignyx...`` imports made
    from `framework`'s package of the same name (``fastapi`` for its FastAPI twin)."""
    path = EXAMPLES / relative
    source, swapped = re.subn(
        r"^from ignyx((?:\.\w+)*) import",
        rf"from {framework}\1 import",
        path.read_text(),
        flags=re.M,
    )
    assert swapped, f"{relative} imports nothing from ignyx"
    name = f"example_{framework}_{path.stem}"
    module = ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module  # Pydantic looks its models' module up there
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def get_json(connection: http.client.HTTPConnection, path: str) -> Any:
    """GET `path` on a kept-alive `connection`; the JSON body of its 200."""
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, (path, response.status, body)
    return json.loads(body)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: Any = None, timeout: float = 30.0) -> None:
    """Waits until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port}")


def recv_until(sock: socket.socket, marker: bytes) -> bytes:
    """What `sock` receives until `marker` has come, or the peer closes."""
    received = b""
    while marker not in received:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def settled(count: Callable[[], int], interval: float = 0.05, tries: int = 40) -> int:
    """`count()` once two readings `interval` seconds apart agree (threads that take a moment
    to exit, a producer that takes a moment to stop), or the last reading after `tries`."""
    previous = count()
    for _ in range(tries):
        time.sleep(interval)
        current = count()
        if current == previous:
            return current
        previous = current
    return previous


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Polls `check` until it returns something truthy (the server acts after the client)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.01)


@contextlib.contextmanager
def under_uvicorn(app: Any) -> Iterator[str]:
    """Serves `app` as an ASGI app with uvicorn, on a thread of this process; yields its URL."""
    import threading

    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        assert eventually(lambda: server.started, timeout=15), "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def http_client(port: int, **kwargs: Any) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", **kwargs)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


# What a public authority puts in what it signs, as strict clients (Python 3.13's default
# verification, browsers) require it.
_LEAF = (
    "basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
)
_USES = {
    "server": "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    "client": "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
}


def private_authority(directory: Path) -> Path:
    """Makes, in `directory`, a private certificate authority (ca.pem, ca.key), a server
    certificate it signed for localhost and 127.0.0.1 (server.pem, server.key) and a client
    certificate it signed (client.pem, client.key), with the extensions a public authority
    would give them; returns `directory`."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)  # fmt: skip
    for name, cn in (("server", "localhost"), ("client", "alice")):
        (directory / f"{name}.ext").write_text(_LEAF + _USES[name])
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                f"{name}.csr", "-subj", f"/CN={cn}", cwd=directory)  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile",
                f"{name}.ext", cwd=directory)  # fmt: skip
    return directory


@pytest.fixture
def redis_server() -> Iterator[Any]:
    """A Redis of the test's own (``tests/redis_server.py``), stopped after it."""
    from redis_server import RedisServer

    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()
