"""Issue 4, WebSockets: Starlette's API on the Rust engine, through the TestClient and on
the wire with the ``websockets`` package's clients.

Differential tests build the same app with FastAPI's and Ignyx's imports and check that
both TestClients see the same messages and close codes.
"""

import asyncio
import base64
import importlib
import json
import logging
import os
import socket
import struct
import threading
import time
from types import SimpleNamespace
from typing import Any, Callable, Optional

import ignyx
import pytest
import websockets
from conftest import eventually, framework, live_server, recv_until, settled
from ignyx import Depends, Ignyx, Query, WebSocket, WebSocketDisconnect, WebSocketException
from ignyx.testclient import TestClient
from websockets.sync.client import connect as sync_connect


def _threads() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads line")


# --- the app most tests share -----------------------------------------------------------------


def get_token(token: Optional[str] = Query(None)) -> str:
    if token is None:
        raise WebSocketException(code=1008, reason="no token")
    return token


def build_app() -> Ignyx:
    app = Ignyx()
    app.state.events = []

    # The README's example, exactly.
    @app.websocket("/ws")
    async def websocket_endpoint(ws: WebSocket):
        await ws.accept()
        data = await ws.receive_text()
        await ws.send_text(f"Echo: {data}")

    @app.websocket("/bytes")
    async def bytes_echo(ws: WebSocket):
        await ws.accept()
        while True:
            await ws.send_bytes(await ws.receive_bytes())

    @app.websocket("/json")
    async def json_echo(ws: WebSocket, mode: str = "text"):
        await ws.accept()
        data = await ws.receive_json(mode=mode)
        await ws.send_json({"got": data}, mode=mode)

    @app.websocket("/iter")
    async def iter_text(ws: WebSocket):
        await ws.accept()
        received = [text async for text in ws.iter_text()]
        app.state.events.append(("iter", received))

    @app.websocket("/close")
    async def close_with(ws: WebSocket, code: int = 1000, reason: str = ""):
        await ws.accept()
        await ws.close(code=code, reason=reason)

    @app.websocket("/disconnect")
    async def record_disconnect(ws: WebSocket):
        await ws.accept()
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect as exc:
            app.state.events.append(("disconnect", exc.code, exc.reason))

    @app.get("/events")
    def events():
        return [list(e) for e in app.state.events]

    @app.websocket("/items/{item_id}/ws")
    async def item_socket(
        ws: WebSocket, item_id: int, q: Optional[int] = None, token: str = Depends(get_token)
    ):
        await ws.accept()
        await ws.send_json({"item_id": item_id, "q": q, "token": token})
        await ws.close()

    @app.websocket("/about")
    async def about(ws: WebSocket):
        await ws.accept()
        await ws.send_json(
            {
                "url": str(ws.url),
                "path_params": ws.path_params,
                "query": dict(ws.query_params),
                "header": ws.headers.get("x-custom"),
                "cookie": ws.cookies.get("session"),
                "client_host": ws.client.host,
                "scope_type": ws.scope["type"],
            }
        )
        await ws.close()

    @app.websocket("/subprotocols")
    async def choose_subprotocol(ws: WebSocket):
        offered = ws.scope["subprotocols"]
        chosen = "superchat" if "superchat" in offered else None
        await ws.accept(subprotocol=chosen, headers=[(b"x-accepted", b"yes")])
        await ws.send_json(offered)
        await ws.close()

    @app.websocket("/reject")
    async def reject(ws: WebSocket):
        await ws.close(code=1008, reason="go away")

    @app.websocket("/raise-after-accept")
    async def raise_after_accept(ws: WebSocket):
        await ws.accept()
        raise WebSocketException(code=4001, reason="custom")

    @app.websocket("/error-after-accept")
    async def error_after_accept(ws: WebSocket):
        await ws.accept()
        raise RuntimeError("boom")

    @app.websocket("/error-before-accept")
    async def error_before_accept(ws: WebSocket):
        raise RuntimeError("boom before accept")

    @app.websocket("/returns")
    async def returns_without_closing(ws: WebSocket):
        await ws.accept()
        await ws.send_text("bye")

    async def cleanup():
        try:
            yield "resource"
        finally:
            app.state.events.append(("cleanup",))

    @app.websocket("/yield-dependency")
    async def with_yield_dependency(ws: WebSocket, resource: str = Depends(cleanup)):
        await ws.accept()
        await ws.send_text(resource)
        await ws.close()

    @app.websocket("/slow-accept")
    async def slow_accept(ws: WebSocket):
        app.state.events.append(("started",))
        await asyncio.sleep(0.3)
        await ws.accept()
        try:
            await ws.receive_text()
        except WebSocketDisconnect as exc:
            app.state.events.append(("gone", exc.code))

    @app.websocket("/flood")
    async def flood(ws: WebSocket, count: int, size: int):
        await ws.accept()
        for i in range(count):
            await ws.send_bytes(i.to_bytes(4, "big") * (size // 4))
        await ws.close()

    @app.websocket("/slow-reader")
    async def slow_reader(ws: WebSocket, count: int):
        await ws.accept()
        await asyncio.sleep(0.3)  # the client's messages pile up meanwhile
        received = [await ws.receive_text() for _ in range(count)]
        await ws.send_json(received == [str(i) for i in range(count)])

    @app.get("/page")
    def page():
        return {"page": True}

    @app.websocket("/page")
    async def page_socket(ws: WebSocket):
        await ws.accept()
        await ws.send_text("socket")
        await ws.close()

    return app


@pytest.fixture(scope="module")
def app() -> Ignyx:
    return build_app()


@pytest.fixture(scope="module")
def client(app: Ignyx):
    with TestClient(app) as client:
        yield client


@pytest.fixture(autouse=True)
def clear_events(app: Ignyx) -> None:
    app.state.events.clear()


# --- the API, through the TestClient -----------------------------------------------------------


def test_readme_example_echoes_text(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "Echo: hello"


def test_bytes_round_trip(client: TestClient) -> None:
    with client.websocket_connect("/bytes") as ws:
        for payload in (b"\x00\x01\xff", b"", bytes(range(256)) * 400):
            ws.send_bytes(payload)
            assert ws.receive_bytes() == payload


@pytest.mark.parametrize("mode", ["text", "binary"])
def test_json_round_trip(client: TestClient, mode: str) -> None:
    with client.websocket_connect(f"/json?mode={mode}") as ws:
        ws.send_json({"a": [1, 2.5, "é"]}, mode=mode)
        assert ws.receive_json(mode=mode) == {"got": {"a": [1, 2.5, "é"]}}


def test_iter_text_yields_until_the_client_closes(client: TestClient) -> None:
    with client.websocket_connect("/iter") as ws:
        for text in ("a", "b", "c"):
            ws.send_text(text)
    assert eventually(lambda: client.get("/events").json()) == [["iter", ["a", "b", "c"]]]


def test_close_code_and_reason_reach_the_client(client: TestClient) -> None:
    with client.websocket_connect("/close?code=4000&reason=done%20here") as ws:
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert (info.value.code, info.value.reason) == (4000, "done here")


def test_client_close_raises_websocket_disconnect_with_its_code(client: TestClient) -> None:
    with client.websocket_connect("/disconnect") as ws:
        ws.send_text("hi")
        ws.close(code=4321, reason="leaving")
    events = eventually(lambda: client.get("/events").json())
    assert events == [["disconnect", 4321, "leaving"]]


def test_path_query_and_depends_on_websocket_routes(client: TestClient) -> None:
    with client.websocket_connect("/items/42/ws?q=7&token=secret") as ws:
        assert ws.receive_json() == {"item_id": 42, "q": 7, "token": "secret"}


def test_failing_dependency_closes_before_accept_with_its_code(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/items/42/ws"):
            pass
    assert (info.value.code, info.value.reason) == (1008, "no token")


def test_invalid_path_parameter_closes_with_1008(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/items/abc/ws?token=t"):
            pass
    assert info.value.code == 1008


def test_connection_details_match_the_upgrade_request(client: TestClient) -> None:
    client.cookies.set("session", "abc")
    try:
        with client.websocket_connect("/about?x=1", headers={"x-custom": "yes"}) as ws:
            about = ws.receive_json()
    finally:
        client.cookies.clear()
    assert about == {
        "url": "ws://testserver/about?x=1",
        "path_params": {},
        "query": {"x": "1"},
        "header": "yes",
        "cookie": "abc",
        "client_host": "testclient",  # as Starlette's TestClient names its client
        "scope_type": "websocket",
    }


def test_subprotocol_is_negotiated_by_the_handler(client: TestClient) -> None:
    with client.websocket_connect("/subprotocols", subprotocols=["chat", "superchat"]) as ws:
        assert ws.accepted_subprotocol == "superchat"
        assert (b"x-accepted", b"yes") in ws.extra_headers
        assert ws.receive_json() == ["chat", "superchat"]


def test_closing_before_accept_rejects_the_handshake(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/reject"):
            pass
    assert (info.value.code, info.value.reason) == (1008, "go away")


def test_websocket_exception_after_accept_closes_with_its_code(client: TestClient) -> None:
    with client.websocket_connect("/raise-after-accept") as ws:
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert (info.value.code, info.value.reason) == (4001, "custom")


def test_unhandled_error_after_accept_closes_with_1011_and_is_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="ignyx.error"):
        with client.websocket_connect("/error-after-accept") as ws:
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_text()
    assert info.value.code == 1011
    assert any("boom" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_unhandled_error_before_accept_is_a_500(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/error-before-accept"):
            pass
    assert info.value.status_code == 500


class Teapot(Exception):
    pass


def test_exception_handlers_for_websockets_are_by_class_only() -> None:
    """A handler registered for the error's class answers it; status-code handlers, the
    catch-alls and FastAPI's default HTTP handlers answer HTTP requests only, as in
    Starlette."""
    app = Ignyx()

    @app.exception_handler(Teapot)
    async def teapot(websocket: WebSocket, exc: Teapot) -> None:
        await websocket.close(code=4018, reason="teapot")

    @app.exception_handler(Exception)
    def everything(request: Any, exc: Exception) -> Any:
        return ignyx.responses.JSONResponse({"caught": True}, status_code=500)

    @app.exception_handler(404)
    def not_found(request: Any, exc: Exception) -> Any:
        return ignyx.responses.JSONResponse({"caught": True}, status_code=404)

    @app.websocket("/teapot")
    async def raises_teapot(ws: WebSocket):
        await ws.accept()
        raise Teapot()

    @app.websocket("/boom")
    async def raises_boom(ws: WebSocket):
        await ws.accept()
        raise RuntimeError("boom")

    @app.websocket("/missing")
    async def raises_404(ws: WebSocket):
        raise ignyx.HTTPException(404)

    with TestClient(app, raise_server_exceptions=False) as client:
        with client.websocket_connect("/teapot") as ws, pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (4018, "teapot")
        with client.websocket_connect("/boom") as ws, pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 1011
        with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/missing"):
            pass
        assert info.value.status_code == 404


def test_handler_returning_without_close_closes_normally(client: TestClient) -> None:
    with client.websocket_connect("/returns") as ws:
        assert ws.receive_text() == "bye"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert info.value.code == 1000


def test_sends_wait_for_a_slow_client_and_arrive_in_order(client: TestClient) -> None:
    count, size = 64, 64 * 1024  # 4 MiB, far past the engine's write high-water mark
    with client.websocket_connect(f"/flood?count={count}&size={size}") as ws:
        for i in range(count):
            if i % 16 == 0:
                time.sleep(0.02)
            assert ws.receive_bytes() == i.to_bytes(4, "big") * (size // 4)


def test_messages_wait_for_a_slow_handler(client: TestClient) -> None:
    with client.websocket_connect("/slow-reader?count=200") as ws:
        for i in range(200):
            ws.send_text(str(i))
        assert ws.receive_json() is True


def test_client_leaving_before_accept_is_a_disconnect() -> None:
    app = build_app()
    with live_server(app) as server:
        sock, _ = _handshake_request(server.port, "/slow-accept")
        assert eventually(lambda: app.state.events) == [("started",)]
        sock.close()
        assert eventually(lambda: len(app.state.events) > 1)
    assert app.state.events == [("started",), ("gone", 1006)]


def test_yield_dependency_cleanup_runs_after_the_handler(client: TestClient) -> None:
    with client.websocket_connect("/yield-dependency") as ws:
        assert ws.receive_text() == "resource"
    assert eventually(lambda: client.get("/events").json()) == [["cleanup"]]


def test_a_path_serves_both_a_page_and_a_socket(client: TestClient) -> None:
    assert client.get("/page").json() == {"page": True}
    with client.websocket_connect("/page") as ws:
        assert ws.receive_text() == "socket"


def test_upgrade_to_a_path_without_socket_is_answered_over_http(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/nowhere"):
            pass
    assert info.value.status_code == 404
    assert client.get("/ws").status_code == 404  # a socket route is not an HTTP route


def test_routers_carry_websocket_routes_and_their_dependencies() -> None:
    seen = []

    def mark() -> None:
        seen.append("router dependency")

    router = ignyx.APIRouter(prefix="/chat", dependencies=[Depends(mark)])

    @router.websocket("/{room}")
    async def room(ws: WebSocket, room: str):
        await ws.accept()
        await ws.send_text(room)
        await ws.close()

    app = Ignyx()
    app.include_router(router, prefix="/v1")
    with TestClient(app) as client, client.websocket_connect("/v1/chat/lobby") as ws:
        assert ws.receive_text() == "lobby"
    assert seen == ["router dependency"]


def test_dependency_overrides_apply_to_websocket_routes() -> None:
    app = build_app()
    app.dependency_overrides[get_token] = lambda: "overridden"
    with TestClient(app) as client, client.websocket_connect("/items/1/ws") as ws:
        assert ws.receive_json() == {"item_id": 1, "q": None, "token": "overridden"}


# --- side by side with FastAPI's TestClient ----------------------------------------------------


def _module(fw: SimpleNamespace) -> Any:
    return importlib.import_module(fw.name)


def build_shared(fw: SimpleNamespace) -> Any:
    mod = _module(fw)
    app = fw.FastAPI()

    async def token(token: Optional[str] = fw.Query(None)) -> str:
        if token is None:
            raise mod.WebSocketException(code=1008, reason="missing token")
        return token

    @app.websocket("/echo/{name}")
    async def echo(websocket: mod.WebSocket, name: str, token: str = fw.Depends(token)):
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(f"{name}:{token}:{text}")

    @app.websocket("/json")
    async def json_echo(websocket: mod.WebSocket):
        await websocket.accept()
        await websocket.send_json(await websocket.receive_json())
        await websocket.close(code=4002, reason="json done")

    @app.websocket("/count/{n}")
    async def count(websocket: mod.WebSocket, n: int):
        await websocket.accept()
        for i in range(n):
            await websocket.send_bytes(bytes([i]))
        await websocket.close()

    return app


@pytest.fixture(scope="module")
def both(dual: Any) -> Any:
    return dual(build_shared)


def _session(client: Any, url: str, script: Callable[[Any], Any]) -> tuple[str, Any]:
    """Runs `script` on a session; returns what it returned or how the socket was closed."""
    try:
        with client.websocket_connect(url) as ws:
            return ("ok", script(ws))
    except WebSocketDisconnect as exc:
        return ("closed", exc.code, exc.reason)
    except Exception as exc:
        if type(exc).__name__ == "WebSocketDisconnect":  # Starlette's own class
            return ("closed", exc.code, exc.reason)
        raise


def _echo(ws: Any) -> list[str]:
    out = []
    for text in ("one", "two"):
        ws.send_text(text)
        out.append(ws.receive_text())
    return out


def _json(ws: Any) -> list[Any]:
    ws.send_json({"k": [1, None, True]})
    first = ws.receive_json()
    try:
        ws.receive_text()
    except Exception as exc:
        return [first, exc.code, exc.reason]
    return [first]


def _count(ws: Any) -> list[bytes]:
    return [ws.receive_bytes() for _ in range(3)]


@pytest.mark.parametrize(
    ("url", "script"),
    [
        ("/echo/bob?token=t", _echo),
        ("/echo/bob", _echo),
        ("/echo/bob?token", _echo),
        ("/json", _json),
        ("/count/3", _count),
    ],
)
def test_same_as_fastapi(both: Any, url: str, script: Callable[[Any], Any]) -> None:
    theirs = _session(both.fastapi, url, script)
    ours = _session(both.ignyx, url, script)
    assert ours == theirs


# --- on the wire, against a live server ---------------------------------------------------------


def test_readme_example_with_a_real_client() -> None:
    async def talk(port: int) -> str:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.send("from the wire")
            return await ws.recv()

    with live_server(build_app()) as server:
        assert asyncio.run(talk(server.port)) == "Echo: from the wire"


def test_ping_is_answered_with_a_pong() -> None:
    with live_server(build_app()) as server:
        with sync_connect(f"ws://127.0.0.1:{server.port}/bytes", ping_interval=None) as ws:
            pong = ws.ping(b"are you there")
            assert pong.wait(timeout=5)
            ws.send(b"still echoing")
            assert ws.recv(timeout=5) == b"still echoing"


def test_oversized_message_closes_with_1009() -> None:
    app = build_app()
    with live_server(app, ws_max_size=1024) as server:
        url = f"ws://127.0.0.1:{server.port}/disconnect"
        with sync_connect(url, max_size=None) as ws:
            ws.send("x" * 1024)  # at the limit: fine
            ws.send("x" * 1025)
            with pytest.raises(websockets.ConnectionClosedError) as info:
                ws.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        assert eventually(lambda: app.state.events) == [("disconnect", 1009, "")]


def test_server_shutdown_closes_open_sockets_with_1012_and_handlers_hear_it() -> None:
    """As uvicorn does: a socket still open when the server stops gets a close frame with
    1012 (service restart), not a dropped TCP connection (1006), and its handler sees
    WebSocketDisconnect(1012) while the loop still runs."""
    app = build_app()
    with live_server(app) as server:
        with sync_connect(f"ws://127.0.0.1:{server.port}/disconnect") as ws:
            ws.send("hello")
            started = time.monotonic()
            server.shutdown()
            stopped_in = time.monotonic() - started
            with pytest.raises(websockets.ConnectionClosed) as info:
                ws.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1012
    assert app.state.events == [("disconnect", 1012, "")]
    assert stopped_in < 5


def test_keepalive_pings_keep_answering_clients_and_close_silent_ones_with_1011() -> None:
    """As uvicorn's `ws_ping_interval`/`ws_ping_timeout`: the server pings; a client that
    answers (the websockets client does, by itself) stays open, one that never does is
    closed with 1011 after the timeout and its handler hears it."""
    app = build_app()
    with live_server(app, ws_ping_interval=0.1, ws_ping_timeout=0.3) as server:
        with sync_connect(f"ws://127.0.0.1:{server.port}/bytes", ping_interval=None) as ws:
            time.sleep(1.0)  # ten pings, each answered
            ws.send(b"still here")
            assert ws.recv(timeout=5) == b"still here"

        sock, head = _handshake(server.port, "/disconnect")
        assert head.startswith(b"HTTP/1.1 101")
        sock.settimeout(5)
        started = time.monotonic()
        frames = []
        while not frames or frames[-1][0] != 0x88:
            frames.append(_read_frame(sock))
        sock.close()
    assert frames[0] == (0x89, b"")  # a ping, never answered
    assert frames[-1] == (0x88, (1011).to_bytes(2, "big"))
    assert 0.3 < time.monotonic() - started < 3
    assert app.state.events == [("disconnect", 1011, "")]


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """One unmasked server frame: its first byte (FIN and opcode) and its payload."""
    head = _recv_exactly(sock, 2)
    length = head[1] & 0x7F
    assert length < 126
    return head[0], _recv_exactly(sock, length)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def test_rejected_handshake_is_http_403_on_the_wire() -> None:
    with live_server(build_app()) as server:
        with pytest.raises(websockets.InvalidStatus) as info:
            sync_connect(f"ws://127.0.0.1:{server.port}/reject")
    assert info.value.response.status_code == 403


def _handshake(port: int, path: str, **headers: str) -> tuple[socket.socket, bytes]:
    """A WebSocket handshake written by hand; returns the socket and the response head."""
    sock, _ = _handshake_request(port, path, **headers)
    return sock, recv_until(sock, b"\r\n\r\n")


def _handshake_request(port: int, path: str, **headers: str) -> tuple[socket.socket, bytes]:
    """Sends a hand-written upgrade request; returns the socket and what was sent."""
    fields = {
        "Host": "127.0.0.1",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v)
    request = f"GET {path} HTTP/1.1\r\n{head}\r\n".encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(request)
    return sock, request


def _client_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def test_invalid_utf8_closes_with_1007() -> None:
    with live_server(build_app()) as server:
        sock, head = _handshake(server.port, "/bytes")
        with sock:
            assert head.startswith(b"HTTP/1.1 101")
            sock.sendall(_client_frame(0x1, b"\xff\xfe"))
            frame = sock.recv(4096)
    assert frame[0] == 0x88  # FIN + close
    assert struct.unpack("!H", frame[2:4])[0] == 1007


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Sec_WebSocket_Key": ""}, b"400"),
        ({"Connection": "keep-alive"}, b"400"),
        ({"Sec_WebSocket_Version": "8"}, b"426"),
    ],
)
def test_malformed_handshakes_are_refused(headers: dict[str, str], status: bytes) -> None:
    with live_server(build_app()) as server:
        sock, head = _handshake(server.port, "/ws", **headers)
        sock.close()
    assert head.split(b" ")[1] == status


def test_idle_connections_cost_no_threads() -> None:
    count = 200

    async def hold(port: int) -> tuple[int, int, list[str]]:
        before = settled(_threads)
        sockets = [
            await websockets.connect(f"ws://127.0.0.1:{port}/ws", ping_interval=None)
            for _ in range(count)
        ]
        await asyncio.sleep(0.2)
        during = settled(_threads)
        for i, ws in enumerate(sockets):
            await ws.send(str(i))
        replies = [await ws.recv() for ws in sockets]
        for ws in sockets:
            await ws.close()
        return before, during, replies

    with live_server(build_app()) as server:
        before, during, replies = asyncio.run(hold(server.port))
    assert replies == [f"Echo: {i}" for i in range(count)]
    assert during <= before, f"{count} open WebSockets took {during - before} more threads"


def test_idle_test_client_sessions_cost_the_server_no_threads(client: TestClient) -> None:
    def server_threads() -> int:
        # The websockets sync client runs a Python thread per session; the server's are the
        # rest. Threads Python only heard of (a dummy for each foreign thread that once logged
        # or asked for its current thread) are not counted: one can outlive its OS thread.
        python = [t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)]
        return _threads() - len(python)

    before = settled(server_threads)
    sessions = [client.websocket_connect("/ws") for _ in range(200)]
    try:
        during = settled(server_threads)
        for i, ws in enumerate(sessions):
            ws.send_text(str(i))
        assert [ws.receive_text() for ws in sessions] == [f"Echo: {i}" for i in range(200)]
    finally:
        for ws in sessions:
            ws.close()
    assert during <= before, f"200 open sessions took {during - before} more server threads"


def test_shutdown_ends_open_sockets() -> None:
    app = build_app()
    server_ctx = live_server(app, graceful_timeout=5.0)
    server = server_ctx.__enter__()
    with sync_connect(f"ws://127.0.0.1:{server.port}/disconnect") as ws:
        ws.send("hello")
        started = time.monotonic()
        server_ctx.__exit__(None, None, None)
        elapsed = time.monotonic() - started
    assert elapsed < 4.0, f"shutdown waited {elapsed:.1f}s for an idle WebSocket"
    assert app.state.events and app.state.events[0][0] == "disconnect"


def test_json_over_the_wire_is_compact() -> None:
    with live_server(build_app()) as server:
        with sync_connect(f"ws://127.0.0.1:{server.port}/json") as ws:
            ws.send(json.dumps({"a": 1}))
            assert ws.recv(timeout=5) == '{"got":{"a":1}}'


@pytest.mark.parametrize("name", ["fastapi", "ignyx"])
def test_a_denial_response_answers_the_handshake_as_in_starlette(name: str) -> None:
    fw = framework(name)
    app = fw.FastAPI()

    @app.websocket("/ws")
    async def refuse(websocket: fw.WebSocket):
        response = fw.responses.JSONResponse(
            {"detail": "no entry"}, status_code=401, headers={"x-why": "t"}
        )
        await websocket.send_denial_response(response)

    client = fw.TestClient(app)
    with pytest.raises(Exception) as refused:
        with client.websocket_connect("/ws"):
            pass
    assert type(refused.value).__name__ == "WebSocketDenialResponse"
    assert refused.value.status_code == 401
    assert refused.value.json() == {"detail": "no entry"}
    assert refused.value.headers["x-why"] == "t"
