"""The access log as a user sees it: ``ignyx run`` as a subprocess, requests over real
sockets, and its stderr (or the file a ``--log-config`` sends ``ignyx.access`` to) read
back. The lines are compared with uvicorn's for the same requests to the same app."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path

import httpx
import pytest
from conftest import eventually, free_port, wait_for_port
from test_cli import SCRIPT, child_env, local, serve, stop_process, write

APP = """
from ignyx import FastAPI

app = FastAPI()


@app.get("/users/{user_id}")
def user(user_id: int):
    return {"id": user_id}
"""

# `INFO:     127.0.0.1:51234 - "GET /users/7?full=1 HTTP/1.1" 200 OK`, the client's port
# left out (it differs from run to run).
LINE = re.compile(r'^INFO: +127\.0\.0\.1:\d+ - (".*" \d{3} .*)$')


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    write(tmp_path, {"main.py": APP})
    return tmp_path


def requests_made(port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        assert client.get("/users/7?full=1").status_code == 200
        assert client.get("/users/x").status_code == 422
        assert client.get("/nowhere").status_code == 404
        assert client.post("/users/7").status_code == 405


def access_lines(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := LINE.match(line))]


def ignyx_lines(app_dir: Path, *flags: str) -> list[str]:
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port), *flags], port=port) as server:
        requests_made(port)
        eventually(lambda: len(access_lines(server.stderr())) >= 4, 5)
        return access_lines(server.stderr())


def test_lines_are_uvicorns_for_the_same_requests(app_dir):
    ours = ignyx_lines(app_dir)
    port = free_port()
    uvicorn_app = APP.replace("from ignyx import FastAPI", "from fastapi import FastAPI")
    write(app_dir, {"fastapi_main.py": uvicorn_app})
    log = app_dir / "uvicorn.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "fastapi_main:app", "--port", str(port)],
            cwd=app_dir,
            env=child_env(),
            stderr=sink,
            stdout=sink,
        )
    try:
        wait_for_port(port, process, timeout=15)
        requests_made(port)
        eventually(lambda: len(access_lines(log.read_text())) >= 4, 5)
    finally:
        stop_process(process)
    assert ours == access_lines(log.read_text())
    assert ours == [
        '"GET /users/7?full=1 HTTP/1.1" 200 OK',
        # The running Python's phrase, as uvicorn's: 3.13 says "Unprocessable Content".
        f'"GET /users/x HTTP/1.1" 422 {HTTPStatus(422).phrase}',
        '"GET /nowhere HTTP/1.1" 404 Not Found',
        '"POST /users/7 HTTP/1.1" 405 Method Not Allowed',
    ]


def test_no_access_log_and_quiet_levels_log_no_requests(app_dir):
    assert ignyx_lines_or_none(app_dir, "--no-access-log") == []
    assert ignyx_lines_or_none(app_dir, "--log-level", "warning") == []


def ignyx_lines_or_none(app_dir: Path, *flags: str) -> list[str]:
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port), *flags], port=port) as server:
        requests_made(port)
        time.sleep(0.5)
        server.stop()
        return access_lines(server.stderr())


def test_json_lines_are_one_object_per_request(app_dir):
    port = free_port()
    args = ["run", "main:app", *local(port), "--access-log-format", "json"]
    with serve(app_dir, args, port=port) as server:
        requests_made(port)

        def objects() -> list[dict]:
            lines = [line for line in server.stderr().splitlines() if line.startswith("{")]
            return [json.loads(line) for line in lines]

        eventually(lambda: len(objects()) >= 4, 5)
    first = objects()[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first.pop("time"))
    assert re.fullmatch(r"127\.0\.0\.1:\d+", first.pop("client"))
    assert first.pop("duration_ms") >= 0
    assert first == {
        "method": "GET",
        "path": "/users/7?full=1",
        "http_version": "1.1",
        "status": 200,
    }
    assert [o["status"] for o in objects()] == [200, 422, 404, 405]


def test_log_config_formats_access_records_with_uvicorns_formatter(app_dir):
    """With ``--log-config``, records go through the ``ignyx.access`` logger with uvicorn's
    message and arguments, so uvicorn's ``AccessFormatter`` (and any handler) works."""
    log_file = app_dir / "access.log"
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": "%(levelname)s %(client_addr)s %(request_line)s %(status_code)s",
                "use_colors": False,
            }
        },
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(log_file),
                "formatter": "access",
            }
        },
        "loggers": {"ignyx.access": {"handlers": ["file"], "level": "INFO", "propagate": False}},
    }
    (app_dir / "logging.json").write_text(json.dumps(config))
    port = free_port()
    args = ["run", "main:app", *local(port), "--log-config", "logging.json"]
    with serve(app_dir, args, port=port) as server:
        requests_made(port)
        eventually(lambda: log_file.exists() and len(log_file.read_text().splitlines()) >= 4, 5)
        assert access_lines(server.stderr()) == []
    first = log_file.read_text().splitlines()[0]
    assert re.fullmatch(r"INFO 127\.0\.0\.1:\d+ GET /users/7\?full=1 HTTP/1\.1 200 OK", first)


def test_no_line_is_lost_under_load_or_at_shutdown(app_dir):
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port)], port=port) as server:

        def get(i: int) -> int:
            return httpx.get(f"http://127.0.0.1:{port}/users/{i}", timeout=10).status_code

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(get, range(300))) == {200}
        # Stopped right after the last request: its line is written before the exit.
        assert server.stop() == 0
    paths = sorted(int(m.group(1)) for m in re.finditer(r'"GET /users/(\d+) HTTP', server.stderr()))
    assert paths == list(range(300))


def test_a_trusted_proxy_s_client_is_the_one_logged(app_dir):
    port = free_port()
    args = ["run", "main:app", *local(port), "--proxy-headers"]
    with serve(app_dir, args, port=port) as server:
        httpx.get(f"http://127.0.0.1:{port}/users/1", headers={"X-Forwarded-For": "203.0.113.7"})
        eventually(lambda: "203.0.113.7:0 - " in server.stderr(), 5)
        assert '203.0.113.7:0 - "GET /users/1 HTTP/1.1" 200 OK' in server.stderr()


def test_workers_log_their_requests(app_dir):
    port = free_port()
    args = ["run", "main:app", *local(port), "--workers", "2"]
    with serve(app_dir, args, port=port) as server:
        for i in range(10):
            assert httpx.get(f"http://127.0.0.1:{port}/users/{i}", timeout=10).status_code == 200
        eventually(lambda: len(access_lines(server.stderr())) >= 10, 5)
        assert len(access_lines(server.stderr())) == 10


def test_a_log_no_one_reads_neither_holds_up_requests_nor_the_stop(app_dir):
    """With stderr a pipe no one reads, the access log's writes block once the pipe is full:
    requests are still answered (lines are dropped instead of waited for), and SIGTERM still
    stops the server, which waits only a moment for the log's last lines."""
    port = free_port()
    process = subprocess.Popen(
        [*SCRIPT, "run", "main:app", *local(port)],
        cwd=app_dir,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process, timeout=15)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            # About 60 bytes a line: far more than a pipe holds (64 KiB).
            statuses = {client.get(f"/users/{i}").status_code for i in range(3000)}
        assert statuses == {200}
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        stop_process(process)
