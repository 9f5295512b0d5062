"""Prometheus metrics as a user runs them: ``ignyx run ... --metrics-port M`` (one worker,
or ``--workers 2`` behind the supervisor) and ``app.run(metrics=M)`` as subprocesses on
127.0.0.1, each scrape of ``GET /metrics`` parsed with prometheus_client's own parser (a
document it cannot parse fails the test), then checked against the requests the test made:
counts by method, route template and status, histograms, gauges, worker labels and restarts.

Every wait is bounded and every process started here is stopped by its PID (`serve`).
Nothing here asserts how fast anything is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import httpx
import pytest
from conftest import eventually, free_port
from ignyx.config import Config
from prometheus_client.parser import text_string_to_metric_families
from test_cli import Served, assert_one_error_line, local, run_cli, serve, write
from websockets.sync.client import connect

APP = """
import asyncio
import os

from ignyx import FastAPI, WebSocket

app = FastAPI()
released = asyncio.Event()


@app.get("/users/{user_id}")
def user(user_id: int):
    return {"user_id": user_id, "pid": os.getpid()}


@app.get("/pid")
def pid():
    return {"pid": os.getpid()}


@app.get("/hold")
async def hold():
    # Answers once /release is called (bounded, so a failed test cannot hang the server).
    await asyncio.wait_for(released.wait(), 10)
    released.clear()
    return {"pid": os.getpid()}


@app.get("/release")
async def release():
    released.set()
    return {"pid": os.getpid()}


@app.websocket("/ws")
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        await websocket.send_text(await websocket.receive_text())
"""

# Every series' labels, beside the `worker` one under a supervisor.
REQUEST_LABELS = ("method", "route", "status")
STANDARD_BUCKETS = {
    "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25",
    "0.5", "0.75", "1", "2.5", "5", "7.5", "10", "+Inf",
}  # fmt: skip


# --- scraping ---------------------------------------------------------------------------------


class Scrape:
    """One parsed metrics document: every sample by its name, with its labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.types: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        # prometheus_client raises ValueError on a line it cannot parse: the test fails.
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples.append((sample.name, dict(sample.labels), sample.value))

    def all(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        """The samples named `name` whose labels include `labels`."""
        return [
            (found, value)
            for sample, found, value in self.samples
            if sample == name and labels.items() <= found.items()
        ]

    def value(self, name: str, **labels: str) -> Optional[float]:
        """The one sample named `name` with `labels` (None when there is none)."""
        found = self.all(name, **labels)
        assert len(found) <= 1, (name, labels, found)
        return found[0][1] if found else None

    def requests(self, **labels: str) -> dict[tuple[str, ...], float]:
        """ignyx_http_requests_total as {(method, route, status): count}, of the samples
        with `labels`."""
        counts: dict[tuple[str, ...], float] = {}
        for found, value in self.all("ignyx_http_requests_total", **labels):
            key = tuple(found[name] for name in REQUEST_LABELS)
            assert key not in counts, f"two samples for {key}:\n{self.text}"
            counts[key] = value
        return counts

    def workers_of(self, name: str) -> set[str]:
        return {found.get("worker", "") for found, _ in self.all(name)}


def scrape(port: int, path: str = "/metrics") -> Scrape:
    response = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape(response.text)


def assert_histograms_are_consistent(metrics: Scrape) -> int:
    """Every series of the duration histogram: standard buckets, cumulative (non-decreasing
    with the bound), +Inf equal to _count, _sum not negative, _count equal to the series'
    request count. Returns how many series there are."""
    name = "ignyx_http_request_duration_seconds"
    assert metrics.types[name] == "histogram"
    series: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
    for labels, value in metrics.all(name + "_bucket"):
        bound = labels.pop("le")
        series.setdefault(tuple(sorted(labels.items())), {})[bound] = value
    counts = metrics.all("ignyx_http_requests_total")
    assert len(series) == len(counts), metrics.text
    for key, buckets in series.items():
        labels = dict(key)
        assert set(buckets) == STANDARD_BUCKETS, key
        ordered = sorted(buckets.items(), key=lambda item: float(item[0]))
        values = [value for _, value in ordered]
        assert values == sorted(values), f"{key}: buckets not cumulative: {ordered}"
        count = metrics.value(name + "_count", **labels)
        assert buckets["+Inf"] == count, key
        assert metrics.value("ignyx_http_requests_total", **labels) == count, key
        total = metrics.value(name + "_sum", **labels)
        assert total is not None and total >= 0, key
    return len(series)


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on, from /proc (its sockets' inodes)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/net/{table}") as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    write(tmp_path, {"main.py": APP})
    return tmp_path


@contextlib.contextmanager
def serve_metrics(app_dir: Path, *flags: str) -> Iterator[tuple[Served, int]]:
    """`ignyx run main:app` on a free port with metrics on another; yields the server and
    the metrics port once both accept connections."""
    port, metrics_port = free_port(), free_port()
    args = ["run", "main:app", *local(port), "--metrics-port", str(metrics_port), *flags]
    with serve(app_dir, args, port=port) as server:
        eventually(lambda: _accepts(metrics_port), 10)
        yield server, metrics_port


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


# --- one worker -------------------------------------------------------------------------------


@needs_proc
def test_requests_are_counted_by_method_route_template_and_status(app_dir):
    """Each answered request is counted once under its method, the template of the route it
    matched (not its path) and its status: /users/1, /users/2 and /users/3 are one series;
    a 422 keeps the route; a 404 and a 405 are `unmatched`; a method outside HTTP's own is
    OTHER. Each series' histogram is cumulative and agrees with the count. The metrics are
    on their own port (GET /metrics only), not on the app's."""
    with serve_metrics(app_dir) as (server, metrics_port):
        assert listening_ports(server.process.pid) == {server.port, metrics_port}
        with server.client(timeout=10) as client:
            for user_id in (1, 2, 3):
                assert client.get(f"/users/{user_id}").status_code == 200
            assert client.get("/users/x").status_code == 422
            assert client.get("/nowhere").status_code == 404
            assert client.request("BREW", "/users/1").status_code == 405
            assert client.post("/users/1").status_code == 405

        metrics = scrape(metrics_port)
        assert metrics.types["ignyx_http_requests"] == "counter"
        assert metrics.requests() == {
            ("GET", "/users/{user_id}", "200"): 3,
            ("GET", "/users/{user_id}", "422"): 1,
            ("GET", "unmatched", "404"): 1,
            ("OTHER", "unmatched", "405"): 1,
            ("POST", "unmatched", "405"): 1,
        }
        # One worker: no `worker` label anywhere.
        assert all("worker" not in labels for _, labels, _ in metrics.samples), metrics.text
        assert assert_histograms_are_consistent(metrics) == 5
        assert metrics.value("ignyx_http_requests_in_progress") == 0
        assert metrics.value("process_resident_memory_bytes") > 0

        # /metrics on the app's port is the app's own 404 (and counted as one).
        response = server.get("/metrics")
        assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
        assert scrape(metrics_port).requests()[("GET", "unmatched", "404")] == 2
        # The metrics port serves /metrics only.
        other = httpx.get(f"http://127.0.0.1:{metrics_port}/other", timeout=10)
        assert other.status_code == 404
        assert "ignyx_" not in other.text


def test_in_progress_and_websocket_gauges_follow_what_is_open(app_dir):
    """ignyx_http_requests_in_progress is 1 while a request waits in an async route and 0
    once it is answered; ignyx_websocket_connections is 1 while a WebSocket is open and 0
    once it is closed; the sync-pool and event-loop gauges are there."""
    with serve_metrics(app_dir) as (server, metrics_port):

        def gauge(name: str) -> Optional[float]:
            return scrape(metrics_port).value(name)

        held: list[httpx.Response] = []
        waiting = threading.Thread(target=lambda: held.append(server.get("/hold")))
        waiting.start()
        try:
            assert eventually(lambda: gauge("ignyx_http_requests_in_progress") == 1, 10)
        finally:
            assert server.get("/release").status_code == 200
            waiting.join(15)
        assert not waiting.is_alive()
        assert held[0].status_code == 200
        assert eventually(lambda: gauge("ignyx_http_requests_in_progress") == 0, 10)

        assert gauge("ignyx_websocket_connections") == 0
        with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=10) as websocket:
            websocket.send("ping")
            assert websocket.recv(timeout=10) == "ping"
            assert eventually(lambda: gauge("ignyx_websocket_connections") == 1, 10)
        assert eventually(lambda: gauge("ignyx_websocket_connections") == 0, 10)

        metrics = scrape(metrics_port)
        # The handshake is not an HTTP request counted (its connection was the gauge).
        assert metrics.all("ignyx_http_requests_total", status="101") == []
        assert metrics.types["ignyx_sync_pool_threads"] == "gauge"
        assert metrics.value("ignyx_sync_pool_threads") >= 1
        assert metrics.types["ignyx_event_loop_lag_seconds"] == "gauge"
        assert metrics.value("ignyx_event_loop_lag_seconds") >= 0
        assert_histograms_are_consistent(metrics)


def test_a_hundred_ids_make_one_series(app_dir):
    """Label values are bounded: 100 requests to 100 different ids are one series of count
    100, and no label carries an id."""
    with serve_metrics(app_dir) as (server, metrics_port):
        with server.client(timeout=10) as client:
            for user_id in range(100):
                assert client.get(f"/users/{user_id}").status_code == 200
        metrics = scrape(metrics_port)
        assert metrics.requests() == {("GET", "/users/{user_id}", "200"): 100}
        assert assert_histograms_are_consistent(metrics) == 1
        labels = {value for _, found, _ in metrics.samples for value in found.values()}
        assert not any(value.startswith("/users/") and value[7:].isdigit() for value in labels)


# --- workers under a supervisor ---------------------------------------------------------------


def test_workers_are_labelled_summed_and_a_replacement_starts_from_zero(app_dir):
    """Under `--workers 2` the supervisor's port merges both workers' documents, each sample
    labelled with its worker's slot: the counts per slot are what each worker answered and
    sum to the requests made; ignyx_workers is 2. A worker killed with SIGKILL is replaced
    in its slot: ignyx_worker_restarts_total becomes 1, ignyx_workers is 2 again, and the
    replacement counts from zero while the other worker's counts are kept."""
    with serve_metrics(app_dir, "--workers", "2") as (server, metrics_port):
        answered: Counter[int] = Counter()

        def batch(size: int = 32) -> None:
            """`size` requests on new connections, 16 at a time, counted by answering pid."""
            with ThreadPoolExecutor(16) as pool:
                responses = list(pool.map(lambda _: server.get("/pid"), range(size)))
            assert all(response.status_code == 200 for response in responses)
            answered.update(response.json()["pid"] for response in responses)

        # Until both workers answered, with different counts (so the slot of each is known).
        def spread() -> bool:
            batch()
            counts = list(answered.values())
            return len(counts) == 2 and counts[0] != counts[1]

        assert eventually(spread, 20), f"requests did not reach both workers: {answered}"
        metrics = scrape(metrics_port)
        per_slot = {
            slot: metrics.requests(worker=slot).get(("GET", "/pid", "200"), 0)
            for slot in ("0", "1")
        }
        assert sorted(per_slot.values()) == sorted(answered.values()), (per_slot, answered)
        assert sum(value for _, value in metrics.all("ignyx_http_requests_total")) == sum(
            answered.values()
        )
        for name in ("ignyx_http_requests_total", "ignyx_sync_pool_threads"):
            assert metrics.workers_of(name) == {"0", "1"}, name
        assert metrics.value("ignyx_workers") == 2
        assert metrics.value("ignyx_worker_restarts_total") == 0
        assert_histograms_are_consistent(metrics)

        slot_of = {
            pid: slot for slot in per_slot for pid in answered if answered[pid] == per_slot[slot]
        }
        victim = min(answered)
        (survivor_pid,) = set(answered) - {victim}
        survivor = slot_of[survivor_pid]
        os.kill(victim, signal.SIGKILL)

        def replaced() -> Optional[Scrape]:
            after = scrape(metrics_port)
            done = (
                after.value("ignyx_worker_restarts_total") == 1
                and after.value("ignyx_workers") == 2
                and after.workers_of("ignyx_sync_pool_threads") == {"0", "1"}
            )
            return after if done else None

        after = eventually(replaced, 15)
        assert after, f"no replacement worker in 15 s:\n{scrape(metrics_port).text}"
        assert after.requests(worker=slot_of[victim]) == {}, after.text
        assert after.requests(worker=survivor) == {("GET", "/pid", "200"): per_slot[survivor]}

        # Both slots answer again: the replacement is a new pid, counted in the victim's slot.
        def replacement_answered() -> bool:
            batch()
            return len(set(answered) - {victim, survivor_pid}) == 1

        assert eventually(replacement_answered, 20), answered
        (replacement,) = set(answered) - {victim, survivor_pid}
        latest = scrape(metrics_port)
        assert latest.requests(worker=slot_of[victim]) == {
            ("GET", "/pid", "200"): answered[replacement]
        }
        assert latest.requests(worker=survivor) == {("GET", "/pid", "200"): answered[survivor_pid]}
        assert latest.value("ignyx_workers") == 2
        assert latest.value("ignyx_worker_restarts_total") == 1


# --- mistakes and the other ways in -----------------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_metrics_port_in_use_is_one_error_line(app_dir, workers):
    """A metrics port something else listens on ends the command at once with exit code 1
    and one line naming the metrics port, without a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics_port = taken.getsockname()[1]
        args = ["run", "main:app", *local(free_port()), "--metrics-port", str(metrics_port)]
        result = run_cli(app_dir, [*args, "--workers", workers])
    line = assert_one_error_line(result)
    assert line.startswith(f"Error: metrics: cannot listen on 127.0.0.1:{metrics_port}: "), line


def test_app_run_takes_metrics_as_a_keyword_argument(app_dir):
    """`app.run(port=P, metrics=M)` in a script serves the app on P and its metrics on M."""
    port, metrics_port = free_port(), free_port()
    script = (
        APP + f"\nif __name__ == '__main__':\n    app.run(port={port}, metrics={metrics_port})\n"
    )
    write(app_dir, {"script.py": script})
    with serve(app_dir, ["script.py"], port=port, launcher=[sys.executable]) as server:
        assert server.get("/users/7").status_code == 200
        assert eventually(lambda: _accepts(metrics_port), 10)
        assert scrape(metrics_port).requests() == {("GET", "/users/{user_id}", "200"): 1}


@needs_proc
def test_without_a_metrics_port_only_the_app_port_listens(app_dir):
    """Metrics are off unless asked for: the setting's default is None, and a server run
    without --metrics-port listens on its own port and no other."""
    assert Config().metrics_port is None
    assert Config.resolve({}).server_options()["metrics_port"] is None
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port)], port=port) as server:
        assert server.get("/users/1").status_code == 200
        assert listening_ports(server.process.pid) == {port}
