"""Two hosts and a Redis on a third, simulated with network namespaces: the rate limit, the
server-side sessions and the WebSocket broadcast hold across hosts, as they do across the
workers of one host.

The test makes three namespaces joined by a bridge in this one (iproute2's ``ip netns`` and
veth pairs), runs ``redis-server`` in one and ``ignyx run`` in the other two (each with two
workers), and talks to both hosts from here. Where namespaces cannot be made (no
CAP_NET_ADMIN), the test is skipped and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

APP = textwrap.dedent(
    """
    import os

    from ignyx import FastAPI, Request, WebSocket
    from ignyx.broadcast import Broadcast
    from ignyx.middleware.ratelimit import RateLimitMiddleware
    from ignyx.middleware.sessions import SessionMiddleware

    REDIS = os.environ["REDIS_URL"]
    broadcast = Broadcast(REDIS)
    app = FastAPI(on_startup=[broadcast.connect], on_shutdown=[broadcast.disconnect])
    app.add_middleware(SessionMiddleware, secret_key="two hosts", backend=REDIS)
    # Counted per tenant, so that each test has a count of its own.
    app.add_middleware(
        RateLimitMiddleware, limit="10/minute", storage=REDIS, key="header:X-Tenant"
    )


    @app.get("/host")
    def host():
        return {"host": os.environ["HOST_NAME"], "pid": os.getpid()}


    @app.get("/visits")
    def visits(request: Request):
        request.session["visits"] = request.session.get("visits", 0) + 1
        return {"visits": request.session["visits"], "host": os.environ["HOST_NAME"]}


    @app.post("/rooms/{room}")
    async def post(room: str, text: str):
        await broadcast.publish(channel=room, message=f"{os.environ['HOST_NAME']}: {text}")
        return {"sent": text}


    @app.websocket("/rooms/{room}")
    async def listen(websocket: WebSocket, room: str):
        await websocket.accept()
        async with broadcast.subscribe(channel=room) as subscriber:
            await websocket.send_text("subscribed")
            async for event in subscriber:
                await websocket.send_text(event.message)
    """
)


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


@dataclass
class Network:
    """The bridge here and the namespaces on it (`hosts`: name -> address)."""

    prefix: str
    subnet: str
    hosts: dict[str, str]

    def namespace(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def address(self, name: str) -> str:
        return self.hosts[name]

    def exec(self, name: str, *command: str, **kwargs: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            ["ip", "netns", "exec", self.namespace(name), *command], **kwargs
        )


def _make_network(names: list[str]) -> Network:
    tag = f"ig{os.getpid() % 10000}"
    third = 20 + os.getpid() % 200
    subnet = f"10.77.{third}"
    network = Network(tag, subnet, {})
    bridge = f"{tag}br"
    _run("ip", "link", "add", bridge, "type", "bridge")
    _run("ip", "addr", "add", f"{subnet}.1/24", "dev", bridge)
    _run("ip", "link", "set", bridge, "up")
    for number, name in enumerate(names, start=11):
        namespace = network.namespace(name)
        outside, inside = f"{tag}{name}o", f"{tag}{name}i"
        address = f"{subnet}.{number}"
        _run("ip", "netns", "add", namespace)
        _run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        _run("ip", "link", "set", inside, "netns", namespace)
        _run("ip", "netns", "exec", namespace, "ip", "addr", "add", f"{address}/24", "dev", inside)
        _run("ip", "netns", "exec", namespace, "ip", "link", "set", inside, "up")
        _run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        _run("ip", "link", "set", outside, "master", bridge)
        _run("ip", "link", "set", outside, "up")
        network.hosts[name] = address
    return network


def _remove_network(network: Network) -> None:
    for name in network.hosts:
        subprocess.run(["ip", "netns", "del", network.namespace(name)], capture_output=True)
        subprocess.run(["ip", "link", "del", f"{network.prefix}{name}o"], capture_output=True)
    subprocess.run(["ip", "link", "del", f"{network.prefix}br"], capture_output=True)


def _wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1, headers={"X-Tenant": str(uuid.uuid4())})
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Base URLs of the two Ignyx hosts, both on the Redis host's Redis."""
    if not shutil.which("ip"):
        pytest.skip("iproute2's `ip` is not installed")
    probe = subprocess.run(["ip", "netns", "add", f"igprobe{os.getpid()}"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"network namespaces cannot be made here: {probe.stderr.decode().strip()}")
    subprocess.run(["ip", "netns", "del", f"igprobe{os.getpid()}"], capture_output=True)

    directory = tmp_path_factory.mktemp("multihost")
    (directory / "app.py").write_text(APP)
    network = _make_network(["h1", "h2", "redis"])
    processes: list[subprocess.Popen[bytes]] = []
    try:
        redis_address = network.address("redis")
        processes.append(
            network.exec(
                "redis",
                REDIS_SERVER,
                *("--bind", redis_address, "--port", "6379", "--protected-mode", "no"),
                *("--save", "", "--appendonly", "no", "--dir", str(directory)),
                stdout=subprocess.DEVNULL,
            )
        )
        urls = {}
        for name in ("h1", "h2"):
            env = {
                **os.environ,
                "REDIS_URL": f"redis://{redis_address}:6379/0",
                "HOST_NAME": name,
                "PYTHONPATH": str(directory),
            }
            address = network.address(name)
            command = [sys.executable, "-m", "ignyx", "run", "app:app", "--host", address]
            command += ["--port", "8000", "--workers", "2"]
            processes.append(network.exec(name, *command, cwd=directory, env=env))
            urls[name] = f"http://{address}:8000"
        for url, process in zip(urls.values(), processes[1:], strict=True):
            _wait_for(f"{url}/host", process)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        _remove_network(network)


def test_the_two_hosts_are_different_machines(hosts: dict[str, str]) -> None:
    seen = {
        httpx.get(f"{url}/host", headers={"X-Tenant": "who"}).json()["host"]
        for url in hosts.values()
    }
    assert seen == {"h1", "h2"}


def test_a_rate_limit_holds_across_hosts(hosts: dict[str, str]) -> None:
    tenant = {"X-Tenant": f"limited-{uuid.uuid4()}"}
    statuses: dict[str, list[int]] = {"h1": [], "h2": []}
    for i in range(24):
        name = "h1" if i % 2 == 0 else "h2"
        # A fresh connection each time, so that both workers of each host take some.
        response = httpx.get(f"{hosts[name]}/host", headers=tenant)
        statuses[name].append(response.status_code)
    every = statuses["h1"] + statuses["h2"]
    assert every.count(200) == 10, statuses
    assert every.count(429) == 14, statuses
    # Both hosts let some through and refused others: one count, not one per host.
    assert 200 in statuses["h1"] and 200 in statuses["h2"], statuses
    assert 429 in statuses["h1"] and 429 in statuses["h2"], statuses


def test_a_session_written_on_one_host_reads_on_the_other(hosts: dict[str, str]) -> None:
    # The cookie is carried by hand: a browser's jar would keep it to the host that set it
    # (behind one load balancer, both hosts are one site).
    cookie = None
    seen = []
    for i in range(6):
        name = "h1" if i % 2 == 0 else "h2"
        headers = {"X-Tenant": str(uuid.uuid4())}
        if cookie is not None:
            headers["Cookie"] = f"session={cookie}"
        response = httpx.get(f"{hosts[name]}/visits", headers=headers)
        assert response.status_code == 200, response.text
        cookie = response.cookies.get("session", cookie)
        seen.append((response.json()["host"], response.json()["visits"]))
    assert seen == [("h1", 1), ("h2", 2), ("h1", 3), ("h2", 4), ("h1", 5), ("h2", 6)]


def test_a_message_published_on_one_host_reaches_a_websocket_on_the_other(
    hosts: dict[str, str],
) -> None:
    from websockets.sync.client import connect

    room = f"room-{uuid.uuid4().hex[:8]}"
    ws_url = hosts["h2"].replace("http://", "ws://") + f"/rooms/{room}"
    with connect(ws_url, additional_headers={"X-Tenant": str(uuid.uuid4())}) as websocket:
        assert websocket.recv(timeout=10) == "subscribed"
        posted = httpx.post(
            f"{hosts['h1']}/rooms/{room}",
            params={"text": "hello"},
            headers={"X-Tenant": str(uuid.uuid4())},
        )
        assert posted.status_code == 200, posted.text
        assert websocket.recv(timeout=10) == "h1: hello"
