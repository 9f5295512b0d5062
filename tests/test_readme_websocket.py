"""Issue 21, item 7: the WebSocket example of Ignyx's first README runs as written. Its
handler takes the connection in an unannotated parameter (``async def
websocket_handler(ws):``), which FastAPI would read as a required query parameter.

The rule: on a WebSocket route where no parameter is annotated ``WebSocket``, the first
parameter with neither annotation nor default (and not a path parameter) is the
connection; annotated parameters, and every parameter of a route that has a ``WebSocket``
one, are read as FastAPI reads them."""

from pathlib import Path

import pytest
from conftest import live_server
from ignyx.testclient import TestClient
from ignyx.websockets import WebSocketDisconnect
from websockets.sync.client import connect

ORIGINAL_README = Path(__file__).resolve().parents[2] / "shared" / "ORIGINAL_README.md"

# The example under "### WebSockets" in the first README, exactly.
README_EXAMPLE = """\
@app.websocket("/ws")
async def websocket_handler(ws):
    await ws.accept()
    while True:
        data = await ws.receive_text()
        await ws.send_text(f"Echo: {data}")
"""

# What the README's quick start puts before its examples.
QUICK_START_APP = """\
from ignyx import Ignyx

app = Ignyx()
"""


def readme_app():
    namespace: dict = {}
    exec(QUICK_START_APP + "\n" + README_EXAMPLE, namespace)
    return namespace["app"]


def test_the_example_is_the_readmes():
    if not ORIGINAL_README.exists():
        pytest.skip("the original README is not next to this checkout")
    assert "```python\n" + README_EXAMPLE + "```" in ORIGINAL_README.read_text()


def test_the_example_echoes_over_a_real_socket():
    with live_server(readme_app()) as server:
        with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=10) as ws:
            for text in ("hello", "from the wire", "élan"):
                ws.send(text)
                assert ws.recv(timeout=10) == f"Echo: {text}"


def test_the_example_echoes_through_the_testclient():
    with TestClient(readme_app()) as client, client.websocket_connect("/ws") as ws:
        for text in ("hello", "again"):
            ws.send_text(text)
            assert ws.receive_text() == f"Echo: {text}"


def rule_app():
    from ignyx import Ignyx

    app = Ignyx()

    @app.websocket("/rooms/{room}")
    async def room(room, ws, token: str):
        await ws.accept()
        await ws.send_json({"room": room, "token": token})

    return app


def test_the_connection_is_the_first_unannotated_parameter_that_is_not_in_the_path():
    with TestClient(rule_app()) as client:
        with client.websocket_connect("/rooms/lobby?token=t0k") as ws:
            assert ws.receive_json() == {"room": "lobby", "token": "t0k"}
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/rooms/lobby"):
                pass  # pragma: no cover - not reached
        assert refused.value.code == 1008  # the annotated `token` is still a query parameter


def test_with_a_websocket_parameter_an_unannotated_one_is_a_query_parameter(fw):
    app = fw.FastAPI()

    @app.websocket("/annotated")
    async def annotated(websocket: fw.WebSocket, ws):
        await websocket.accept()
        await websocket.send_text(ws)

    with fw.TestClient(app) as client:
        with client.websocket_connect("/annotated?ws=a-query-value") as ws:
            assert ws.receive_text() == "a-query-value"
        with pytest.raises(fw.WebSocketDisconnect) as refused:
            with client.websocket_connect("/annotated"):
                pass  # pragma: no cover - not reached
        assert refused.value.code == 1008
