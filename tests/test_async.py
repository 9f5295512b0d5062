"""Issue 4: one event loop per worker: async handlers, concurrency, context, streaming."""

import asyncio
import contextvars
import time

import ignyx
import pytest
from ignyx.responses import StreamingResponse
from ignyx.server import Server
from ignyx.testclient import TestClient

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def _threads() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no Threads line")


def make_app() -> ignyx.Ignyx:
    app = ignyx.Ignyx()

    async def set_request_id(x_request_id: str = ignyx.Header("none")):
        request_id.set(x_request_id)

    @app.get("/sleep")
    async def sleep():
        await asyncio.sleep(1)
        return {"slept": True}

    @app.get("/context", dependencies=[ignyx.Depends(set_request_id)])
    async def context():
        await asyncio.sleep(0)
        return {"request_id": request_id.get(), "in_task": asyncio.current_task() is not None}

    @app.get("/context-leak")
    async def context_leak():
        return {"request_id": request_id.get()}

    @app.get("/timeout")
    async def timeout():
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(1)
        except TimeoutError:
            return {"timed_out": True}
        return {"timed_out": False}

    @app.get("/sync-stream")
    def sync_stream():
        def lines():
            for i in range(3):
                yield f"line {i}\n"

        return StreamingResponse(lines(), media_type="text/plain")

    @app.get("/events")
    async def events():
        async def ticks():
            for i in range(3):
                await asyncio.sleep(0.2)
                yield f"data: {i}\n\n".encode()

        return StreamingResponse(ticks(), media_type="text/event-stream")

    @app.get("/same-loop")
    async def same_loop(request: ignyx.Request):
        return {"same": request.app.state.loop is asyncio.get_running_loop()}

    @app.on_event("startup")
    async def remember_loop():
        app.state.loop = asyncio.get_running_loop()

    return app


@pytest.fixture(scope="module")
def client():
    with TestClient(make_app()) as client:
        yield client


def test_contextvar_set_in_dependency_is_seen_by_handler_and_does_not_leak(client):
    response = client.get("/context", headers={"x-request-id": "abc"})
    assert response.json() == {"request_id": "abc", "in_task": True}
    assert client.get("/context-leak").json() == {"request_id": "unset"}


@pytest.mark.skipif(not hasattr(asyncio, "timeout"), reason="asyncio.timeout is 3.11+")
def test_asyncio_timeout_works_inside_handlers(client):
    assert client.get("/timeout").json() == {"timed_out": True}


def test_startup_hooks_and_handlers_share_one_loop(client):
    assert client.get("/same-loop").json() == {"same": True}


def test_streaming_response_from_sync_generator(client):
    response = client.get("/sync-stream")
    assert response.status_code == 200
    assert response.text == "line 0\nline 1\nline 2\n"
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers


def test_server_sent_events_arrive_chunk_by_chunk(client):
    arrivals = []
    start = time.monotonic()
    with client.stream("GET", "/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_bytes():
            arrivals.append((time.monotonic() - start, chunk))
    assert b"".join(c for _, c in arrivals) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    # The first event is received before the last one is produced: nothing is buffered.
    assert arrivals[0][0] < arrivals[-1][0] - 0.2


def test_thousand_concurrent_sleeping_requests_finish_together_on_fixed_threads():
    server = Server(make_app(), "127.0.0.1", 0)
    server.start_in_thread()
    try:

        async def one() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /sleep HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            await writer.drain()
            data = await reader.read()
            writer.close()
            return data

        async def main() -> tuple[float, list[bytes], int]:
            before = _threads()
            start = time.monotonic()
            tasks = [asyncio.ensure_future(one()) for _ in range(1000)]
            await asyncio.sleep(0.5)
            during = _threads()
            results = await asyncio.gather(*tasks)
            return time.monotonic() - start, results, during - before

        elapsed, results, grown = asyncio.run(main())
    finally:
        server.shutdown()
    assert all(r.startswith(b"HTTP/1.1 200 OK") and r.endswith(b'{"slept":true}') for r in results)
    assert elapsed < 3.0
    assert grown <= 2  # no thread per request (the client's own resolver may add one)


def test_client_disconnect_mid_request_leaves_server_serving():
    server = Server(make_app(), "127.0.0.1", 0)
    server.start_in_thread()
    try:

        async def main() -> bytes:
            for _ in range(20):
                _, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n")
                await writer.drain()
                writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /context-leak HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = await reader.read()
            writer.close()
            return data

        data = asyncio.run(main())
    finally:
        server.shutdown()
    assert data.startswith(b"HTTP/1.1 200 OK")
