"""Proxy headers as a user turns them on (``ignyx run --proxy-headers``), over real sockets:
the client's address, scheme and host told by a trusted proxy reach ``request.client``,
``request.url``, redirects and ``url_for``; the same headers from a peer that is not a
trusted proxy (a client connecting from 127.0.0.2) change nothing.
The resolution rules themselves are unit-tested in ``src/http/forwarded.rs``."""

from __future__ import annotations

import asyncio
import json
from typing import Optional

import httpx
import pytest
import websockets
from conftest import free_port
from test_cli import assert_one_error_line, local, run_cli, serve, write

APP = """
from ignyx import FastAPI, Request, WebSocket

app = FastAPI()


@app.get("/who")
def who(request: Request):
    return {
        "client": request.client.host,
        "scheme": request.url.scheme,
        "url": str(request.url),
        "url_for": str(request.url_for("who")),
    }


@app.get("/items/")
def items():
    return []


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_json(
        {"scheme": websocket.url.scheme, "client": websocket.client.host}
    )
    await websocket.close()
"""

FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "api.example.com",
}


@pytest.fixture
def app_dir(tmp_path):
    write(tmp_path, {"main.py": APP})
    return tmp_path


def who(port: int, headers: dict[str, str], source: Optional[str] = None) -> dict:
    """GET /who with `headers`, from the address `source` (127.0.0.1 by default)."""
    transport = httpx.HTTPTransport(local_address=source) if source else None
    with httpx.Client(transport=transport, timeout=10) as client:
        response = client.get(f"http://127.0.0.1:{port}/who", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_trusted_proxy_tells_client_scheme_and_host(app_dir):
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port), "--proxy-headers"], port=port):
        body = who(port, FORWARDED)
        redirect = httpx.get(
            f"http://127.0.0.1:{port}/items", headers=FORWARDED, follow_redirects=False
        )
    assert body == {
        "client": "203.0.113.7",
        "scheme": "https",
        "url": "https://api.example.com/who",
        "url_for": "https://api.example.com/who",
    }
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "https://api.example.com/items/"


def test_a_spoofing_client_that_is_not_a_trusted_proxy_is_ignored(app_dir):
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port), "--proxy-headers"], port=port):
        body = who(port, FORWARDED, source="127.0.0.2")
    assert body["client"] == "127.0.0.2"
    assert body["scheme"] == "http"
    assert body["url"] == f"http://127.0.0.1:{port}/who"


def test_forwarded_allow_ips_takes_networks(app_dir):
    port = free_port()
    args = [
        "run",
        "main:app",
        *local(port),
        "--proxy-headers",
        "--forwarded-allow-ips",
        "127.0.0.0/30",
    ]
    with serve(app_dir, args, port=port):
        assert who(port, FORWARDED, source="127.0.0.2")["client"] == "203.0.113.7"
        assert who(port, FORWARDED, source="127.0.0.5")["client"] == "127.0.0.5"
        # A chain of proxies: the client is the last address not itself a trusted proxy.
        chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 127.0.0.3"}
        assert who(port, chain)["client"] == "203.0.113.9"


def test_star_trusts_every_peer_and_takes_the_first_address(app_dir):
    port = free_port()
    args = ["run", "main:app", *local(port), "--proxy-headers", "--forwarded-allow-ips", "*"]
    with serve(app_dir, args, port=port):
        chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
        assert who(port, chain, source="127.0.0.9")["client"] == "198.51.100.1"


def test_rfc_7239_forwarded_is_honoured(app_dir):
    port = free_port()
    headers = {"Forwarded": 'for="[2001:db8::17]:4711";proto=https;host=shop.example'}
    with serve(app_dir, ["run", "main:app", *local(port), "--proxy-headers"], port=port):
        body = who(port, headers)
    assert body["client"] == "2001:db8::17"
    assert body["url"] == "https://shop.example/who"


def test_x_forwarded_port_names_the_public_port(app_dir):
    port = free_port()
    headers = {**FORWARDED, "X-Forwarded-Port": "8443"}
    with serve(app_dir, ["run", "main:app", *local(port), "--proxy-headers"], port=port):
        assert who(port, headers)["url"] == "https://api.example.com:8443/who"


def test_without_proxy_headers_the_headers_are_only_headers(app_dir):
    port = free_port()
    with serve(app_dir, ["run", "main:app", *local(port)], port=port):
        body = who(port, FORWARDED)
    assert body["client"] == "127.0.0.1"
    assert body["scheme"] == "http"


def test_the_environment_turns_them_on_as_uvicorn_reads_it(app_dir):
    port = free_port()
    env = {"IGNYX_PROXY_HEADERS": "1", "FORWARDED_ALLOW_IPS": "127.0.0.2"}
    with serve(app_dir, ["run", "main:app", *local(port)], port=port, env=env):
        assert who(port, FORWARDED, source="127.0.0.2")["client"] == "203.0.113.7"
        assert who(port, FORWARDED)["client"] == "127.0.0.1"


def test_a_websocket_behind_a_tls_proxy_is_wss(app_dir):
    port = free_port()

    async def talk() -> dict:
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws", additional_headers=headers
        ) as ws:
            return json.loads(await ws.recv())

    with serve(app_dir, ["run", "main:app", *local(port), "--proxy-headers"], port=port):
        assert asyncio.run(talk()) == {"scheme": "wss", "client": "203.0.113.7"}


def test_a_bad_forwarded_allow_ips_ends_with_one_error_line(app_dir):
    args = [
        "run",
        "main:app",
        *local(free_port()),
        "--proxy-headers",
        "--forwarded-allow-ips",
        "gateway",
    ]
    assert_one_error_line(run_cli(app_dir, args), "forwarded_allow_ips", "'gateway'")
