"""The ``ignyx`` command as a user runs it: each test writes an app into ``tmp_path``, runs
``ignyx`` (the console script, or ``python -m ignyx``) as a subprocess on 127.0.0.1 and a
free port, and asserts on what the user sees: the exit code, stderr, and the answers.

Every wait is bounded and every process started here is stopped by its PID. Workers
killed under load, request and memory recycling and SIGHUP reloads are the supervisor's
tests (test_supervisor.py); here ``--workers 2`` is only checked to serve and stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

import httpx
import pytest
from conftest import eventually, free_port, wait_for_port
from ignyx.config import Config

PYTHON_M = [sys.executable, "-m", "ignyx"]
# The console script pip installed next to the interpreter (not resolved: a venv's python
# is a symlink).
SCRIPT = [str(Path(sys.executable).with_name("ignyx"))]

# What each command changes from the settings' defaults, as its help says.
COMMAND_DEFAULTS: dict[str, dict[str, Any]] = {
    "run": {"host": "0.0.0.0"},
    "dev": {"reload": True, "log_level": "debug"},
}

STARTUP_LINE = "Ignyx serving on"
DEBUG_LINE = "startup hook says hello at debug level"

APP = f'''
import asyncio
import logging
import os

from ignyx import FastAPI, Request, WebSocket

VERSION = 1

app = FastAPI()


@app.on_event("startup")
def started():
    logging.getLogger("ignyx.error").debug("{DEBUG_LINE}")


@app.get("/")
def where(request: Request):
    return {{
        "pid": os.getpid(),
        "version": VERSION,
        "root_path": request.scope["root_path"],
        "greeting": os.environ.get("GREETING"),
    }}


@app.get("/sleep")
async def sleep(seconds: float = 0.5):
    await asyncio.sleep(seconds)
    return {{"slept": seconds}}


@app.post("/size")
async def size(request: Request):
    return {{"size": len(await request.body())}}


@app.websocket("/ws")
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())
'''


def tiny_app(found: str, name: str = "app", prelude: str = "") -> str:
    """An app named `name` whose GET / answers ``{"found": <found>}``."""
    return f"""{prelude}
from ignyx import FastAPI

{name} = FastAPI()


@{name}.get("/")
def root():
    return {{"found": {found}}}
"""


FACTORY_APP = """
from ignyx import FastAPI


def create_app():
    app = FastAPI()

    @app.get("/")
    def root():
        return {"found": "factory"}

    return app
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def child_env(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """This environment without the settings' variables (so the test's own environment
    cannot change what is tested), plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("IGNYX_") and key != "WEB_CONCURRENCY"
    }
    # An edited file must not be served from a stale .pyc (same size, same second).
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_process(process: subprocess.Popen, others: Sequence[int] = ()) -> None:
    """Stops `process` (gracefully, else killed), then any of its `others` (pids of its
    workers or children seen by the test) still running."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    for pid in others:
        if pid != process.pid and eventually(lambda pid=pid: not alive(pid), 5) is False:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- commands that end --------------------------------------------------------------------


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_cli(
    cwd: Path,
    args: Sequence[str],
    *,
    env: Optional[dict[str, str]] = None,
    launcher: Sequence[str] = SCRIPT,
    timeout: float = 15.0,
) -> Result:
    """Runs a command that should end by itself; one still running after `timeout` is
    stopped and fails the test."""
    process = subprocess.Popen(
        [*launcher, *args],
        cwd=cwd,
        env=child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(process)
        stdout, stderr = process.communicate(timeout=10)
        tail = "\n".join(stderr.splitlines()[-15:])
        pytest.fail(
            f"`ignyx {' '.join(args)}` still running after {timeout} s; stderr ends:\n{tail}"
        )
    return Result(process.returncode, stdout, stderr)


def assert_one_error_line(result: Result, *expected: str) -> str:
    """The command failed with exit code 1 and one ``Error:`` line (containing each of
    `expected`), without a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], result.stderr
    assert result.returncode == 1, result.stderr
    return errors[0]


# --- servers --------------------------------------------------------------------------------


@dataclass
class Served:
    process: subprocess.Popen
    port: Optional[int]
    log: Path
    uds: Optional[Path] = None
    pids: set[int] = field(default_factory=set)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def client(self, **kwargs: Any) -> httpx.Client:
        if self.uds is not None:
            transport = httpx.HTTPTransport(uds=str(self.uds))
            return httpx.Client(transport=transport, base_url="http://ignyx", **kwargs)
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", **kwargs)

    def get(self, path: str = "/", **kwargs: Any) -> httpx.Response:
        """One request on a new connection; the pid it names is remembered, so a worker or
        child the test has seen is never left running."""
        with self.client(timeout=10) as client:
            response = client.get(path, **kwargs)
        with contextlib.suppress(ValueError, TypeError, KeyError):
            self.pids.add(int(response.json()["pid"]))
        return response

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout)


@contextlib.contextmanager
def serve(
    cwd: Path,
    args: Sequence[str],
    *,
    port: Optional[int] = None,
    uds: Optional[Path] = None,
    env: Optional[dict[str, str]] = None,
    launcher: Sequence[str] = SCRIPT,
    pass_fds: Sequence[int] = (),
) -> Iterator[Served]:
    """Runs `args` as a server until the block ends; waits until it accepts connections
    on `port` (or `uds`) first."""
    log = cwd / f"stderr-{time.monotonic_ns()}.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [*launcher, *args],
            cwd=cwd,
            env=child_env(env),
            stdout=subprocess.DEVNULL,
            stderr=sink,
            pass_fds=tuple(pass_fds),
        )
    served = Served(process, port, log, uds)
    try:
        try:
            if uds is not None:
                wait_for_socket_file(uds, process)
            elif port is not None:
                wait_for_port(port, process, timeout=15)
        except (RuntimeError, TimeoutError) as exc:
            pytest.fail(f"`ignyx {' '.join(args)}`: {exc}; stderr:\n{served.stderr()}")
        yield served
    finally:
        stop_process(process, sorted(served.pids))


def wait_for_socket_file(path: Path, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(0.5)
                sock.connect(str(path))
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {path}")


def local(port: int) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(port)]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """tmp_path with the test app as main.py."""
    write(tmp_path, {"main.py": APP})
    return tmp_path


# --- 1. help ---------------------------------------------------------------------------------


def test_ignyx_help_lists_the_commands(tmp_path):
    result = run_cli(tmp_path, ["--help"])
    assert result.returncode == 0, result.stderr
    assert "usage: ignyx" in result.stdout
    assert re.search(r"^\s+run\s", result.stdout, re.M)
    assert re.search(r"^\s+dev\s", result.stdout, re.M)


@pytest.mark.parametrize(
    ("command", "launcher"), [("run", SCRIPT), ("dev", PYTHON_M)], ids=["run", "dev"]
)
def test_command_help_shows_every_setting_as_a_flag_with_its_default(tmp_path, command, launcher):
    result = run_cli(tmp_path, [command, "--help"], launcher=launcher)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: ignyx {command}")
    # argparse wraps lines; words are compared with the whitespace between them collapsed.
    text = " ".join(result.stdout.split())
    options = text[text.index("options:") :]
    starts = {}
    for setting in fields(Config):
        flag = "--" + setting.name.replace("_", "-")
        found = re.search(rf"(?<!\S){re.escape(flag)}(?=[ ,])", options)
        assert found, f"{flag} is not in `ignyx {command} --help`"
        starts[setting.name] = found.start()
    ends = sorted(starts.values())[1:] + [len(options)]
    for setting in fields(Config):
        start = starts[setting.name]
        entry = options[start : min(end for end in ends if end > start)]
        default = COMMAND_DEFAULTS[command].get(setting.name, setting.default)
        assert default is not MISSING
        if default in (None, ""):
            assert "(default:" not in entry, entry
        else:
            assert f"(default: {default})" in entry, entry


# --- 2. finding the app ----------------------------------------------------------------------

DISCOVERY = {
    "module-attribute": ({"main.py": tiny_app("'main'")}, ["main:app"], "main"),
    "file": ({"main.py": tiny_app("'main.py'")}, ["main.py"], "main.py"),
    "file-in-a-package": (
        {
            "pkg/__init__.py": "",
            "pkg/models.py": "X = 'pkg.models.X'\n",
            "pkg/api.py": tiny_app("X", prelude="from .models import X"),
        },
        ["pkg/api.py"],
        "pkg.models.X",
    ),
    "no-path-main-py": ({"main.py": tiny_app("'default'")}, [], "default"),
    "api-variable": (
        # Two apps in the file: `api` is taken by its name, not as the only app.
        {"service.py": tiny_app("'api'", name="api") + "\nother = FastAPI()\n"},
        ["service.py"],
        "api",
    ),
    "app-dir": ({"sub/main.py": tiny_app("'sub'")}, ["--app-dir", "sub", "main:app"], "sub"),
    "factory": ({"main.py": FACTORY_APP}, ["--factory", "main:create_app"], "factory"),
}


@pytest.mark.parametrize(
    ("case", "launcher"),
    [*((case, SCRIPT) for case in DISCOVERY)]
    + [("module-attribute", PYTHON_M), ("no-path-main-py", PYTHON_M)],
    ids=[*DISCOVERY, "module-attribute-python-m", "no-path-main-py-python-m"],
)
def test_the_app_is_found(tmp_path, case, launcher):
    files, args, found = DISCOVERY[case]
    write(tmp_path, files)
    port = free_port()
    with serve(tmp_path, ["run", *args, *local(port)], port=port, launcher=launcher) as server:
        response = server.get()
        assert (response.status_code, response.json()) == (200, {"found": found})
        assert server.stop() == 0


# --- 3. mistakes -----------------------------------------------------------------------------

STARLETTE_APP = "from starlette.applications import Starlette\napp = Starlette()\n"

MISTAKES = {
    "unknown-module": ({}, ["nowhere:app"], {}, ['could not import module "nowhere"']),
    "unknown-attribute": ({"main.py": APP}, ["main:nope"], {}, ['no attribute "nope"']),
    "a-dict": ({"main.py": "app = {'a': 1}\n"}, ["main:app"], {}, ["not an Ignyx app", "dict"]),
    "a-starlette-app": ({"main.py": STARLETTE_APP}, ["main:app"], {}, ["not an Ignyx app"]),
    "no-app-named-or-found": ({}, [], {}, ["main.py"]),
    "a-file-without-an-app": ({"main.py": "x = 1\n"}, ["main.py"], {}, ["no Ignyx app"]),
    "a-missing-file": ({}, ["missing.py"], {}, ["missing.py"]),
    "factory-that-is-not-one": ({"main.py": APP}, ["main:app", "--factory"], {}, []),
    "bad-port-flag": ({"main.py": APP}, ["main:app", "--port", "abc"], {}, ["port", "abc"]),
    "bad-port-env": ({"main.py": APP}, ["main:app"], {"IGNYX_PORT": "abc"}, ["IGNYX_PORT", "abc"]),
    "bad-workers-env": (
        {"main.py": APP},
        ["main:app"],
        {"WEB_CONCURRENCY": "many"},
        ["WEB_CONCURRENCY"],
    ),
    "missing-log-config": (
        {"main.py": APP},
        ["main:app", "--log-config", "missing.json"],
        {},
        ["missing.json"],
    ),
    "missing-env-file": (
        {"main.py": APP},
        ["main:app", "--env-file", "missing.env"],
        {},
        ["missing.env"],
    ),
    "unknown-attribute-with-workers": (
        {"main.py": APP},
        ["main:nope", "--workers", "2"],
        {},
        ['no attribute "nope"'],
    ),
}


@pytest.mark.parametrize("case", MISTAKES)
def test_a_mistake_ends_with_one_error_line(tmp_path, case):
    files, args, env, expected = MISTAKES[case]
    write(tmp_path, files)
    # Never served when all goes well; on 127.0.0.1 and a free port if it is.
    listen = ["--host", "127.0.0.1"]
    if "IGNYX_PORT" not in env:
        listen += ["--port", str(free_port())]
    args = ["run", *listen, *args]
    assert_one_error_line(run_cli(tmp_path, args, env=env, timeout=10), *expected)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_port_in_use_ends_with_one_error_line(app_dir, workers):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = ["run", "main:app", *local(port), "--workers", str(workers)]
        result = run_cli(app_dir, args)
    assert_one_error_line(result, "in use")


def test_an_unknown_flag_is_told_by_argparse_with_usage(app_dir):
    result = run_cli(app_dir, ["run", "main:app", "--no-such-flag"])
    assert result.returncode == 2
    assert "usage: ignyx" in result.stderr
    assert "unrecognized arguments: --no-such-flag" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_choice_is_told_by_argparse_with_usage(app_dir):
    result = run_cli(app_dir, ["run", "main:app", "--log-level", "loud"])
    assert result.returncode == 2
    assert "usage: ignyx run" in result.stderr
    assert "--log-level: invalid choice: 'loud'" in result.stderr
    assert "Traceback" not in result.stderr


# --- 4. settings from the environment --------------------------------------------------------


def test_ignyx_port_picks_the_port(app_dir):
    port = free_port()
    args = ["run", "main:app", "--host", "127.0.0.1"]
    with serve(app_dir, args, port=port, env={"IGNYX_PORT": str(port)}) as server:
        assert server.get().status_code == 200
        assert f"{STARTUP_LINE} http://127.0.0.1:{port}" in server.stderr()


def test_the_port_flag_wins_over_ignyx_port(app_dir):
    from_env, from_flag = free_port(), free_port()
    args = ["run", "main:app", *local(from_flag)]
    with serve(app_dir, args, port=from_flag, env={"IGNYX_PORT": str(from_env)}) as server:
        assert server.get().status_code == 200
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", from_env), timeout=1).close()


def test_an_env_file_sets_settings_and_the_apps_environment(app_dir):
    (app_dir / "settings.env").write_text(
        "# read by ignyx before the settings\n"
        "IGNYX_ROOT_PATH=/api\n"
        'export GREETING="hello from the env file"\n'
    )
    port = free_port()
    args = ["run", "main:app", *local(port), "--env-file", "settings.env"]
    with serve(app_dir, args, port=port) as server:
        body = server.get().json()
        assert body["root_path"] == "/api"
        assert body["greeting"] == "hello from the env file"


def answering_pids(server: Served, count: int, timeout: float = 15.0) -> set[int]:
    """The pids that answer GET / over new connections, until `count` have or `timeout`."""
    pids: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(pids) < count and time.monotonic() < deadline:
        try:
            pids.add(server.get().json()["pid"])
        except httpx.TransportError:
            time.sleep(0.05)
    return pids


def test_web_concurrency_sets_the_workers(app_dir):
    port = free_port()
    with serve(
        app_dir, ["run", "main:app", *local(port)], port=port, env={"WEB_CONCURRENCY": "2"}
    ) as server:
        pids = answering_pids(server, 2)
        assert len(pids) == 2, pids
        assert server.process.pid not in pids  # the supervisor only supervises
        assert "with 2 workers" in server.stderr()
        assert server.stop() == 0


# --- 5. each serving flag --------------------------------------------------------------------


def test_uds_serves_on_a_unix_socket_removed_on_sigterm(app_dir):
    path = app_dir / "ignyx.sock"
    with serve(app_dir, ["run", "main:app", "--uds", str(path)], uds=path) as server:
        assert server.get().status_code == 200
        assert f"{STARTUP_LINE} unix:{path}" in server.stderr()
        assert server.stop() == 0
    assert not path.exists()


def test_fd_serves_on_an_inherited_socket(app_dir):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port, fd = listener.getsockname()[1], listener.fileno()
        args = ["run", "main:app", "--fd", str(fd)]
        with serve(app_dir, args, port=port, pass_fds=[fd]) as server:
            assert server.get().status_code == 200
            assert f"{STARTUP_LINE} descriptor {fd}" in server.stderr()
            assert server.stop() == 0


def test_root_path_reaches_the_app(app_dir):
    port = free_port()
    with serve(
        app_dir, ["run", "main:app", *local(port), "--root-path", "/api/v1"], port=port
    ) as server:
        assert server.get().json()["root_path"] == "/api/v1"


def test_max_body_size_refuses_larger_bodies_with_413(app_dir):
    port = free_port()
    with serve(
        app_dir, ["run", "main:app", *local(port), "--max-body-size", "1k"], port=port
    ) as server:
        with server.client(timeout=10) as client:
            small = client.post("/size", content=b"x" * 512)
            assert (small.status_code, small.json()) == (200, {"size": 512})
            assert client.post("/size", content=b"x" * 2048).status_code == 413


def concurrent_gets(server: Served, path: str, count: int) -> list[tuple[int, str]]:
    """`count` requests for `path` at once, each on its own connection."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def one(index: int) -> None:
        with server.client(timeout=15) as client:
            start.wait(10)
            try:
                response = client.get(path)
                results[index] = (response.status_code, response.text)
            except httpx.HTTPError as exc:
                results[index] = (0, repr(exc))

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert all(result is not None for result in results), results
    return results


def test_limit_concurrency_answers_503_past_the_limit(app_dir):
    port = free_port()
    args = ["run", "main:app", *local(port), "--limit-concurrency", "2"]
    with serve(app_dir, args, port=port) as server:
        results = concurrent_gets(server, "/sleep?seconds=0.5", 6)
    statuses = [status for status, _ in results]
    assert set(statuses) == {200, 503}, results
    assert statuses.count(200) >= 2, results
    assert all(text == "Service Unavailable" for status, text in results if status == 503)


def test_sync_threads_and_max_in_flight_are_accepted_and_every_request_is_answered(app_dir):
    port = free_port()
    args = ["run", "main:app", *local(port), "--sync-threads", "2", "--max-in-flight", "2"]
    with serve(app_dir, args, port=port) as server:
        assert server.get().status_code == 200  # a def handler, on the sync threads
        # Past --max-in-flight requests wait in the engine; none is refused.
        results = concurrent_gets(server, "/sleep?seconds=0.3", 6)
        assert [status for status, _ in results] == [200] * 6, results


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length; returns its head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return head


REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def closed_by_peer(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_timeout_keep_alive_closes_an_idle_connection(app_dir):
    port = free_port()
    args = ["run", "main:app", *local(port), "--timeout-keep-alive", "1"]
    with serve(app_dir, args, port=port):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(REQUEST)
            assert read_response(sock).startswith(b"HTTP/1.1 200")
            idle_since = time.monotonic()
            assert closed_by_peer(sock, within=3.0)
            assert 0.5 < time.monotonic() - idle_since < 3.0


def test_the_default_keep_alive_keeps_an_idle_connection_open(app_dir):
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port)], port=port):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(REQUEST)
            assert read_response(sock).startswith(b"HTTP/1.1 200")
            assert not closed_by_peer(sock, within=2.0)
            sock.settimeout(5)
            sock.sendall(REQUEST)  # and it still serves
            assert read_response(sock).startswith(b"HTTP/1.1 200")


def get_with_header(server: Served, size: int) -> Any:
    """The status of GET / with a header of `size` bytes, or "closed"."""
    try:
        with server.client(timeout=10) as client:
            return client.get("/", headers={"x-padding": "a" * size}).status_code
    except httpx.TransportError:
        return "closed"


@pytest.mark.parametrize("limit", ["8k", None], ids=["8k", "default"])
def test_h11_max_incomplete_event_size_limits_the_request_head(app_dir, limit):
    port = free_port()
    args = ["run", "main:app", *local(port)]
    if limit:
        args += ["--h11-max-incomplete-event-size", limit]
    with serve(app_dir, args, port=port) as server:
        assert get_with_header(server, 4 * 1024) == 200
        big = get_with_header(server, 20 * 1024)
        if limit:
            assert big in (431, "closed")
        else:
            assert big == 200
        assert get_with_header(server, 4 * 1024) == 200  # and it keeps serving


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_backlog_sets_the_listen_queue(app_dir):
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port), "--backlog", "100"], port=port):
        listing = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, timeout=10
        ).stdout.split()
        # State Recv-Q Send-Q Local Peer: Send-Q of a listening socket is its backlog.
        assert listing[:1] == ["LISTEN"], listing
        assert listing[2] == "100", listing


def test_timeout_graceful_shutdown_bounds_the_wait_for_requests_in_progress(app_dir):
    port = free_port()
    args = ["run", "main:app", *local(port), "--timeout-graceful-shutdown", "1"]
    with serve(app_dir, args, port=port) as server:
        with server.client(timeout=10) as client:
            slow = threading.Thread(
                target=_quietly, args=(client.get, "/sleep?seconds=5"), daemon=True
            )
            slow.start()
            time.sleep(0.5)  # the request is sleeping in its handler
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            try:
                code = server.process.wait(6)
            except subprocess.TimeoutExpired:
                code = None
            took = time.monotonic() - signalled
            slow.join(10)
        assert code is not None and took < 3.0, f"still running {took:.1f} s after SIGTERM"
        # Not at once either: the request in progress was given its second.
        assert took > 0.8, f"exited {took:.1f} s after SIGTERM"
        assert code == 0, server.stderr()


def _quietly(call: Any, *args: Any) -> None:
    with contextlib.suppress(httpx.HTTPError):
        call(*args)


@pytest.mark.parametrize(("level", "shown"), [("warning", False), ("debug", True)])
def test_log_level_sets_what_is_logged(app_dir, level, shown):
    port = free_port()
    with serve(
        app_dir, ["run", "main:app", *local(port), "--log-level", level], port=port
    ) as server:
        assert server.get().status_code == 200
        assert server.stop() == 0
        stderr = server.stderr()
    assert (STARTUP_LINE in stderr) is shown, stderr
    assert (DEBUG_LINE in stderr) is shown, stderr


def test_log_config_configures_the_ignyx_loggers(app_dir):
    log_file = app_dir / "ignyx.log"
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(log_file),
                "formatter": "plain",
            }
        },
        "loggers": {"ignyx": {"handlers": ["file"], "level": "INFO", "propagate": False}},
    }
    (app_dir / "logging.json").write_text(json.dumps(config))
    port = free_port()
    args = ["run", "main:app", *local(port), "--log-config", "logging.json"]
    with serve(app_dir, args, port=port) as server:
        assert server.get().status_code == 200
        assert eventually(lambda: log_file.exists() and STARTUP_LINE in log_file.read_text())
        assert STARTUP_LINE not in server.stderr()


def test_ws_max_size_closes_a_websocket_with_1009_past_it(app_dir):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port), "--ws-max-size", "1k"], port=port):
        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5, close_timeout=2) as ws:
            ws.send("small")
            assert ws.recv(timeout=5) == "small"
            ws.send("x" * 2048)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


# --- 6. run's and dev's defaults, and reloading ----------------------------------------------


def test_run_listens_on_every_interface_by_default_with_info_logs(app_dir):
    port = free_port()
    with serve(app_dir, ["run", "main:app", "--port", str(port)], port=port) as server:
        assert server.get().status_code == 200
        assert server.stop() == 0
        stderr = server.stderr()
    assert f"{STARTUP_LINE} http://0.0.0.0:{port}" in stderr, stderr
    assert DEBUG_LINE not in stderr


def test_dev_listens_on_localhost_with_debug_logs(app_dir):
    port = free_port()
    with serve(app_dir, ["dev", "main.py", "--port", str(port)], port=port) as server:
        assert server.get().status_code == 200
        assert server.stop(signal.SIGINT) == 0
        stderr = server.stderr()
    assert DEBUG_LINE in stderr, stderr
    assert f"{STARTUP_LINE} http://127.0.0.1:{port}" in stderr, stderr


def test_dev_reloads_on_change_and_stops_on_sigint(app_dir):
    port = free_port()
    with serve(app_dir, ["dev", "main.py", "--port", str(port)], port=port) as server:
        first = server.get().json()
        assert first["version"] == 1
        # Replaced as an editor saves a file.
        edited = app_dir / "main.py.saving"
        edited.write_text(APP.replace("VERSION = 1", "VERSION = 2"))
        os.replace(edited, app_dir / "main.py")

        def version_2() -> Optional[dict[str, Any]]:
            try:
                body = server.get().json()
            except httpx.TransportError:
                return None
            return body if body["version"] == 2 else None

        second = eventually(version_2, timeout=10)
        assert second, f"still version 1 after 10 s; stderr:\n{server.stderr()}"
        assert second["pid"] != first["pid"]
        assert eventually(lambda: not alive(first["pid"]), 5), "the old server still runs"
        assert server.stop(signal.SIGINT) == 0
        assert eventually(lambda: not alive(second["pid"]), 5), "the server outlived the reloader"


# --- 7. stopping -----------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_signal_ends_run_with_exit_code_0(app_dir, workers, signum):
    port = free_port()
    args = ["run", "main:app", *local(port), "--workers", str(workers)]
    with serve(app_dir, args, port=port) as server:
        pids = answering_pids(server, workers)
        assert len(pids) == workers, pids
        assert server.stop(signum) == 0, server.stderr()
        assert "Traceback" not in server.stderr()
        for pid in pids:
            assert eventually(lambda pid=pid: not alive(pid), 5), f"worker {pid} still runs"


def test_an_app_run_at_the_top_of_the_module_is_left_to_the_command(tmp_path):
    """The README's app ends with an unguarded `app.run(...)` (for `python main.py`);
    `ignyx run main.py` serves it on its own settings instead of running that call."""
    (tmp_path / "main.py").write_text(
        "from ignyx import Ignyx\n\napp = Ignyx()\n\n\n@app.get('/')\ndef root():\n"
        "    return {'served': 'by the command'}\n\n\napp.run(host='0.0.0.0', port=1)\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ignyx",
            "run",
            "main.py",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, process)
        assert httpx.get(f"http://127.0.0.1:{port}/").json() == {"served": "by the command"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert "app.run() skipped" in process.stderr.read()


def test_a_sigterm_while_workers_start_stops_every_one_gracefully(app_dir):
    """A SIGTERM that reaches workers still starting (after the first one answers) stops
    them all gracefully: none is left serving until the supervisor kills it. Before the
    fix, a signal between Python's handler and the engine's own was lost in most runs."""
    for _ in range(3):
        port = free_port()
        args = ["run", "main:app", *local(port), "--workers", "4"]
        args += ["--timeout-graceful-shutdown", "3"]
        with serve(app_dir, args, port=port) as server:
            assert server.get().status_code == 200
            assert server.stop() == 0
        assert "did not stop in time" not in server.stderr()


def test_app_run_refuses_reload_which_needs_the_command():
    import ignyx

    with pytest.raises(ValueError, match="ignyx dev"):
        ignyx.FastAPI().run(reload=True)
