"""Supervised workers under load (``ignyx run --workers N`` as a subprocess on 127.0.0.1):
a worker killed with SIGKILL loses only the requests it was answering and is replaced at
once; workers replaced after ``--workers-max-requests`` or ``--workers-max-rss``, and all
of them on ``SIGHUP``, lose nothing; workers that cannot boot stop the server with code 3.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from typing import Callable, Optional

import httpx
import pytest
from conftest import free_port

APP = textwrap.dedent(
    """
    import asyncio
    import os

    from ignyx import FastAPI

    VERSION = {version}
    app = FastAPI()


    @app.get("/pid")
    async def pid():
        return {{"pid": os.getpid(), "version": VERSION}}


    @app.get("/slow")
    async def slow():
        await asyncio.sleep(0.2)
        return {{"pid": os.getpid(), "version": VERSION}}
    """
)


@dataclass
class Outcome:
    started: float
    pid: Optional[int]  # None: the request failed
    version: Optional[int] = None
    error: str = ""


def _write_app(folder, version: int = 1) -> None:
    (folder / "main.py").write_text(APP.format(version=version))


def _start(folder, port: int, *flags: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ignyx",
            "run",
            "main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            # Its stderr is read once it has exited: a line per request would fill the pipe.
            "--no-access-log",
            *flags,
        ],
        cwd=folder,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/pid", timeout=1)
            return process
        except httpx.TransportError:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
    process.kill()
    raise AssertionError("the server did not start")


def _stop(process: subprocess.Popen) -> str:
    """Stops the server with SIGTERM (it must exit 0) and returns what it logged."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.stderr.read()


def _load(
    port: int,
    path: str,
    seconds: float,
    concurrency: int,
    at: float = 0.0,
    action: Optional[Callable[[], None]] = None,
) -> tuple[list[Outcome], float]:
    """`concurrency` clients send requests back to back for `seconds`, on kept-alive
    connections; `action` runs `at` seconds in. Returns every outcome, and when `action` ran
    (relative to the start)."""

    async def main() -> tuple[list[Outcome], float]:
        outcomes: list[Outcome] = []
        start = time.monotonic()
        acted = [0.0]
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=10
        ) as client:

            async def client_loop() -> None:
                while time.monotonic() - start < seconds:
                    began = time.monotonic() - start
                    try:
                        body = (await client.get(path)).json()
                        outcomes.append(Outcome(began, body["pid"], body["version"]))
                    except httpx.HTTPError as exc:
                        outcomes.append(Outcome(began, None, error=repr(exc)))

            async def act() -> None:
                if action is not None:
                    await asyncio.sleep(at)
                    acted[0] = time.monotonic() - start
                    await asyncio.to_thread(action)

            await asyncio.gather(act(), *(client_loop() for _ in range(concurrency)))
        return outcomes, acted[0]

    return asyncio.run(main())


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return {int(child) for child in listing.read().split()}


def test_a_killed_worker_loses_only_its_own_requests_and_is_replaced_at_once(tmp_path):
    _write_app(tmp_path)
    port = free_port()
    process = _start(tmp_path, port, "--workers", "2")
    workers = _children(process.pid)
    victim = httpx.get(f"http://127.0.0.1:{port}/pid").json()["pid"]
    replaced_after: list[float] = []

    def kill() -> None:
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        while time.monotonic() - killed < 5:
            if _children(process.pid) - workers:
                replaced_after.append(time.monotonic() - killed)
                return
            time.sleep(0.01)

    try:
        outcomes, killed_at = _load(port, "/slow", seconds=3.0, concurrency=16, at=1.0, action=kill)
        (replacement,) = _children(process.pid) - workers
        # The replacement answers: new connections reach both workers.
        seen: set[int] = set()
        deadline = time.monotonic() + 10
        while replacement not in seen and time.monotonic() < deadline:
            with httpx.Client() as fresh:
                seen.add(fresh.get(f"http://127.0.0.1:{port}/pid").json()["pid"])
    finally:
        log = _stop(process)
    assert replaced_after and replaced_after[0] < 1.0
    assert replacement in seen
    failed = [o for o in outcomes if o.pid is None]
    # Only requests already sent when the worker died can be lost: at most one per client.
    assert len(failed) <= 16, failed
    assert all(o.started < killed_at + 0.05 for o in failed), failed
    assert all(o.pid != victim for o in outcomes if o.started > killed_at + 0.05)
    assert f"Worker {victim} was killed by SIGKILL; starting another" in log
    assert len(outcomes) - len(failed) > 100


def test_workers_replaced_after_max_requests_lose_nothing(tmp_path):
    _write_app(tmp_path)
    port = free_port()
    process = _start(
        tmp_path,
        port,
        "--workers",
        "2",
        "--workers-max-requests",
        "150",
        "--workers-max-requests-jitter",
        "50",
    )
    try:
        outcomes, _ = _load(port, "/pid", seconds=3.0, concurrency=8)
    finally:
        log = _stop(process)
    failed = [o for o in outcomes if o.pid is None]
    assert failed == []
    pids = {o.pid for o in outcomes}
    assert len(outcomes) > 1000
    assert len(pids) >= 4, pids  # each worker was replaced at least once
    assert "requests; replacing it" in log


def test_sighup_reloads_every_worker_with_new_code_and_loses_nothing(tmp_path):
    _write_app(tmp_path, version=1)
    port = free_port()
    process = _start(tmp_path, port, "--workers", "2")
    before = {httpx.get(f"http://127.0.0.1:{port}/pid").json()["pid"] for _ in range(20)}

    def reload() -> None:
        _write_app(tmp_path, version=2)
        process.send_signal(signal.SIGHUP)

    try:
        outcomes, reloaded_at = _load(
            port, "/slow", seconds=4.0, concurrency=16, at=1.0, action=reload
        )
    finally:
        log = _stop(process)
    assert [o for o in outcomes if o.pid is None] == []
    late = [o for o in outcomes if o.started > reloaded_at + 2.0]
    assert late and {o.version for o in late} == {2}
    assert not {o.pid for o in late} & before
    assert "New workers ready; stopping the old ones" in log


def test_a_worker_over_max_rss_is_replaced_and_nothing_is_lost(tmp_path):
    _write_app(tmp_path)
    port = free_port()
    # Any worker is over 1 MiB: each is replaced about a second after it starts.
    process = _start(tmp_path, port, "--workers-max-rss", "1")
    try:
        outcomes, _ = _load(port, "/pid", seconds=3.0, concurrency=4)
    finally:
        log = _stop(process)
    assert [o for o in outcomes if o.pid is None] == []
    assert len({o.pid for o in outcomes}) >= 2
    assert "grew past 1 MiB; replacing it" in log


@pytest.mark.parametrize("workers", ["1", "2"])
def test_workers_that_cannot_boot_stop_the_server(tmp_path, workers):
    (tmp_path / "main.py").write_text(
        "from ignyx import FastAPI\n\napp = FastAPI()\n\n\n"
        "@app.on_event('startup')\ndef fail():\n    raise RuntimeError('no database')\n"
    )
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "ignyx",
            "run",
            "main:app",
            "--port",
            str(free_port()),
            "--workers",
            workers,
            "--workers-max-requests",
            "10",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert process.returncode == 3
    assert "RuntimeError: no database" in process.stderr
    assert "failed to boot; stopping" in process.stderr


def test_a_reload_whose_new_workers_cannot_boot_keeps_the_running_ones(tmp_path):
    _write_app(tmp_path, version=1)
    port = free_port()
    process = _start(tmp_path, port, "--workers", "2")
    workers = _children(process.pid)
    try:
        (tmp_path / "main.py").write_text("raise RuntimeError('a typo in the new code')\n")
        process.send_signal(signal.SIGHUP)
        time.sleep(3)  # the new workers fail, and are neither kept nor replaced
        assert _children(process.pid) == workers
        for _ in range(10):
            with httpx.Client() as fresh:
                assert fresh.get(f"http://127.0.0.1:{port}/pid").json()["version"] == 1
    finally:
        log = _stop(process)
    assert "New workers failed to boot; keeping the running ones" in log
    assert "starting another" not in log
